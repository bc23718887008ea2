# METADATA
# title: Production releases reference an approved change
# description: >-
#   Fails when a release to one of `settings.release.change_ref_environments` (default
#   `production`, `prod`) has no change reference (`change_ref` in the release file), or, when
#   `settings.release.change_ref_pattern` (a regular expression, default none) is set, one that
#   does not match it.
# custom:
#   id: GK-REL-001
#   severity: high
#   controls: [CC8.1]
#   remediation: >-
#     Open or link the change request for this release and set `change_ref` in the release
#     file (e.g. `change_ref: CHG-2048`).
package gatekeeper.release.change_ref

import data.gatekeeper.lib

environments := {lower(e) | some e in object.get(lib.settings, ["release", "change_ref_environments"], ["production", "prod"])}

pattern := object.get(lib.settings, ["release", "change_ref_pattern"], null)

# Lower-cased; undefined when the release names no environment (lower(null) would be an
# engine error, i.e. exit 3, instead of a judgement).
environment := lower(input.release.environment) if is_string(input.release.environment)

release_name := concat(" ", [x | some x in [input.release.service, input.release.version]; x != null])

deny contains result if {
	environment in environments
	not has_change_ref
	result := {
		"msg": concat("", ["release ", release_name, " to ", environment, " has no change reference: set change_ref to the approved change request"]),
		"subject": environment,
		"evidence": {"environment": environment, "change_ref": object.get(input.release, "change_ref", null)},
	}
}

deny contains result if {
	environment in environments
	has_change_ref
	is_string(pattern)
	not regex.match(pattern, input.release.change_ref)
	result := {
		"msg": concat("", ["release ", release_name, " to ", environment, " has change reference '", input.release.change_ref, "', which does not match ", pattern]),
		"subject": input.release.change_ref,
		"evidence": {"environment": environment, "change_ref": input.release.change_ref, "pattern": pattern},
	}
}

has_change_ref if {
	is_string(input.release.change_ref)
	trim_space(input.release.change_ref) != ""
}
