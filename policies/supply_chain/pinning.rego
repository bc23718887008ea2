# METADATA
# title: Dependencies are pinned to exact versions
# description: >-
#   Fails for each library or framework component (`settings.supply_chain.pin_types`) whose
#   version is missing or a range rather than one exact version: `^1.2`, `~1.2`, `~=1.2`,
#   `>=1.0`, `<2`, `!=1.3`, `1.x`, `1.*`, `*`, `latest`, `1.0 - 2.0`, `1 || 2`, Maven ranges
#   such as `[1.0,2.0)`. An unpinned dependency makes the build resolve to whatever is newest
#   at build time, so the SBOM and scans may not describe what ships.
# custom:
#   id: GK-SC-002
#   severity: medium
#   requires: [sbom]
#   controls: [PW.4.1, SCVS-1.1]
#   remediation: >-
#     Pin the dependency to an exact version through a lock file (package-lock.json,
#     poetry.lock, requirements.txt with `==` and hashes, go.sum, ...) and regenerate the SBOM
#     from the locked build.
package gatekeeper.supply_chain.pinning

import data.gatekeeper.lib

pin_types := {t | some t in object.get(lib.settings, ["supply_chain", "pin_types"], ["library", "framework"])}

# Range spellings, recognised with plain string builtins: a regex per component would be
# compiled anew for each of 20,000 components (seconds on regorus).
range_starts := {"^", "~", "<", ">", "!", "*", "[", "("}

range_words := {"latest", "x", "*"}

deny contains result if {
	some component in input.components
	component.type in pin_types
	version := object.get(component, "version", null)

	# Most versions are digits and dots only: one cheap test settles them, and only the
	# others go through the range checks below.
	not plain_digits(version)
	problem := version_problem(version)

	label := concat("@", [x | some x in [component.name, version]; x != null])
	subject_options := {true: component.purl, false: label}
	subject := subject_options[component.purl != null]
	result := {
		"msg": concat("", ["component ", label, " ", problem, ": pin an exact version"]),
		"subject": subject,
		"evidence": {"version": version, "source": object.get(component, "source", null)},
	}
}

plain_digits(version) if {
	is_string(version)
	version != ""
	trim(version, "0123456789.") == ""
}

version_problem(version) := "has no version" if not is_string(version)

else := "has no version" if trim_space(version) == ""

else := concat("", ["has the version range '", version, "', not a pinned version"]) if is_range(trim_space(version))

# `^1.2`, `~1.2`, `~=1.2`, `>=1`, `<2`, `!=1.3`, `*`, `[1.0,2.0)`, `(,1.0]`, `latest`, `x`,
# `1.0 - 2.0`, `1 || 2`, `1.x`, `1.2.X`, `1.*`.
is_range(v) if {
	padded := concat("", [v, "."])
	signs := [
		substring(v, 0, 1) in range_starts,
		lower(v) in range_words,
		contains(v, " - "),
		contains(v, "||"),
		contains(padded, ".x."),
		contains(padded, ".X."),
		contains(padded, ".*."),
	]
	true in signs
}
