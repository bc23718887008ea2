package gatekeeper.release.change_ref_test

import data.gatekeeper.release.change_ref

# Tests replace input fields (`with input.release as`), never the whole input.
release := {"service": "payments-api", "version": "1.4.2", "environment": "production", "change_ref": "CHG-2048"}

test_production_with_change_ref_passes if {
	count(change_ref.deny) == 0 with input.release as object.union(release, {})
}

test_production_without_change_ref_fails if {
	results := change_ref.deny with input.release as object.union(release, {"change_ref": null})
	results == {{
		"msg": "release payments-api 1.4.2 to production has no change reference: set change_ref to the approved change request",
		"subject": "production",
		"evidence": {"environment": "production", "change_ref": null},
	}}
}

test_blank_change_ref_fails if {
	count(change_ref.deny) == 1 with input.release as object.union(release, {"change_ref": "  ", "environment": "Prod"})
}

test_staging_needs_none if {
	count(change_ref.deny) == 0 with input.release as object.union(release, {"change_ref": null, "environment": "staging"})
}

test_no_environment_is_not_judged if {
	count(change_ref.deny) == 0 with input.release as object.union(release, {"change_ref": null, "environment": null})
}

test_environments_from_data if {
	count(change_ref.deny) == 1 with input.release as object.union(release, {"change_ref": null, "environment": "staging"})
		with data.settings as {"release": {"change_ref_environments": ["staging"]}}
}

test_pattern_from_data if {
	count(change_ref.deny) == 0 with input.release as object.union(release, {})
		with data.settings as {"release": {"change_ref_pattern": "^CHG-[0-9]+$"}}
	results := change_ref.deny with input.release as object.union(release, {"change_ref": "see slack"})
		with data.settings as {"release": {"change_ref_pattern": "^CHG-[0-9]+$"}}
	some r in results
	r.msg == "release payments-api 1.4.2 to production has change reference 'see slack', which does not match ^CHG-[0-9]+$"
}
