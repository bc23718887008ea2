# METADATA
# title: Every component declares a known license
# description: >-
#   Warns for each library, framework or application component without license information,
#   or whose licenses are only free-text names, `NOASSERTION`/`NONE`/`UNKNOWN` or SPDX
#   expressions that cannot be parsed (`MIT OR`, `GPL-3.0-only AND (`): license
#   deny- and allow-lists (GK-LIC-001, GK-LIC-002) cannot judge such a component. With
#   `settings.licenses.fail_on_unknown: true` it fails instead of warning.
# custom:
#   id: GK-LIC-003
#   severity: medium
#   requires: [sbom]
#   controls: [PW.4.1, SCVS-2.15]
#   remediation: >-
#     Regenerate the SBOM with a generator that records SPDX license ids, or add the
#     component's SPDX license id or expression to the SBOM by hand after checking its terms.
package gatekeeper.licenses.unknown

import data.gatekeeper.lib

fail_on_unknown := object.get(lib.settings, ["licenses", "fail_on_unknown"], false) == true

judged_types := {"library", "framework", "application"}

# Exact spellings (no upper/trim per license: this runs for every component).
no_value := {"", "NOASSERTION", "NONE", "UNKNOWN", "noassertion", "none", "unknown"}

# Positions of the components whose license is unknown, each with what is known of it:
# free-text names, and expressions that are not valid SPDX (the reader says why).
unknown[i] := names if {
	some i, component in input.components
	component.type in judged_types
	not has_known_license(component.licenses)
	names := sort([n | some license in component.licenses; n := license_word(license); n != null])
}

license_word(license) := license.expression if license.expression_error != null

else := license.name

# Known: a parsed id or expression naming at least one license that is not a no-value word.
has_known_license(licenses) if {
	some license in licenses
	license.expression_error == null
	some choice in license.choices
	some id in choice.ids
	not id in no_value
}

problems contains result if {
	some i, names in unknown
	component := input.components[i]
	name_at_version := concat("@", [x | some x in [component.name, component.version]; x != null])
	target_options := {true: component.purl, false: name_at_version}
	target := target_options[component.purl != null]
	what_options := {true: "has no license information", false: concat("", ["names its license only as '", concat("', '", names), "', not as an SPDX id or valid expression"])}
	what := what_options[count(names) == 0]
	result := {
		"msg": concat("", [target, " ", what, ": license policies cannot judge it"]),
		"subject": target,
		"evidence": {"license_names": names, "source": object.get(component, "source", null)},
	}
}

warn contains result if {
	not fail_on_unknown
	some result in problems
}

deny contains result if {
	fail_on_unknown
	some result in problems
}
