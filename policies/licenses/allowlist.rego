# METADATA
# title: Components are licensed under an allowed license
# description: >-
#   When `settings.licenses.allow` (SPDX ids, default empty: off) is set, fails for each
#   component that cannot be used under the allowed licenses. Each license entry of a component
#   is an alternative; in an SPDX expression `OR` needs one allowed side, `AND` needs both
#   (the reader parses expressions with the license-expression library; malformed ones count
#   as not allowed). `X WITH exception` is allowed when `X` or the whole `X WITH exception`
#   is on the list. Components without license information are left to GK-LIC-003.
# custom:
#   id: GK-LIC-002
#   severity: high
#   requires: [sbom]
#   controls: [PW.4.1, PW.4.4, CC8.1]
#   remediation: >-
#     Replace the component with one under an allowed license, ask the licensing team to add
#     the license to `settings.licenses.allow`, or record legal approval as a waiver for this
#     component.
package gatekeeper.licenses.allowlist

import data.gatekeeper.lib

allowed := {id | some id in object.get(lib.settings, ["licenses", "allow"], [])}

allowed_sorted := sort([id | some id in allowed])

deny contains result if {
	count(allowed) > 0
	some component in input.components
	count(component.licenses) > 0
	not component_allowed(component.licenses, allowed)

	name_at_version := concat("@", [x | some x in [component.name, component.version]; x != null])
	target_options := {true: component.purl, false: name_at_version}
	target := target_options[component.purl != null]
	texts := [license_text(license) | some license in component.licenses]
	result := {
		"msg": concat("", [target, " is licensed under ", concat("; ", texts), ", which the license allow-list does not permit: choose a component under an allowed license"]),
		"subject": target,
		"evidence": {"licenses": texts, "allowed": allowed_sorted},
	}
}

# A component is usable when any of its license entries is.
component_allowed(licenses, allow) if {
	some license in licenses
	entry_allowed(license, allow)
}

# An id or a parsed expression: one of its choices has every id allowed. An expression that
# could not be parsed is never allowed (fail closed).
entry_allowed(license, allow) if {
	license.expression_error == null
	some choice in license.choices
	every id in choice.ids {
		id_allowed(id, choice, allow)
	}
}

# A name-only license (no SPDX id) is allowed only when the list names it literally.
entry_allowed(license, allow) if {
	license.expression == null
	license.id == null
	license.name in allow
}

# `X WITH exception` is allowed when X or the whole `X WITH exception` is on the list.
id_allowed(id, _, allow) if id in allow

id_allowed(id, choice, allow) if concat(" WITH ", [id, choice.exceptions[id]]) in allow

license_text(license) := license.expression if license.expression != null

else := license.id if license.id != null

else := license.name if license.name != null

else := "an unnamed license"
