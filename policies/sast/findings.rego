# METADATA
# title: No static-analysis findings at or above the severity threshold
# description: >-
#   Fails on SAST findings (SARIF from any tool, semgrep JSON) and IaC misconfigurations
#   (Trivy) at or above
#   `settings.sast.fail_severity` (default `high`). Findings the tool itself marks as ignored
#   or suppressed (e.g. `nosemgrep`) do not fail the gate; they stay visible in the evidence.
# custom:
#   id: GK-SAST-001
#   severity: high
#   requires: [sast]
#   controls: [PW.7.2, PW.8.2]
#   remediation: >-
#     Fix the code at the reported location; if the finding is a false positive, suppress it
#     in the tool with a justification (e.g. `# nosemgrep: rule-id`) so the decision is visible
#     in code review.
package gatekeeper.sast.findings

import data.gatekeeper.lib

threshold := object.get(lib.settings, ["sast", "fail_severity"], "high")

deny contains result if {
	some finding in input.findings

	# Only an explicit `true` exempts a finding: `not finding.ignored` would also exempt a
	# finding whose flag is null, since null is not false in Rego.
	not finding.ignored == true

	# Secrets are GK-SAST-003's (one violation per secret, whatever its severity).
	not finding.category == "secret"
	lib.severity_rank[finding.severity] >= lib.severity_rank[threshold]

	# "path:line", "path", or "" when the tool gave no location. Built with concat, not
	# sprintf: regopy 1.5.2 corrupts sprintf output whose arguments were computed by concat.
	where := concat(":", [sprintf("%v", [x]) | some x in [finding.path, finding.line]; x != null])
	result := {
		"msg": concat("", [finding.rule_id, " at ", where, ": ", finding.message]),
		"subject": where,
		"severity": finding.severity,
		"evidence": {
			"tool": finding.tool,
			"rule_id": finding.rule_id,
			"path": finding.path,
			"line": finding.line,
			"fingerprint": finding.fingerprint,
		},
	}
}
