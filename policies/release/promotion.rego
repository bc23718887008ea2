# METADATA
# title: Releases are promoted through the environments in order
# description: >-
#   Fails when a release goes to an environment of `settings.release.promotion_order`
#   (default `dev`, `staging`, `production`) without having passed the environment before it:
#   that one must be listed in the release's `promoted_from`.
# custom:
#   id: GK-REL-004
#   severity: high
#   controls: [CC8.1]
#   remediation: >-
#     Deploy and verify the same artifact in the previous environment first, then record it
#     under `promoted_from` in the release file.
package gatekeeper.release.promotion

import data.gatekeeper.lib

order := [lower(e) | some e in object.get(lib.settings, ["release", "promotion_order"], ["dev", "staging", "production"])]

environment := lower(input.release.environment) if is_string(input.release.environment)

passed := {lower(e) | some e in object.get(input.release, "promoted_from", []); is_string(e)}

release_name := concat(" ", [x | some x in [input.release.service, input.release.version]; x != null])

deny contains result if {
	some k, env in order
	env == environment
	k > 0
	previous := order[k - 1]
	not previous in passed
	result := {
		"msg": concat("", ["release ", release_name, " goes to ", environment, " without having passed ", previous, ": promote it through ", concat(" -> ", order)]),
		"subject": environment,
		"evidence": {"environment": environment, "requires": previous, "promoted_from": sort([e | some e in passed])},
	}
}
