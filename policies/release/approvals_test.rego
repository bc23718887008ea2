package gatekeeper.release.approvals_test

import data.gatekeeper.release.approvals

# Tests replace input fields (`with input.release as`), never the whole input.
release := {"service": "payments-api", "version": "1.4.2", "environment": "production", "approvals": []}

dana := {"by": "dana.lee", "role": "tech-lead", "at": null}

sam := {"by": "sam.ortiz", "role": "sre", "at": null}

test_production_needs_two if {
	results := approvals.deny with input.release as object.union(release, {"approvals": [dana]})
	results == {{
		"msg": "release payments-api 1.4.2 to production needs 2 approvals by distinct people, has 1 (dana.lee)",
		"subject": "production",
		"evidence": {"environment": "production", "required": 2, "approvers": ["dana.lee"]},
	}}
	count(approvals.deny) == 0 with input.release as object.union(release, {"approvals": [dana, sam]})
}

test_same_person_twice_counts_once if {
	count(approvals.deny) == 1 with input.release as object.union(release, {"approvals": [dana, {"by": " Dana.Lee ", "role": null, "at": null}]})
}

test_no_approvals_says_none if {
	results := approvals.deny with input.release as object.union(release, {"environment": "staging"})
	some r in results
	r.msg == "release payments-api 1.4.2 to staging needs 1 approvals by distinct people, has 0 (none)"
}

test_dev_needs_none if {
	count(approvals.deny) == 0 with input.release as object.union(release, {"environment": "dev"})
}

test_requirements_from_data if {
	count(approvals.deny) == 1 with input.release as object.union(release, {"environment": "dev"})
		with data.settings as {"release": {"required_approvals": {"dev": 1}}}
	count(approvals.deny) == 0 with input.release as object.union(release, {})
		with data.settings as {"release": {"required_approvals": {"dev": 1}}}
}
