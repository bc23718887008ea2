package gatekeeper.vulnerabilities.untriaged_test

import data.gatekeeper.vulnerabilities.untriaged

# Tests replace input fields (`with input.vulnerabilities as`), never the whole input.
critical := {
	"id": "CVE-2024-1",
	"aliases": [],
	"severity": "critical",
	"state": "untriaged",
	"fix_versions": [],
	"fix_available": false,
	"purl": "pkg:npm/left-pad@1.0.0",
	"component_name": "left-pad",
	"component_version": "1.0.0",
	"scanners": ["trivy"],
}

test_untriaged_critical_fails if {
	results := untriaged.deny with input.vulnerabilities as [critical]
	results == {{
		"msg": "CVE-2024-1 (critical) on pkg:npm/left-pad@1.0.0 has not been triaged (1 awaiting triage at or above critical: 1 untriaged, 0 under investigation): publish a VEX decision",
		"subject": "pkg:npm/left-pad@1.0.0",
		"evidence": {
			"vulnerability": "CVE-2024-1",
			"severity": "critical",
			"state": "untriaged",
			"untriaged": 1,
			"under_investigation": 0,
		},
	}}
}

test_counts_untriaged_and_under_investigation_separately if {
	results := untriaged.deny with input.vulnerabilities as [
		critical,
		object.union(critical, {"id": "CVE-2024-2"}),
		object.union(critical, {"id": "CVE-2024-3", "state": "under_investigation"}),
	]
	count(results) == 3
	some r in results
	r.evidence.vulnerability == "CVE-2024-3"
	r.msg == "CVE-2024-3 (critical) on pkg:npm/left-pad@1.0.0 is still under investigation (3 awaiting triage at or above critical: 2 untriaged, 1 under investigation): publish a VEX decision"
}

test_triaged_affected_passes if {
	count(untriaged.deny) == 0 with input.vulnerabilities as [object.union(critical, {"state": "affected"})]
}

test_triaged_not_affected_passes if {
	count(untriaged.deny) == 0 with input.vulnerabilities as [object.union(critical, {"state": "not_affected"})]
}

test_high_below_default_threshold_passes if {
	count(untriaged.deny) == 0 with input.vulnerabilities as [object.union(critical, {"severity": "high"})]
}

test_threshold_from_data if {
	count(untriaged.deny) == 1 with input.vulnerabilities as [object.union(critical, {"severity": "high"})]
		with data.settings as {"vulnerabilities": {"untriaged_max_severity": "high"}}
}
