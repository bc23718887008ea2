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
# Portability (docs/policy-authoring.md, "Writing Rego that runs on both engines"): values
# are referenced through the import alias (`import data.gatekeeper.lib` then
# `lib.severity_rank`), which both engines accept for rules; regorus cannot call *functions*
# through an alias, so the few functions below are called by their full path
# (`data.gatekeeper.lib.time_ns(x)`).
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

# Vulnerability states (VEX vocabulary) that still need action: everything except
# `not_affected` and `fixed`.
unresolved_states := {"affected", "under_investigation", "untriaged"}

# Times in settings and evidence are RFC 3339 (`2026-12-20T18:00:00Z`, offsets, fractions) or
# plain dates (`2026-12-20`, midnight UTC). `time_ns(text)` is undefined for anything else, so
# callers can report a malformed time instead of the engine failing on it.
#
# Portability: regopy 1.5.2 cannot parse a trailing `Z` (docs/engines.md), so the `Z` is
# rewritten as `+00:00`, which both engines parse to the same instant. Being a function, call
# it by its full path, `data.gatekeeper.lib.time_ns(x)`: regorus cannot call functions through
# an import alias.
time_ns(text) := ns if {
	is_string(text)
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?[Zz]$`, text)
	ns := time.parse_rfc3339_ns(concat("", [substring(text, 0, count(text) - 1), "+00:00"]))
}

time_ns(text) := ns if {
	is_string(text)
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?[+-][0-9]{2}:[0-9]{2}$`, text)
	ns := time.parse_rfc3339_ns(text)
}

time_ns(text) := ns if {
	is_string(text)
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`, text)
	ns := time.parse_ns("2006-01-02", text)
}

day_ns := ((24 * 60) * 60) * 1000000000

# The purl without version, qualifiers or subpath (`pkg:npm/%40scope/name`): what identifies
# a package whatever its version. Names in a purl cannot hold a raw `@` (it is encoded as
# `%40`), so the first `@` starts the version.
#
# Each split result is bound to a variable before it is indexed: regorus takes ~40 µs to
# index a call's result in place (`split(x, "#")[0]`), which adds up to seconds per policy
# over 20,000 components.
purl_base(purl) := base if {
	no_subpath := split(purl, "#")
	no_qualifiers := split(no_subpath[0], "?")
	no_version := split(no_qualifiers[0], "@")
	base := no_version[0]
}
