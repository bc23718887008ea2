# METADATA
# title: Releases carry the required approvals
# description: >-
#   Fails when a release to an environment listed in `settings.release.required_approvals`
#   (default `{production: 2, prod: 2, staging: 1}`) has fewer approvals than required, counting
#   distinct people (`approvals[].by`, compared case-insensitively): two approvals by the same
#   person count once.
# custom:
#   id: GK-REL-002
#   severity: high
#   controls: [CC8.1, CC6.1]
#   remediation: >-
#     Get the release reviewed and approved by the required number of different people and
#     record them under `approvals` in the release file.
package gatekeeper.release.approvals

import data.gatekeeper.lib

configured_approvals := object.get(lib.settings, ["release", "required_approvals"], {"production": 2, "prod": 2, "staging": 1})

# `some k; n := x[k]`, not `some k, n in x`: regopy 1.5.2 rejects the two-variable form
# inside comprehensions ("Invalid collection").
required_by_environment := {lower(k): n | some k; n := configured_approvals[k]}

environment := lower(input.release.environment) if is_string(input.release.environment)

approvers := {lower(trim_space(a.by)) | some a in object.get(input.release, "approvals", []); is_string(a.by); trim_space(a.by) != ""}

release_name := concat(" ", [x | some x in [input.release.service, input.release.version]; x != null])

deny contains result if {
	required := required_by_environment[environment]
	count(approvers) < required
	names := sort([a | some a in approvers])
	by_options := {true: "none", false: concat(", ", names)}
	by := by_options[count(names) == 0]
	result := {
		"msg": concat("", ["release ", release_name, " to ", environment, " needs ", sprintf("%v", [required]), " approvals by distinct people, has ", sprintf("%v", [count(names)]), " (", by, ")"]),
		"subject": environment,
		"evidence": {"environment": environment, "required": required, "approvers": names},
	}
}
