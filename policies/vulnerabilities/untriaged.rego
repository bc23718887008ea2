# METADATA
# title: No untriaged critical vulnerabilities
# description: >-
#   Fails for each vulnerability at or above `settings.vulnerabilities.untriaged_max_severity`
#   (default `critical`) that nobody has triaged yet: state `untriaged` (no VEX statement) or
#   `under_investigation`. Unlike GK-VULN-001 this does not ask for a fix, only for a decision:
#   a VEX statement saying `affected`, `not_affected` or `fixed`. The message counts how many
#   await triage, untriaged and under investigation separately.
# custom:
#   id: GK-VULN-003
#   severity: high
#   requires: [vulnerability-scan]
#   controls: [RV.1.2, RV.2.1, CC7.1]
#   remediation: >-
#     Triage the vulnerability: assess whether the release is affected and publish a VEX
#     statement (CycloneDX VEX or OpenVEX) with the outcome — affected (with a plan),
#     not_affected (with a justification) or fixed.
package gatekeeper.vulnerabilities.untriaged

import data.gatekeeper.lib

threshold := object.get(lib.settings, ["vulnerabilities", "untriaged_max_severity"], "critical")

pending_states := {"untriaged", "under_investigation"}

# Positions of the vulnerabilities awaiting triage at or above the threshold (one pass).
pending contains i if {
	some i, vuln in input.vulnerabilities
	vuln.state in pending_states
	lib.severity_rank[vuln.severity] >= lib.severity_rank[threshold]
}

untriaged_count := count([i | some i in pending; input.vulnerabilities[i].state == "untriaged"])

investigating_count := count(pending) - untriaged_count

# "3 awaiting triage at or above critical: 2 untriaged, 1 under investigation". Numbers are
# formatted with sprintf("%v") on their own, text is joined with concat (portable Rego).
summary := concat("", [
	sprintf("%v", [count(pending)]), " awaiting triage at or above ", threshold, ": ",
	sprintf("%v", [untriaged_count]), " untriaged, ",
	sprintf("%v", [investigating_count]), " under investigation",
])

deny contains result if {
	some i in pending
	vuln := input.vulnerabilities[i]
	name_at_version := concat("@", [x | some x in [vuln.component_name, vuln.component_version]; x != null])
	target_options := {true: vuln.purl, false: name_at_version}
	target := target_options[vuln.purl != null]
	state_text_options := {true: "has not been triaged", false: "is still under investigation"}
	state_text := state_text_options[vuln.state == "untriaged"]
	result := {
		"msg": concat("", [vuln.id, " (", vuln.severity, ") on ", target, " ", state_text, " (", summary, "): publish a VEX decision"]),
		"subject": target,
		"evidence": {
			"vulnerability": vuln.id,
			"severity": vuln.severity,
			"state": vuln.state,
			"untriaged": untriaged_count,
			"under_investigation": investigating_count,
		},
	}
}
