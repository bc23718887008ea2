# METADATA
# title: The SBOM is recent
# description: >-
#   Fails when the SBOM was generated more than `settings.sbom.max_age_days` (default 30) days
#   before the gate ran (its timestamp against `input.context.time`), or when it has no
#   timestamp or one that is not an RFC 3339 time, since then its age cannot be known. An old
#   SBOM describes some earlier build, not the artifact being released.
# custom:
#   id: GK-SBOM-004
#   severity: medium
#   requires: [sbom]
#   controls: [PS.3.2, SCVS-2.7]
#   remediation: >-
#     Generate the SBOM in the same pipeline run that builds the artifact (with a timestamp,
#     which generators record by default) and pass that SBOM to the gate.
package gatekeeper.sbom.freshness

import data.gatekeeper.lib

max_age_days := object.get(lib.settings, ["sbom", "max_age_days"], 30)

subject := concat(", ", object.get(input.sbom, "files", []))

timestamp := object.get(input.sbom, "timestamp", null)

deny contains result if {
	input.sbom.present == true
	not is_string(timestamp)
	result := {
		"msg": "the SBOM has no timestamp, so its age cannot be checked: generate it with its creation time",
		"subject": subject,
		"evidence": {"timestamp": null},
	}
}

deny contains result if {
	input.sbom.present == true
	is_string(timestamp)
	not data.gatekeeper.lib.time_ns(timestamp)
	result := {
		"msg": concat("", ["the SBOM timestamp '", timestamp, "' is not an RFC 3339 time (e.g. 2026-11-20T09:14:03Z), so its age cannot be checked"]),
		"subject": subject,
		"evidence": {"timestamp": timestamp},
	}
}

deny contains result if {
	input.sbom.present == true
	generated := data.gatekeeper.lib.time_ns(timestamp)
	now := data.gatekeeper.lib.time_ns(input.context.time)
	age_days := (now - generated) / lib.day_ns
	age_days > max_age_days
	result := {
		"msg": concat("", ["the SBOM was generated on ", timestamp, ", ", sprintf("%v", [floor(age_days)]), " days before this gate run; at most ", sprintf("%v", [max_age_days]), " are allowed: regenerate it for this build"]),
		"subject": subject,
		"evidence": {"timestamp": timestamp, "age_days": floor(age_days), "max_age_days": max_age_days},
	}
}
