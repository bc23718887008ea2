# METADATA
# title: No releases during a deployment freeze
# description: >-
#   Fails when the gate runs (`input.context.time`) inside a freeze window of
#   `settings.release.freeze_windows` that covers the release's environment. A window is
#   `{start, end, environments, reason}`: `start`/`end` are RFC 3339 times or dates (a date
#   `end` includes that whole day, UTC); without `end` the freeze lasts until it is removed;
#   without `environments` it covers every environment. A window whose times cannot be read
#   also fails, so a typo never silently lifts a freeze.
# custom:
#   id: GK-REL-003
#   severity: high
#   controls: [CC8.1]
#   remediation: >-
#     Wait until the freeze ends, or get an emergency exception approved and record it as a
#     waiver for this policy.
package gatekeeper.release.freeze

import data.gatekeeper.lib

windows := object.get(lib.settings, ["release", "freeze_windows"], [])

environment := lower(input.release.environment) if is_string(input.release.environment)

now := data.gatekeeper.lib.time_ns(input.context.time)

# Windows that apply to this release's environment, by position.
applies contains i if {
	some i, window in windows
	count(object.get(window, "environments", [])) == 0
}

applies contains i if {
	some i, window in windows
	some e in object.get(window, "environments", [])
	lower(e) == environment
}

start_ns(window) := data.gatekeeper.lib.time_ns(window.start)

# A date-only end includes that day: the freeze lasts until the next midnight UTC.
end_ns(window) := ns if {
	is_string(window.end)
	regex.match(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`, window.end)
	ns := data.gatekeeper.lib.time_ns(window.end) + lib.day_ns
} else := data.gatekeeper.lib.time_ns(window.end)

deny contains result if {
	some i in applies
	window := windows[i]
	now >= start_ns(window)
	not ended(window)
	reason := object.get(window, "reason", "deployment freeze")
	end := object.get(window, "end", null)
	until_options := {true: concat("", [" until ", sprintf("%v", [end])]), false: " until further notice"}
	until := until_options[end != null]
	env_text_options := {true: environment, false: "every environment"}
	env_text := env_text_options[is_string(environment)]
	result := {
		"msg": concat("", ["deployments to ", env_text, " are frozen since ", window.start, until, ": ", reason]),
		"subject": object.get(input.release, "environment", ""),
		"evidence": {"window": window, "time": input.context.time},
	}
}

ended(window) if now >= end_ns(window)

deny contains result if {
	some i, window in windows
	some field in ["start", "end"]
	malformed(window, field)
	result := {
		"msg": concat("", ["freeze window ", sprintf("%v", [i + 1]), " has a ", field, " that is not an RFC 3339 time or date: fix settings.release.freeze_windows"]),
		"subject": "settings.release.freeze_windows",
		"evidence": {"window": window},
	}
}

malformed(window, "start") if not data.gatekeeper.lib.time_ns(object.get(window, "start", null))

malformed(window, "end") if {
	object.get(window, "end", null) != null
	not data.gatekeeper.lib.time_ns(window.end)
}
