# METADATA
# title: Each package appears in one version only
# description: >-
#   Warns for each package (same package URL type, namespace and name) present in the release
#   in more than one version. Conflicting versions mean duplicated code, and usually that one
#   copy escapes an upgrade. With `settings.supply_chain.fail_on_duplicates: true` it fails
#   instead of warning. Components without a purl are not compared.
# custom:
#   id: GK-SC-003
#   severity: low
#   requires: [sbom]
#   controls: [PW.4.4, SCVS-1.3]
#   remediation: >-
#     Align the dependants on one version of the package (dependency overrides/resolutions,
#     or upgrading the dependants), then regenerate the SBOM.
package gatekeeper.supply_chain.duplicates

import data.gatekeeper.lib

fail_on_duplicates := object.get(lib.settings, ["supply_chain", "fail_on_duplicates"], false) == true

# The distinct (package, version) pairs, in one pass over the components. A package is in
# several versions exactly when its key starts more than one pair; sorted, those pairs sit
# side by side, so one scan finds the repeated keys and only their pairs are grouped. (A
# multi-value rule keyed by package over every component cost regorus twice as much.)
pairs := {[key, version] |
	some component in input.components
	purl := component.purl
	is_string(purl)

	# The purl up to its version (qualifiers follow the version). Split results are bound
	# to variables before indexing: regorus takes ~40 µs to index a call's result in place
	# (`split(x, "@")[0]`), seconds over a large SBOM.
	at_parts := split(purl, "@")
	query_parts := split(at_parts[0], "?")
	key := query_parts[0]
	version := component.version # undefined when absent: skipped, as null is
	is_string(version)
}

sorted_pairs := sort([pair | some pair in pairs])

# A partial set rule: regopy 1.5.2 rejects `some i, x in` inside a comprehension.
repeated contains key if {
	some i, pair in sorted_pairs
	i > 0
	key := pair[0]
	previous := sorted_pairs[i - 1]
	previous[0] == key
}

versions[key] contains version if {
	count(repeated) > 0
	some pair in pairs
	key := pair[0]
	key in repeated
	version := pair[1]
}

problems contains result if {
	some key, found in versions
	count(found) > 1
	listed := sort([v | some v in found])
	result := {
		"msg": concat("", [key, " is present in ", sprintf("%v", [count(listed)]), " versions (", concat(", ", listed), "): align on one"]),
		"subject": key,
		"evidence": {"package": key, "versions": listed},
	}
}

warn contains result if {
	not fail_on_duplicates
	some result in problems
}

deny contains result if {
	fail_on_duplicates
	some result in problems
}
