package gatekeeper.sast.ignored_test

import data.gatekeeper.sast.ignored

# Tests replace input fields (`with input.findings as`), never the whole input.
suppressed := {
	"tool": "semgrep", "rule_id": "python.lang.security.audit.formatted-sql-query",
	"severity": "high", "message": "SQL built with string formatting", "path": "export.py",
	"line": 17, "fingerprint": "f1", "ignored": true,
}

test_suppressed_serious_finding_warns if {
	results := ignored.warn with input.findings as [suppressed]
	results == {{
		"msg": "python.lang.security.audit.formatted-sql-query (high) at export.py:17 is suppressed in the code: not counted, shown for review",
		"subject": "export.py:17",
		"evidence": {
			"tool": "semgrep",
			"rule_id": "python.lang.security.audit.formatted-sql-query",
			"severity": "high",
			"path": "export.py",
			"line": 17,
			"fingerprint": "f1",
		},
	}}
}

test_not_suppressed_finding_is_not_listed if {
	count(ignored.warn) == 0 with input.findings as [object.union(suppressed, {"ignored": false})]
	count(ignored.warn) == 0 with input.findings as [object.union(suppressed, {"ignored": null})]
}

test_minor_suppressed_finding_is_not_listed if {
	count(ignored.warn) == 0 with input.findings as [object.union(suppressed, {"severity": "medium"})]
}

test_follows_the_sast_threshold if {
	count(ignored.warn) == 1 with input.findings as [object.union(suppressed, {"severity": "medium"})]
		with data.settings as {"sast": {"fail_severity": "medium"}}
}
