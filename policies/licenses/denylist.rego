# METADATA
# title: No components under a denied license
# description: >-
#   Fails when a component can only be used under a license on the deny-list
#   (`settings.licenses.deny`, default: strong copyleft and source-available licenses).
#   SPDX expressions are honoured: `MIT OR GPL-3.0-only` is acceptable because MIT can be
#   chosen; `MIT AND GPL-3.0-only` is not.
# custom:
#   id: GK-LIC-001
#   severity: high
#   requires: [sbom]
#   controls: [PS.3.2, CC8.1]
#   remediation: >-
#     Replace the component with one under an allowed license, or obtain legal approval and
#     record it as a waiver for this component.
package gatekeeper.licenses.denylist

import data.gatekeeper.lib

default_deny := [
	"AGPL-1.0-only", "AGPL-1.0-or-later", "AGPL-3.0-only", "AGPL-3.0-or-later",
	"GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later",
	"SSPL-1.0", "BUSL-1.1",
]

denied := {id | some id in object.get(lib.settings, ["licenses", "deny"], default_deny)}

# The SPDX expressions of the release, each once (a release has a handful, repeated over
# thousands of components), and those whose every alternative holds a denied id.
expressions := {license.expression |
	some component in input.components
	some license in component.licenses
	license.expression != null
}

denied_expressions contains expr if {
	some expr in expressions
	alternatives := {alt |
		normalized := replace(replace(expr, " or ", " OR "), " and ", " AND ")
		some option in split(normalized, " OR ")
		alt := {trim(t, "() ") | some t in split(option, " AND ")}
	}
	every alt in alternatives {
		count(alt & denied) > 0
	}
}

# Positions of the components that can be denied at all: one license entry names a denied id
# or a denied expression. Every denied component is here (its license alternatives all hold a
# denied id, so each entry that yields an alternative does), and the deny rule below judges
# only these: cheap passes instead of parsing every component's licenses. The expression pass
# is skipped outright when no expression of the release is denied (the usual case).
# (Partial set rules: regopy 1.5.2 rejects `some i, x in` inside a comprehension.)
candidates contains i if {
	some i, component in input.components
	some license in component.licenses
	license.id in denied
}

candidates contains i if {
	count(denied_expressions) > 0
	some i, component in input.components
	some license in component.licenses
	license.expression in denied_expressions
}

deny contains result if {
	some i in candidates
	component := input.components[i]

	# The ways the component's license can be chosen, one set of SPDX ids per alternative:
	# each license entry is an alternative of its own, and an SPDX expression splits on OR.
	# (Parenthesised sub-expressions are flattened: `(A OR B) AND C` reads as alternatives
	# `A` and `B AND C`.) Computed per component in the rule body, one pass over the list.
	expression_alternatives := {alt |
		some license in component.licenses
		license.expression != null
		expr := replace(replace(license.expression, " or ", " OR "), " and ", " AND ")
		some option in split(expr, " OR ")
		alt := {trim(t, "() ") | some t in split(option, " AND ")}
	}
	id_alternatives := {{license.id} |
		some license in component.licenses
		license.expression == null
		license.id != null
	}
	alternatives := expression_alternatives | id_alternatives
	count(alternatives) > 0
	every alt in alternatives {
		count(alt & denied) > 0
	}

	# The purl, else name@version. Messages are built with concat, not sprintf, and the
	# choice below is a one-line literal bound to a variable, then indexed (indexing a
	# literal in place costs regorus ~20 µs per component): see docs/policy-authoring.md
	# ("Writing Rego that runs on both engines") for the regopy 1.5.2 bugs this avoids.
	name_at_version := concat("@", [x | some x in [component.name, component.version]; x != null])
	target_options := {true: component.purl, false: name_at_version}
	target := target_options[component.purl != null]

	# Sorted from an array, not a set: regopy 1.5.2's sort() of a set returns a set.
	found := sort([id | some id in {d | some alt in alternatives; some d in alt; d in denied}])
	result := {
		"msg": concat("", [target, " is licensed under ", concat(", ", found), ", which is on the deny-list: choose a component under an allowed license"]),
		"subject": target,
		"evidence": {"licenses": found},
	}
}
