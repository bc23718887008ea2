# METADATA
# title: The service is on a supported template version
# description: >-
#   The service was generated from a golden-path template (`.gatekeeper/template.json`) whose
#   version is not older than the minimum for that template
#   (`settings.scaffold.min_template_versions`, e.g. `{python-service: "1.1.0"}`).
# custom:
#   id: GK-GP-004
#   severity: medium
#   controls: [PO.3.2, CC8.1]
#   remediation: >-
#     Run `gatekeeper scaffold update` and resolve any conflicts it reports.
package gatekeeper.scaffold.template

default settings := {}

settings := data.settings

default_minimums := {"python-service": "1.0.0", "python-library": "1.0.0"}

minimums := object.get(object.get(settings, "scaffold", {}), "min_template_versions", default_minimums)

parts(version) := [to_number(x) | some x in split(version, ".")]

older(a, b) if a[0] < b[0]

older(a, b) if {
	a[0] == b[0]
	a[1] < b[1]
}

older(a, b) if {
	a[0] == b[0]
	a[1] == b[1]
	a[2] < b[2]
}

deny contains "no .gatekeeper/template.json: the service was not generated from a golden-path template" if {
	input.template == null
}

deny contains result if {
	minimum := minimums[input.template.id]
	older(input.template.version_parts, parts(minimum))
	result := {
		"msg": concat("", ["template ", input.template.id, " ", input.template.version, " is older than the minimum ", minimum, ": run `gatekeeper scaffold update`"]),
		"subject": input.template.id,
		"evidence": {"version": input.template.version, "minimum": minimum},
	}
}
