# METADATA
# title: Components are licensed under an allowed license
# description: >-
#   When `settings.licenses.allow` (SPDX ids, default empty: off) is set, fails for each
#   component that cannot be used under the allowed licenses. Each license entry of a component
#   is an alternative; in an SPDX expression `OR` needs one allowed side, `AND` needs both,
#   `AND` binds tighter than `OR`, and parentheses group (up to 6 levels; deeper or malformed
#   expressions count as not allowed). `X WITH exception` is allowed when `X` or the whole
#   `X WITH exception` is on the list. Components without license information are left to
#   GK-LIC-003.
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

entry_allowed(license, allow) if {
	license.expression != null
	expression_allowed(license.expression, allow)
}

entry_allowed(license, allow) if {
	license.expression == null
	license.id != null
	license.id in allow
}

# A name-only license (no SPDX id) is allowed only when the list names it literally.
entry_allowed(license, allow) if {
	license.expression == null
	license.id == null
	license.name in allow
}

license_text(license) := license.expression if license.expression != null

else := license.id if license.id != null

else := license.name if license.name != null

else := "an unnamed license"

# SPDX expression evaluation without recursion (Rego has none): each license id becomes
# T (allowed) or F, then the innermost parenthesised groups are reduced to T/F a fixed
# number of times, then the flat remainder is evaluated. Only string and regex builtins that
# behave identically on regorus and regopy are used.
expression_allowed(expression, allow) if {
	not contains(expression, "(")
	flat_value(truth_string(expression, allow)) == "T"
}

expression_allowed(expression, allow) if {
	contains(expression, "(")
	s := truth_string(expression, allow)
	reduced := reduce_groups(reduce_groups(reduce_groups(reduce_groups(reduce_groups(reduce_groups(s))))))
	not contains(reduced, "(")
	not contains(reduced, ")")
	flat_value(reduced) == "T"
}

# "(MIT OR GPL-3.0-only) AND Apache-2.0" -> "( T OR F ) AND T"
truth_string(expression, allow) := s if {
	# Plain replace/split, not regex.split: a regex is compiled anew on every call.
	spaced := strings.replace_n({"(": " ( ", ")": " ) ", "\t": " ", "\n": " "}, expression)
	tokens := [t | some t in split(spaced, " "); t != ""]
	s := concat(" ", [v | some i; t := tokens[i]; v := token_value(tokens, i, t, allow); v != ""])
}

token_value(tokens, i, t, allow) := upper(t) if upper(t) in {"AND", "OR"}

else := t if t in {"(", ")"}

# `WITH` and the exception after it are part of the license before them.
else := "" if upper(t) == "WITH"

else := "" if {
	i > 0
	upper(tokens[i - 1]) == "WITH"
}

else := "T" if t in allow

else := "T" if {
	upper(tokens[i + 1]) == "WITH"
	concat(" WITH ", [t, tokens[i + 2]]) in allow
}

else := "F"

# Replaces every innermost "( … )" (no parentheses inside) with its value.
reduce_groups(s) := strings.replace_n({g: flat_value(trim(g, "() ")) | some g in regex.find_n(`\([^()]*\)`, s, -1)}, s)

# Value of a parenthesis-free T/F expression: AND binds tighter than OR. Anything malformed
# (a dangling operator, an empty group) is "F": not allowed, fail closed.
flat_value(s) := "T" if {
	some alternative in split(s, " OR ")
	every part in split(alternative, " AND ") {
		part == "T"
	}
}

else := "F"
