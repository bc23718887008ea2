package gatekeeper.licenses.unknown_test

import data.gatekeeper.licenses.unknown

# Tests replace input fields (`with input.components as`), never the whole input.
component := {"name": "lib", "version": "1.0", "purl": "pkg:npm/lib@1.0", "type": "library", "licenses": [], "source": "sbom.json"}

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
	results := unknown.warn with input.components as [object.union(component, {"licenses": [{"id": null, "name": "Proprietary EULA", "expression": null}]})]
	some r in results
	r.msg == "pkg:npm/lib@1.0 names its license only as 'Proprietary EULA', not as an SPDX id: license policies cannot judge it"
}

test_noassertion_warns if {
	count(unknown.warn) == 1 with input.components as [object.union(component, {"licenses": [{"id": null, "name": null, "expression": "NOASSERTION"}]})]
}

test_spdx_id_or_expression_passes if {
	count(unknown.warn) == 0 with input.components as [
		object.union(component, {"licenses": [{"id": "MIT", "name": null, "expression": null}]}),
		object.union(component, {"licenses": [{"id": null, "name": null, "expression": "MIT OR Apache-2.0"}]}),
		object.union(component, {"licenses": [{"id": null, "name": "x", "expression": null}, {"id": "MIT", "name": null, "expression": null}]}),
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
