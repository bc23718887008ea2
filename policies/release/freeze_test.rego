package gatekeeper.release.freeze_test

import data.gatekeeper.release.freeze

# Tests replace input fields (`with input.release as`, `with input.context.time as`), never
# the whole input; settings are literals.
release := {"service": "payments-api", "version": "1.4.2", "environment": "production"}

holiday := {"start": "2026-12-18T17:00:00Z", "end": "2027-01-04", "environments": ["production"], "reason": "year-end change freeze (CAB-77)"}

test_inside_the_window_fails if {
	results := freeze.deny with input.release as object.union(release, {})
		with input.context.time as "2026-12-24T10:00:00Z"
		with data.settings as {"release": {"freeze_windows": [holiday]}}
	results == {{
		"msg": "deployments to production are frozen since 2026-12-18T17:00:00Z until 2027-01-04: year-end change freeze (CAB-77)",
		"subject": "production",
		"evidence": {"window": holiday, "time": "2026-12-24T10:00:00Z"},
	}}
}

test_before_and_after_the_window_pass if {
	count(freeze.deny) == 0 with input.release as object.union(release, {})
		with input.context.time as "2026-12-18T16:59:59Z"
		with data.settings as {"release": {"freeze_windows": [holiday]}}
	count(freeze.deny) == 0 with input.release as object.union(release, {})
		with input.context.time as "2027-01-05T00:00:00Z"
		with data.settings as {"release": {"freeze_windows": [holiday]}}
}

test_a_date_end_includes_that_day if {
	count(freeze.deny) == 1 with input.release as object.union(release, {})
		with input.context.time as "2027-01-04T23:59:59Z"
		with data.settings as {"release": {"freeze_windows": [holiday]}}
}

test_offset_times if {
	# 18:30+02:00 is 16:30Z, before a 17:00Z start.
	count(freeze.deny) == 0 with input.release as object.union(release, {})
		with input.context.time as "2026-12-18T18:30:00+02:00"
		with data.settings as {"release": {"freeze_windows": [holiday]}}
}

test_other_environment_passes if {
	count(freeze.deny) == 0 with input.release as object.union(release, {"environment": "staging"})
		with input.context.time as "2026-12-24T10:00:00Z"
		with data.settings as {"release": {"freeze_windows": [holiday]}}
}

test_window_without_environments_covers_all if {
	count(freeze.deny) == 1 with input.release as object.union(release, {"environment": "staging"})
		with input.context.time as "2026-12-24T10:00:00Z"
		with data.settings as {"release": {"freeze_windows": [{"start": "2026-12-18", "end": "2027-01-04"}]}}
}

test_open_ended_window if {
	results := freeze.deny with input.release as object.union(release, {})
		with input.context.time as "2030-01-01T00:00:00Z"
		with data.settings as {"release": {"freeze_windows": [{"start": "2026-11-01", "environments": ["production"], "reason": "incident freeze (INC-4411)"}]}}
	some r in results
	r.msg == "deployments to production are frozen since 2026-11-01 until further notice: incident freeze (INC-4411)"
}

test_malformed_window_fails_closed if {
	results := freeze.deny with input.release as object.union(release, {})
		with input.context.time as "2026-12-24T10:00:00Z"
		with data.settings as {"release": {"freeze_windows": [{"start": "18/12/2026", "end": "2027-01-04"}]}}
	some r in results
	r.msg == "freeze window 1 has a start that is not an RFC 3339 time or date: fix settings.release.freeze_windows"
}

test_no_windows_by_default if {
	count(freeze.deny) == 0 with input.release as object.union(release, {})
		with input.context.time as "2026-12-24T10:00:00Z"
}
