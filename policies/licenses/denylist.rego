# METADATA
# title: No components under a denied license
# description: >-
#   Fails when a component can only be used under a license on the deny-list
#   (`settings.licenses.deny`, default: strong copyleft and source-available licenses).
#   SPDX expressions are honoured: `MIT OR GPL-3.0-only` is acceptable because MIT can be
#   chosen; `MIT AND GPL-3.0-only`, `GPL-3.0-only AND (MIT OR Apache-2.0)` and
#   `AGPL-3.0-only WITH Autoconf-exception-3.0` are not. An expression that cannot be parsed
#   is judged as if every license named in it applied.
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

# Positions of the components that can be denied at all: one of their license choices holds
# a denied id (every denied component is here: all of its choices do). The deny rule below
# judges only these. The reader parsed every SPDX expression into its choices (disjunctive
# normal form: `GPL-3.0-only AND (MIT OR Apache-2.0)` is {GPL-3.0-only, MIT} or
# {GPL-3.0-only, Apache-2.0}; `X WITH exception` counts as X), so this is set logic only.
# (Partial set rules: regopy 1.5.2 rejects `some i, x in` inside a comprehension.)
candidates contains i if {
	some i, component in input.components
	some license in component.licenses
	some choice in license.choices
	some id in choice.ids
	id in denied
}

denied_in(choice) if {
	some id in choice.ids
	id in denied
}

deny contains result if {
	some i in candidates
	component := input.components[i]

	# Every way the component can be licensed: each license entry is an alternative of its
	# own, each with the choices of its expression. Denied when every choice holds a denied id.
	every license in component.licenses {
		every choice in license.choices {
			denied_in(choice)
		}
	}

	# The purl, else name@version. Messages are built with concat, not sprintf, and the
	# choice below is a one-line literal bound to a variable, then indexed (indexing a
	# literal in place costs regorus ~20 µs per component): see docs/policy-authoring.md
	# ("Writing Rego that runs on both engines") for the regopy 1.5.2 bugs this avoids.
	name_at_version := concat("@", [x | some x in [component.name, component.version]; x != null])
	target_options := {true: component.purl, false: name_at_version}
	target := target_options[component.purl != null]

	# Sorted from an array, not a set: regopy 1.5.2's sort() of a set returns a set.
	found := sort([id | some id in {d | some license in component.licenses; some choice in license.choices; some d in choice.ids; d in denied}])
	result := {
		"msg": concat("", [target, " is licensed under ", concat(", ", found), ", which is on the deny-list: choose a component under an allowed license"]),
		"subject": target,
		"evidence": {"licenses": found},
	}
}
