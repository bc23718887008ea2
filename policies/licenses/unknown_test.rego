package gatekeeper.licenses.unknown_test

import data.gatekeeper.licenses.unknown

# Tests replace input fields (`with input.components as`), never the whole input.
component := {"name": "lib", "version": "1.0", "purl": "pkg:npm/lib@1.0", "type": "library", "licenses": [], "source": "sbom.json"}

mit := {"id": "MIT", "name": null, "expression": null, "choices": [{"ids": ["MIT"], "exceptions": {}}], "expression_error": null}

test_missing_license_warns if {
	results := unknown.warn with input.components as [component]
	results == {{
		"msg": "pkg:npm/lib@1.0 has no license information: license policies cannot judge it",
		"subject": "pkg:npm/lib@1.0",
		"evidence": {"license_names": [], "source": "sbom.json"},
	}}
	count(unknown.deny) == 0 with input.components as [component]
}

test_name_only_license_warns if {
	results := unknown.warn with input.components as [object.union(component, {"licenses": [{"id": null, "name": "Proprietary EULA", "expression": null, "choices": [], "expression_error": null}]})]
	some r in results
	r.msg == "pkg:npm/lib@1.0 names its license only as 'Proprietary EULA', not as an SPDX id or valid expression: license policies cannot judge it"
}

test_noassertion_warns if {
	count(unknown.warn) == 1 with input.components as [object.union(component, {"licenses": [{"id": null, "name": null, "expression": "NOASSERTION", "choices": [{"ids": ["NOASSERTION"], "exceptions": {}}], "expression_error": null}]})]
}

test_unparseable_expression_warns_and_says_so if {
	lic := {"id": null, "name": null, "expression": "MIT OR", "choices": [{"ids": ["MIT"], "exceptions": {}}], "expression_error": "not a valid SPDX expression"}
	results := unknown.warn with input.components as [object.union(component, {"licenses": [lic]})]
	some r in results
	r.evidence.license_names == ["MIT OR"]
}

test_spdx_id_or_expression_passes if {
	count(unknown.warn) == 0 with input.components as [
		object.union(component, {"licenses": [mit]}),
		object.union(component, {"licenses": [{"id": null, "name": null, "expression": "MIT OR Apache-2.0", "choices": [{"ids": ["MIT"], "exceptions": {}}, {"ids": ["Apache-2.0"], "exceptions": {}}], "expression_error": null}]}),
		object.union(component, {"licenses": [{"id": null, "name": "x", "expression": null, "choices": [], "expression_error": null}, mit]}),
	]
}

test_files_are_not_judged if {
	count(unknown.warn) == 0 with input.components as [object.union(component, {"type": "file"})]
}

test_fail_on_unknown_from_data if {
	count(unknown.deny) == 1 with input.components as [component]
		with data.settings as {"licenses": {"fail_on_unknown": true}}
	count(unknown.warn) == 0 with input.components as [component]
		with data.settings as {"licenses": {"fail_on_unknown": true}}
}
