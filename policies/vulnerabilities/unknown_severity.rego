# METADATA
# title: Every vulnerability has a known severity
# description: >-
#   Reports each vulnerability whose severity is `unknown` after normalization (no severity
#   word and no CVSS score the reader could use): severity thresholds (GK-VULN-001,
#   GK-VULN-003) cannot judge it, so it must not pass silently. A warning by default; it fails
#   the gate when the release goes to an environment in
#   `settings.vulnerabilities.unknown_severity_deny_environments` (default `production`,
#   `prod`). VEX `not_affected` and `fixed` vulnerabilities are not reported.
# custom:
#   id: GK-VULN-004
#   severity: medium
#   controls: [RV.1.2, PW.4.4]
#   remediation: >-
#     Look the vulnerability up (its id and URLs are in the evidence) and triage it with a VEX
#     statement, or fix the scanner output so it carries a severity or CVSS score.
package gatekeeper.vulnerabilities.unknown_severity

import data.gatekeeper.lib

strict_environments := {lower(e) | some e in object.get(lib.settings, ["vulnerabilities", "unknown_severity_deny_environments"], ["production", "prod"])}

judged_states := {"affected", "untriaged", "under_investigation"}

problems contains result if {
	some vuln in input.vulnerabilities
	vuln.severity == "unknown"
	vuln.state in judged_states
	subject := object.get(vuln, "purl", null)
	target_options := {true: subject, false: object.get(vuln, "component_name", "")}
	target := target_options[subject != null]
	result := {
		"msg": concat("", [vuln.id, " on ", target, " has no known severity: severity thresholds cannot judge it; triage it"]),
		"subject": target,
		"evidence": {"id": vuln.id, "scanners": vuln.scanners, "sources": vuln.sources},
	}
}

production if {
	environment := input.release.environment
	is_string(environment)
	lower(environment) in strict_environments
}

warn contains result if {
	not production
	some result in problems
}

deny contains result if {
	production
	some result in problems
}
