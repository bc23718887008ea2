package gatekeeper.licenses.allowlist_test

import data.gatekeeper.licenses.allowlist

# Tests replace input fields (`with input.components as`), never the whole input.
component := {"name": "lib", "version": "1.0", "purl": "pkg:npm/lib@1.0", "licenses": []}

settings := {"licenses": {"allow": ["MIT", "Apache-2.0", "BSD-3-Clause", "GPL-2.0-only WITH Classpath-exception-2.0"]}}

with_license(license) := object.union(component, {"licenses": [license]})

# Licenses as the readers give them: each with its choices (an SPDX expression in
# disjunctive normal form, parsed by the license-expression library in the reader).
id(text) := {"id": text, "name": null, "expression": null, "choices": [{"ids": [text], "exceptions": {}}], "expression_error": null}

expression(text, choices) := {"id": null, "name": null, "expression": text, "choices": [{"ids": ids, "exceptions": {}} | some ids in choices], "expression_error": null}

# `with data.settings as` takes a local copy: regopy 1.5.2 does not apply a rule reference there.
denied(license) := results if {
	allow := settings
	results := allowlist.deny with input.components as [with_license(license)] with data.settings as allow
}

test_allowed_id_passes if {
	count(denied(id("MIT"))) == 0
}

test_other_id_fails if {
	denied(id("MPL-2.0")) == {{
		"msg": "pkg:npm/lib@1.0 is licensed under MPL-2.0, which the license allow-list does not permit: choose a component under an allowed license",
		"subject": "pkg:npm/lib@1.0",
		"evidence": {"licenses": ["MPL-2.0"], "allowed": ["Apache-2.0", "BSD-3-Clause", "GPL-2.0-only WITH Classpath-exception-2.0", "MIT"]},
	}}
}

test_off_when_no_allow_list if {
	count(allowlist.deny) == 0 with input.components as [with_license(id("MPL-2.0"))]
}

test_or_needs_one_allowed_choice if {
	count(denied(expression("MPL-2.0 OR MIT", [["MPL-2.0"], ["MIT"]]))) == 0
	count(denied(expression("MPL-2.0 OR GPL-3.0-only", [["MPL-2.0"], ["GPL-3.0-only"]]))) == 1
}

test_and_needs_every_id_of_a_choice_allowed if {
	count(denied(expression("MIT AND Apache-2.0", [["Apache-2.0", "MIT"]]))) == 0
	count(denied(expression("MIT AND MPL-2.0", [["MIT", "MPL-2.0"]]))) == 1

	# (MIT OR MPL-2.0) AND Apache-2.0
	count(denied(expression("(MIT OR MPL-2.0) AND Apache-2.0", [["Apache-2.0", "MIT"], ["Apache-2.0", "MPL-2.0"]]))) == 0
}

test_unparseable_expression_fails_closed if {
	lic := {"id": null, "name": null, "expression": "MIT OR", "choices": [{"ids": ["MIT"], "exceptions": {}}], "expression_error": "not a valid SPDX expression"}
	count(denied(lic)) == 1
}

with_exception(license, exception) := {"id": null, "name": null, "expression": concat(" WITH ", [license, exception]), "choices": [{"ids": [license], "exceptions": {license: exception}}], "expression_error": null}

test_with_exception_needs_the_license_or_the_pair if {
	count(denied(with_exception("GPL-2.0-only", "Classpath-exception-2.0"))) == 0
	count(denied(with_exception("GPL-2.0-only", "LLVM-exception"))) == 1
	count(denied(with_exception("Apache-2.0", "LLVM-exception"))) == 0
}

test_any_license_entry_may_be_chosen if {
	allow := settings
	count(allowlist.deny) == 0 with input.components as [object.union(component, {"licenses": [id("MPL-2.0"), id("MIT")]})]
		with data.settings as allow
}

test_name_only_license_is_not_allowed if {
	results := denied({"id": null, "name": "Custom EULA", "expression": null, "choices": [], "expression_error": null})
	some r in results
	r.evidence.licenses == ["Custom EULA"]
}

test_components_without_licenses_are_left_to_gk_lic_003 if {
	allow := settings
	count(allowlist.deny) == 0 with input.components as [component] with data.settings as allow
}

test_subject_without_purl_is_name_at_version if {
	allow := settings
	results := allowlist.deny with input.components as [object.union(with_license(id("MPL-2.0")), {"purl": null})]
		with data.settings as allow
	some r in results
	r.subject == "lib@1.0"
}
