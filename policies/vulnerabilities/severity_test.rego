package gatekeeper.vulnerabilities.severity_test

import data.gatekeeper.vulnerabilities.severity

# Test data are literals and tests replace input fields (`with input.vulnerabilities as`),
# never the whole input: regopy 1.5.2 segfaults on `with input as` over rules that call any
# function (docs/policy-authoring.md).
base := {
	"id": "CVE-1",
	"aliases": ["GHSA-1"],
	"severity": "high",
	"state": "affected",
	"fix_versions": ["2.20.0"],
	"fix_available": true,
	"purl": "pkg:pypi/requests@2.19.1",
	"component_name": "requests",
	"component_version": "2.19.1",
	"scanners": ["grype"],
}

test_high_vulnerability_fails if {
	results := severity.deny with input.vulnerabilities as [base]
	results == {{
		"msg": "CVE-1 (high) affects pkg:pypi/requests@2.19.1: upgrade to 2.20.0",
		"subject": "pkg:pypi/requests@2.19.1",
		"severity": "high",
		"evidence": {
			"vulnerability": "CVE-1",
			"aliases": ["GHSA-1"],
			"state": "affected",
			"fix_versions": ["2.20.0"],
			"scanners": ["grype"],
		},
	}}
}

test_several_fixed_versions_are_all_offered if {
	results := severity.deny with input.vulnerabilities as [object.union(base, {"fix_versions": ["2.20.0", "3.0.1"]})]
	some r in results
	endswith(r.msg, "upgrade to 2.20.0 or 3.0.1")
}

test_medium_below_default_threshold_passes if {
	count(severity.deny) == 0 with input.vulnerabilities as [object.union(base, {"severity": "medium"})]
}

test_critical_above_default_threshold_fails if {
	count(severity.deny) == 1 with input.vulnerabilities as [object.union(base, {"severity": "critical"})]
}

test_vex_not_affected_passes if {
	count(severity.deny) == 0 with input.vulnerabilities as [object.union(base, {"state": "not_affected"})]
}

test_vex_fixed_passes if {
	count(severity.deny) == 0 with input.vulnerabilities as [object.union(base, {"state": "fixed"})]
}

test_under_investigation_still_fails if {
	count(severity.deny) == 1 with input.vulnerabilities as [object.union(base, {"state": "under_investigation"})]
}

test_threshold_from_data if {
	results := severity.deny with input.vulnerabilities as [object.union(base, {"severity": "medium"})]
		with data.settings as {"vulnerabilities": {"fail_severity": "medium"}}
	count(results) == 1
}

test_raised_threshold_from_data_passes_high if {
	count(severity.deny) == 0 with input.vulnerabilities as [base]
		with data.settings as {"vulnerabilities": {"fail_severity": "critical"}}
}

test_fail_only_fixable if {
	unfixable := object.union(base, {"id": "CVE-5", "fix_versions": [], "fix_available": false})
	results := severity.deny with input.vulnerabilities as [unfixable, base]
		with data.settings as {"vulnerabilities": {"fail_only_fixable": true}}
	count(results) == 1
	some r in results
	r.evidence.vulnerability == "CVE-1"
}

test_unfixable_fails_by_default if {
	unfixable := object.union(base, {"id": "CVE-5", "fix_versions": [], "fix_available": false})
	count(severity.deny) == 2 with input.vulnerabilities as [unfixable, base]
}

test_no_fix_message_says_what_to_do if {
	unfixable := object.union(base, {"severity": "critical", "fix_versions": [], "fix_available": false})
	results := severity.deny with input.vulnerabilities as [unfixable]
	some r in results
	r.msg == "CVE-1 (critical) affects pkg:pypi/requests@2.19.1: no fixed version is known yet: assess it and publish VEX, or waive it for a limited time"
}

test_subject_without_purl_is_name_at_version if {
	results := severity.deny with input.vulnerabilities as [object.union(base, {"purl": null})]
	some r in results
	r.subject == "requests@2.19.1"
	r.msg == "CVE-1 (high) affects requests@2.19.1: upgrade to 2.20.0"
}
