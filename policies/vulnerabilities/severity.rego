# METADATA
# title: No vulnerabilities at or above the severity threshold
# description: >-
#   Fails when a known vulnerability at or above `settings.vulnerabilities.fail_severity`
#   (default `high`) affects a component of the release. Vulnerabilities that VEX marks
#   `not_affected` or `fixed` do not count. With `settings.vulnerabilities.fail_only_fixable:
#   true`, only vulnerabilities that have a fixed version fail the gate ("report all, fail on
#   the fixable").
# custom:
#   id: GK-VULN-001
#   severity: high
#   requires: [vulnerability-scan]
#   controls: [PW.4.4, RV.1.1, RV.1.2, CC7.1]
#   remediation: >-
#     Upgrade the component to a fixed version. If the vulnerable code is not reachable,
#     publish a VEX statement (not_affected with a justification) instead; as a last resort,
#     add a time-limited waiver.
package gatekeeper.vulnerabilities.severity

import data.gatekeeper.lib

threshold := object.get(lib.settings, ["vulnerabilities", "fail_severity"], "high")

# Strictly boolean: only an explicit `true` turns it on (a null or a string does not).
fixable_only := object.get(lib.settings, ["vulnerabilities", "fail_only_fixable"], false) == true

resolved_states := {"not_affected", "fixed"}

# Positions of the vulnerabilities this policy judges: all of them, or only the fixable ones.
# One pass over the list each (linear); the deny rule then looks each position up.
judged contains i if {
	not fixable_only
	some i, _ in input.vulnerabilities
}

judged contains i if {
	fixable_only
	some i, vuln in input.vulnerabilities
	vuln.fix_available == true
}

deny contains result if {
	some i in judged
	vuln := input.vulnerabilities[i]
	not vuln.state in resolved_states
	lib.severity_rank[vuln.severity] >= lib.severity_rank[threshold]

	# The purl, else name@version. Messages are built with concat, not sprintf, and the
	# choices below are one-line literals bound to variables, then indexed (indexing a
	# literal in place costs regorus ~20 µs per item): see docs/policy-authoring.md
	# ("Writing Rego that runs on both engines") for the regopy 1.5.2 bugs this avoids.
	name_at_version := concat("@", [x | some x in [vuln.component_name, vuln.component_version]; x != null])
	target_options := {true: vuln.purl, false: name_at_version}
	target := target_options[vuln.purl != null]
	upgrade := concat("", ["upgrade to ", concat(" or ", vuln.fix_versions)])
	no_fix := "no fixed version is known yet: assess it and publish VEX, or waive it for a limited time"
	advice_options := {true: upgrade, false: no_fix}
	advice := advice_options[count(vuln.fix_versions) > 0]
	result := {
		"msg": concat("", [vuln.id, " (", vuln.severity, ") affects ", target, ": ", advice]),
		"subject": target,
		"severity": vuln.severity,
		"evidence": {
			"vulnerability": vuln.id,
			"aliases": vuln.aliases,
			"state": vuln.state,
			"fix_versions": vuln.fix_versions,
			"scanners": vuln.scanners,
		},
	}
}
