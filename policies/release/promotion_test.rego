package gatekeeper.release.promotion_test

import data.gatekeeper.release.promotion

# Tests replace input fields (`with input.release as`), never the whole input.
release := {"service": "payments-api", "version": "1.4.2", "environment": "production", "promoted_from": ["dev", "staging"]}

test_promoted_in_order_passes if {
	count(promotion.deny) == 0 with input.release as object.union(release, {})
}

test_skipping_staging_fails if {
	results := promotion.deny with input.release as object.union(release, {"promoted_from": ["dev"]})
	results == {{
		"msg": "release payments-api 1.4.2 goes to production without having passed staging: promote it through dev -> staging -> production",
		"subject": "production",
		"evidence": {"environment": "production", "requires": "staging", "promoted_from": ["dev"]},
	}}
}

test_first_environment_needs_nothing if {
	count(promotion.deny) == 0 with input.release as object.union(release, {"environment": "dev", "promoted_from": []})
}

test_unknown_environment_is_not_judged if {
	count(promotion.deny) == 0 with input.release as object.union(release, {"environment": "sandbox", "promoted_from": []})
	count(promotion.deny) == 0 with input.release as object.union(release, {"environment": null, "promoted_from": []})
}

test_case_insensitive if {
	count(promotion.deny) == 0 with input.release as object.union(release, {"environment": "Production", "promoted_from": ["Staging"]})
}

test_order_from_data if {
	count(promotion.deny) == 1 with input.release as object.union(release, {})
		with data.settings as {"release": {"promotion_order": ["dev", "staging", "canary", "production"]}}
}
