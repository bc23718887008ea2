# Shared values for the built-in policies. Not a policy itself: it has no deny/warn rules.
#
# Policies are tuned through data, never by editing them: every knob lives under
# `data.settings.<area>.<key>`, so a team passes
#   settings:
#     vulnerabilities:
#       fail_severity: critical
# in a `--data` file to change it. Read a knob with a default:
#   object.get(data.gatekeeper.lib.settings, ["area", "key"], default_value)
#
# Portability (docs/policy-authoring.md, "Writing Rego that runs on both engines"): this
# library holds values only. Its rules are referenced through the import alias
# (`import data.gatekeeper.lib` then `lib.severity_rank`), which both engines accept for
# rules; regorus cannot call *functions* through an alias.
package gatekeeper.lib

default settings := {}

settings := data.settings

# Severity names of the gate input document (gatekeeper/model/gate_input.py), weakest last.
severity_rank := {
	"critical": 5,
	"high": 4,
	"medium": 3,
	"low": 2,
	"info": 1,
	"unknown": 0,
}
