package gatekeeper.licenses.allowlist_test

import data.gatekeeper.licenses.allowlist

# Tests replace input fields (`with input.components as`), never the whole input.
component := {"name": "lib", "version": "1.0", "purl": "pkg:npm/lib@1.0", "licenses": []}

settings := {"licenses": {"allow": ["MIT", "Apache-2.0", "BSD-3-Clause", "GPL-2.0-only WITH Classpath-exception-2.0"]}}

with_license(license) := object.union(component, {"licenses": [license]})

id(text) := {"id": text, "name": null, "expression": null}

expression(text) := {"id": null, "name": null, "expression": text}

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

test_or_needs_one_allowed_side if {
	count(denied(expression("MPL-2.0 OR MIT"))) == 0
	count(denied(expression("MPL-2.0 OR GPL-3.0-only"))) == 1
}

test_and_needs_every_part_allowed if {
	count(denied(expression("MIT AND Apache-2.0"))) == 0
	count(denied(expression("MIT AND MPL-2.0"))) == 1
}

test_and_binds_tighter_than_or if {
	# MIT OR (MPL-2.0 AND Apache-2.0): MIT can be chosen.
	count(denied(expression("MIT OR MPL-2.0 AND Apache-2.0"))) == 0

	# (MPL-2.0 AND MIT) OR GPL-3.0-only: neither side is allowed.
	count(denied(expression("MPL-2.0 AND MIT OR GPL-3.0-only"))) == 1
}

test_parentheses_group if {
	count(denied(expression("(MIT OR MPL-2.0) AND Apache-2.0"))) == 0
	count(denied(expression("(MPL-2.0 OR GPL-3.0-only) AND MIT"))) == 1
	count(denied(expression("MIT AND (MPL-2.0 OR (Apache-2.0 AND BSD-3-Clause))"))) == 0
	count(denied(expression("MIT AND (MPL-2.0 OR (Apache-2.0 AND GPL-3.0-only))"))) == 1
}

test_parentheses_without_spaces_and_lowercase_operators if {
	count(denied(expression("(MIT or MPL-2.0)and(Apache-2.0)"))) == 0
}

test_malformed_expressions_fail_closed if {
	count(denied(expression("MIT OR"))) == 1
	count(denied(expression("(MIT"))) == 1
	count(denied(expression("MIT)"))) == 1
	count(denied(expression("()"))) == 1
}

test_with_exception_needs_the_license_or_the_pair if {
	count(denied(expression("GPL-2.0-only WITH Classpath-exception-2.0"))) == 0
	count(denied(expression("GPL-2.0-only WITH LLVM-exception"))) == 1
	count(denied(expression("Apache-2.0 WITH LLVM-exception"))) == 0
}

test_any_license_entry_may_be_chosen if {
	allow := settings
	count(allowlist.deny) == 0 with input.components as [object.union(component, {"licenses": [id("MPL-2.0"), id("MIT")]})]
		with data.settings as allow
}

test_name_only_license_is_not_allowed if {
	results := denied({"id": null, "name": "Custom EULA", "expression": null})
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
