package gatekeeper.licenses.denylist_test

import data.gatekeeper.licenses.denylist

# Test data are literals and tests replace input fields (`with input.components as`), never
# the whole input: regopy 1.5.2 segfaults on `with input as` over rules that call any function.
component := {"name": "lib", "version": "1.0", "purl": "pkg:npm/lib@1.0", "licenses": []}

gpl3 := {"id": "GPL-3.0-only", "name": null, "expression": null}

mit := {"id": "MIT", "name": null, "expression": null}

expression(text) := {"id": null, "name": null, "expression": text}

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
	count(denylist.deny) == 0 with input.components as [object.union(component, {"licenses": [expression("MIT OR GPL-3.0-only")]})]
}

test_lowercase_or_is_understood if {
	count(denylist.deny) == 0 with input.components as [object.union(component, {"licenses": [expression("MIT or GPL-3.0-only")]})]
}

test_or_expression_with_only_denied_choices_fails if {
	results := denylist.deny with input.components as [object.union(component, {"licenses": [expression("GPL-2.0-only OR AGPL-3.0-only")]})]
	some r in results
	r.evidence.licenses == ["AGPL-3.0-only", "GPL-2.0-only"]
}

test_and_expression_with_denied_part_fails if {
	results := denylist.deny with input.components as [object.union(component, {"licenses": [expression("MIT AND GPL-3.0-only")]})]
	count(results) == 1
	some r in results
	r.evidence.licenses == ["GPL-3.0-only"]
}

test_deny_list_from_data if {
	count(denylist.deny) == 1 with input.components as [object.union(component, {"licenses": [{"id": "MPL-2.0", "name": null, "expression": null}]})]
		with data.settings as {"licenses": {"deny": ["MPL-2.0"]}}
}

test_deny_list_from_data_replaces_the_default if {
	count(denylist.deny) == 0 with input.components as [object.union(component, {"licenses": [gpl3]})]
		with data.settings as {"licenses": {"deny": ["MPL-2.0"]}}
}

test_no_license_is_not_this_policy if {
	count(denylist.deny) == 0 with input.components as [component]
}
