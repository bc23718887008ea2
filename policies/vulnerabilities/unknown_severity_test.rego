package gatekeeper.vulnerabilities.unknown_severity_test

import data.gatekeeper.vulnerabilities.unknown_severity

# Tests replace input fields (`with input.vulnerabilities as`), never the whole input.
vuln := {
	"id": "CVE-2026-0001", "severity": "unknown", "state": "untriaged",
	"purl": "pkg:npm/lib@1.0", "component_name": "lib",
	"scanners": ["grype"], "sources": ["grype.json"],
}

test_unknown_severity_warns_outside_production if {
	results := unknown_severity.warn with input.vulnerabilities as [vuln] with input.release.environment as "staging"
	results == {{
		"msg": "CVE-2026-0001 on pkg:npm/lib@1.0 has no known severity: severity thresholds cannot judge it; triage it",
		"subject": "pkg:npm/lib@1.0",
		"evidence": {"id": "CVE-2026-0001", "scanners": ["grype"], "sources": ["grype.json"]},
	}}
	count(unknown_severity.deny) == 0 with input.vulnerabilities as [vuln] with input.release.environment as "staging"
}

test_unknown_severity_fails_in_production if {
	count(unknown_severity.deny) == 1 with input.vulnerabilities as [vuln] with input.release.environment as "Production"
	count(unknown_severity.warn) == 0 with input.vulnerabilities as [vuln] with input.release.environment as "Production"
}

test_environments_from_data if {
	count(unknown_severity.deny) == 1 with input.vulnerabilities as [vuln] with input.release.environment as "staging"
		with data.settings as {"vulnerabilities": {"unknown_severity_deny_environments": ["staging"]}}
}

test_no_environment_warns if {
	count(unknown_severity.warn) == 1 with input.vulnerabilities as [vuln] with input.release.environment as null
}

test_known_severity_and_resolved_states_are_quiet if {
	count(unknown_severity.warn) == 0 with input.vulnerabilities as [object.union(vuln, {"severity": "low"})]
	count(unknown_severity.warn) == 0 with input.vulnerabilities as [object.union(vuln, {"state": "not_affected"})]
}

test_without_purl_names_the_component if {
	results := unknown_severity.warn with input.vulnerabilities as [object.union(vuln, {"purl": null})]
	some r in results
	r.subject == "lib"
}
