package gatekeeper.sast.secrets_test

import data.gatekeeper.sast.secrets

# Test data are literals and tests replace input fields (`with input.findings as`), never the
# whole input: regopy 1.5.2 segfaults on `with input as` over rules that call any function.
aws_key := {
	"tool": "trivy", "category": "secret", "rule_id": "aws-access-key-id",
	"severity": "critical", "message": "exposed secret: AWS Access Key ID (AWS)",
	"path": "app/config.py", "line": 3, "fingerprint": null, "ignored": false,
}

test_exposed_secret_fails if {
	results := secrets.deny with input.findings as [aws_key]
	results == {{
		"msg": "aws-access-key-id at app/config.py:3: exposed secret: AWS Access Key ID (AWS): rotate the credential and remove it from the code",
		"subject": "app/config.py:3",
		"evidence": {"tool": "trivy", "rule_id": "aws-access-key-id", "severity": "critical", "path": "app/config.py", "line": 3},
	}}
}

test_low_secret_fails_by_default if {
	count(secrets.deny) == 1 with input.findings as [object.union(aws_key, {"severity": "low"})]
}

test_unknown_severity_counts_as_critical if {
	count(secrets.deny) == 1 with input.findings as [object.union(aws_key, {"severity": "unknown"})]
		with data.settings as {"secrets": {"fail_severity": "critical"}}
}

test_threshold_from_data if {
	count(secrets.deny) == 0 with input.findings as [object.union(aws_key, {"severity": "medium"})]
		with data.settings as {"secrets": {"fail_severity": "high"}}
}

test_ignored_secret_passes if {
	count(secrets.deny) == 0 with input.findings as [object.union(aws_key, {"ignored": true})]
}

test_sast_findings_are_not_secrets if {
	count(secrets.deny) == 0 with input.findings as [object.union(aws_key, {"category": "sast"})]
}
