package gatekeeper.sast.findings_test

import data.gatekeeper.sast.findings

# Test data are literals and tests replace input fields (`with input.findings as`), never the
# whole input: regopy 1.5.2 segfaults on `with input as` over rules that call any function.
high := {
	"tool": "semgrep", "rule_id": "python.lang.security.audit.subprocess-shell-true",
	"severity": "high", "message": "shell=True", "path": "app.py", "line": 12,
	"fingerprint": "abc", "ignored": false,
}

test_high_finding_fails if {
	results := findings.deny with input.findings as [high]
	results == {{
		"msg": "python.lang.security.audit.subprocess-shell-true at app.py:12: shell=True",
		"subject": "app.py:12",
		"severity": "high",
		"evidence": {
			"tool": "semgrep",
			"rule_id": "python.lang.security.audit.subprocess-shell-true",
			"path": "app.py",
			"line": 12,
			"fingerprint": "abc",
		},
	}}
}

test_finding_without_line_is_located_by_path if {
	results := findings.deny with input.findings as [object.union(high, {"line": null})]
	some r in results
	r.subject == "app.py"
}

test_ignored_finding_passes if {
	count(findings.deny) == 0 with input.findings as [object.union(high, {"ignored": true})]
}

test_null_ignored_flag_still_fails if {
	count(findings.deny) == 1 with input.findings as [object.union(high, {"ignored": null})]
}

test_low_finding_passes if {
	count(findings.deny) == 0 with input.findings as [object.union(high, {"severity": "low"})]
}

test_threshold_from_data if {
	count(findings.deny) == 1 with input.findings as [object.union(high, {"severity": "medium"})]
		with data.settings as {"sast": {"fail_severity": "medium"}}
}

test_ignored_findings_are_not_counted if {
	results := findings.deny with input.findings as [
		object.union(high, {"fingerprint": "a", "ignored": true}),
		object.union(high, {"fingerprint": "b", "line": 13}),
	]
	count(results) == 1
	some r in results
	r.evidence.fingerprint == "b"
}

test_secrets_are_left_to_gk_sast_003 if {
	count(findings.deny) == 0 with input.findings as [object.union(high, {"category": "secret"})]
}

test_misconfiguration_fails_like_code if {
	count(findings.deny) == 1 with input.findings as [object.union(high, {"category": "misconfiguration", "tool": "trivy"})]
}
