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
#   controls: [PW.4.4, SCVS-1.3]
#   remediation: >-
#     Align the dependants on one version of the package (dependency overrides/resolutions,
#     or upgrading the dependants), then regenerate the SBOM.
package gatekeeper.supply_chain.duplicates

import data.gatekeeper.lib

fail_on_duplicates := object.get(lib.settings, ["supply_chain", "fail_on_duplicates"], false) == true

# Versions grouped by package in one pass over the components (a multi-value rule keyed by
# package, not a comparison of every pair of components: linear in the SBOM size).
versions[key] contains version if {
	some component in input.components
	is_string(component.purl)
	# The purl up to its version (qualifiers follow the version). Split results are bound
	# to variables before indexing: regorus takes ~40 µs to index a call's result in place
	# (`split(x, "@")[0]`), seconds over a large SBOM.
	at_parts := split(component.purl, "@")
	query_parts := split(at_parts[0], "?")
	key := query_parts[0]
	version := object.get(component, "version", null)
	is_string(version)
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
