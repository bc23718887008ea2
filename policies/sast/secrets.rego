# METADATA
# title: No exposed secrets
# description: >-
#   Fails for each secret a scanner found in the code or image (findings with category
#   `secret`, e.g. Trivy's secret scanner: AWS keys, private keys, tokens), whatever its
#   severity: a credential that reached a release must be rotated, not triaged by rank.
#   Secrets the tool itself marks as ignored (its allow rules) do not fail the gate.
#   `settings.secrets.fail_severity` (default `low`) raises the bar when a scanner's low
#   findings are mostly noise. The message never repeats the matched text.
# custom:
#   id: GK-SAST-003
#   severity: critical
#   controls: [PW.5.1, PS.1.1, CC6.1]
#   remediation: >-
#     Revoke and rotate the credential now (it is compromised once committed or shipped),
#     remove it from the code and the history, and load it from a secret store at run time.
package gatekeeper.sast.secrets

import data.gatekeeper.lib

threshold := object.get(lib.settings, ["secrets", "fail_severity"], "low")

deny contains result if {
	some finding in input.findings
	finding.category == "secret"
	not finding.ignored == true

	effective_rank(finding.severity) >= lib.severity_rank[threshold]

	where := concat(":", [sprintf("%v", [x]) | some x in [finding.path, finding.line]; x != null])
	result := {
		"msg": concat("", [finding.rule_id, " at ", where, ": ", finding.message, ": rotate the credential and remove it from the code"]),
		"subject": where,
		"evidence": {
			"tool": finding.tool,
			"rule_id": finding.rule_id,
			"severity": finding.severity,
			"path": finding.path,
			"line": finding.line,
		},
	}
}

# An unknown severity is judged as critical: a secret is never waved through by a scanner
# that did not rank it.
effective_rank(severity) := rank if {
	rank := lib.severity_rank[severity]
	rank > 0
} else := 5
