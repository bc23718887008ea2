# METADATA
# title: Suppressed static-analysis findings stay visible
# description: >-
#   Warns for each SAST finding that the tool marks as ignored or suppressed (e.g. a
#   `nosemgrep` comment) and that would otherwise fail GK-SAST-001, i.e. at or above
#   `settings.sast.fail_severity` (default `high`). Suppressed findings never fail the gate, but
#   reviewers and auditors should see each suppression of a serious finding.
# custom:
#   id: GK-SAST-002
#   severity: low
#   requires: [sast]
#   controls: [PW.7.2, PW.8.2]
#   remediation: >-
#     Check that the suppression carries a justification and still applies; remove it and fix
#     the code if it does not.
package gatekeeper.sast.ignored

import data.gatekeeper.lib

threshold := object.get(lib.settings, ["sast", "fail_severity"], "high")

warn contains result if {
	some finding in input.findings
	finding.ignored == true
	lib.severity_rank[finding.severity] >= lib.severity_rank[threshold]

	# "path:line", "path", or "": concat, not sprintf (portable Rego).
	where := concat(":", [sprintf("%v", [x]) | some x in [finding.path, finding.line]; x != null])
	result := {
		"msg": concat("", [finding.rule_id, " (", finding.severity, ") at ", where, " is suppressed in the code: not counted, shown for review"]),
		"subject": where,
		"evidence": {
			"tool": finding.tool,
			"rule_id": finding.rule_id,
			"severity": finding.severity,
			"path": finding.path,
			"line": finding.line,
			"fingerprint": finding.fingerprint,
		},
	}
}
