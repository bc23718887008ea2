package gatekeeper.licenses.denylist_test

import data.gatekeeper.licenses.denylist

# Test data are literals and tests replace input fields (`with input.components as`), never
# the whole input: regopy 1.5.2 segfaults on `with input as` over rules that call any function.
component := {"name": "lib", "version": "1.0", "purl": "pkg:npm/lib@1.0", "licenses": []}

# Licenses as the readers give them: every id or SPDX expression with its choices (the
# expression in disjunctive normal form, parsed by the license-expression library).
gpl3 := {"id": "GPL-3.0-only", "name": null, "expression": null, "choices": [{"ids": ["GPL-3.0-only"], "exceptions": {}}], "expression_error": null}

mit := {"id": "MIT", "name": null, "expression": null, "choices": [{"ids": ["MIT"], "exceptions": {}}], "expression_error": null}

expression(text, choices) := {"id": null, "name": null, "expression": text, "choices": [{"ids": ids, "exceptions": {}} | some ids in choices], "expression_error": null}

test_gpl_component_denied if {
	results := denylist.deny with input.components as [object.union(component, {"licenses": [gpl3]})]
	results == {{
		"msg": "pkg:npm/lib@1.0 is licensed under GPL-3.0-only, which is on the deny-list: choose a component under an allowed license",
		"subject": "pkg:npm/lib@1.0",
		"evidence": {"licenses": ["GPL-3.0-only"]},
	}}
}

test_subject_without_purl_is_name_at_version if {
	results := denylist.deny with input.components as [object.union(component, {"purl": null, "licenses": [gpl3]})]
	some r in results
	r.subject == "lib@1.0"
	startswith(r.msg, "lib@1.0 is licensed under GPL-3.0-only,")
}

test_mit_allowed if {
	count(denylist.deny) == 0 with input.components as [object.union(component, {"licenses": [mit]})]
}

test_two_license_entries_are_a_choice if {
	count(denylist.deny) == 0 with input.components as [object.union(component, {"licenses": [gpl3, mit]})]
}

test_or_expression_with_allowed_choice_passes if {
	count(denylist.deny) == 0 with input.components as [object.union(component, {"licenses": [expression("MIT OR GPL-3.0-only", [["MIT"], ["GPL-3.0-only"]])]})]
}

test_and_inside_parentheses_is_denied if {
	# GPL-3.0-only AND (MIT OR Apache-2.0): GPL applies whichever side is chosen.
	lic := expression("GPL-3.0-only AND (MIT OR Apache-2.0)", [["GPL-3.0-only", "MIT"], ["Apache-2.0", "GPL-3.0-only"]])
	results := denylist.deny with input.components as [object.union(component, {"licenses": [lic]})]
	some r in results
	r.evidence.licenses == ["GPL-3.0-only"]
}

test_with_exception_still_names_the_denied_license if {
	lic := {"id": null, "name": null, "expression": "AGPL-3.0-only WITH Autoconf-exception-3.0", "choices": [{"ids": ["AGPL-3.0-only"], "exceptions": {"AGPL-3.0-only": "Autoconf-exception-3.0"}}], "expression_error": null}
	count(denylist.deny) == 1 with input.components as [object.union(component, {"licenses": [lic]})]
}

test_unparseable_expression_with_a_denied_id_is_denied if {
	lic := {"id": null, "name": null, "expression": "GPL-3.0-only AND (", "choices": [{"ids": ["GPL-3.0-only"], "exceptions": {}}], "expression_error": "not a valid SPDX expression"}
	count(denylist.deny) == 1 with input.components as [object.union(component, {"licenses": [lic]})]
}

test_denied_entry_with_an_allowed_alternative_entry_passes if {
	lic := expression("MIT AND GPL-3.0-only", [["GPL-3.0-only", "MIT"]])
	count(denylist.deny) == 0 with input.components as [object.union(component, {"licenses": [lic, mit]})]
}

test_or_expression_with_only_denied_choices_fails if {
	results := denylist.deny with input.components as [object.union(component, {"licenses": [expression("GPL-2.0-only OR AGPL-3.0-only", [["GPL-2.0-only"], ["AGPL-3.0-only"]])]})]
	some r in results
	r.evidence.licenses == ["AGPL-3.0-only", "GPL-2.0-only"]
}

test_and_expression_with_denied_part_fails if {
	results := denylist.deny with input.components as [object.union(component, {"licenses": [expression("MIT AND GPL-3.0-only", [["GPL-3.0-only", "MIT"]])]})]
	count(results) == 1
	some r in results
	r.evidence.licenses == ["GPL-3.0-only"]
}

test_deny_list_from_data if {
	count(denylist.deny) == 1 with input.components as [object.union(component, {"licenses": [{"id": "MPL-2.0", "name": null, "expression": null, "choices": [{"ids": ["MPL-2.0"], "exceptions": {}}]}]})]
		with data.settings as {"licenses": {"deny": ["MPL-2.0"]}}
}

test_deny_list_from_data_replaces_the_default if {
	count(denylist.deny) == 0 with input.components as [object.union(component, {"licenses": [gpl3]})]
		with data.settings as {"licenses": {"deny": ["MPL-2.0"]}}
}

test_no_license_is_not_this_policy if {
	count(denylist.deny) == 0 with input.components as [component]
}
