package gatekeeper.sbom.freshness_test

import data.gatekeeper.sbom.freshness

# Tests replace input fields (`with input.sbom as`, `with input.context.time as`), never the
# whole input. `Z` times are covered on purpose: regopy cannot parse them directly.
sbom := {"present": true, "files": ["sbom.cdx.json"], "timestamp": "2026-11-20T09:14:03Z"}

test_recent_sbom_passes if {
	count(freshness.deny) == 0 with input.sbom as object.union(sbom, {}) with input.context.time as "2026-11-26T21:02:55Z"
}

test_old_sbom_fails if {
	results := freshness.deny with input.sbom as object.union(sbom, {"timestamp": "2026-09-01T08:00:00Z"})
		with input.context.time as "2026-11-26T21:02:55Z"
	results == {{
		"msg": "the SBOM was generated on 2026-09-01T08:00:00Z, 86 days before this gate run; at most 30 are allowed: regenerate it for this build",
		"subject": "sbom.cdx.json",
		"evidence": {"timestamp": "2026-09-01T08:00:00Z", "age_days": 86, "max_age_days": 30},
	}}
}

test_exactly_the_limit_passes if {
	count(freshness.deny) == 0 with input.sbom as object.union(sbom, {"timestamp": "2026-10-27T21:02:55Z"})
		with input.context.time as "2026-11-26T21:02:55Z"
}

test_offsets_and_fractions_are_understood if {
	# 23:02:55.250+02:00 is 21:02:55.250Z: a quarter second under 30 days.
	# 18:02:55.250-02:00 is 20:02:55.250Z: an hour over.
	count(freshness.deny) == 0 with input.sbom as object.union(sbom, {"timestamp": "2026-10-27T23:02:55.250+02:00"})
		with input.context.time as "2026-11-26T21:02:55Z"
	count(freshness.deny) == 1 with input.sbom as object.union(sbom, {"timestamp": "2026-10-27T18:02:55.250-02:00"})
		with input.context.time as "2026-11-26T21:02:56Z"
}

test_max_age_from_data if {
	count(freshness.deny) == 1 with input.sbom as object.union(sbom, {})
		with input.context.time as "2026-11-26T21:02:55Z"
		with data.settings as {"sbom": {"max_age_days": 3}}
}

test_missing_timestamp_fails if {
	results := freshness.deny with input.sbom as object.union(sbom, {"timestamp": null})
		with input.context.time as "2026-11-26T21:02:55Z"
	some r in results
	r.msg == "the SBOM has no timestamp, so its age cannot be checked: generate it with its creation time"
}

test_malformed_timestamp_fails if {
	results := freshness.deny with input.sbom as object.union(sbom, {"timestamp": "20 Nov 2026"})
		with input.context.time as "2026-11-26T21:02:55Z"
	some r in results
	r.msg == "the SBOM timestamp '20 Nov 2026' is not an RFC 3339 time (e.g. 2026-11-20T09:14:03Z), so its age cannot be checked"
}

test_no_sbom_is_left_to_gk_sbom_001 if {
	count(freshness.deny) == 0 with input.sbom as {"present": false, "timestamp": null}
		with input.context.time as "2026-11-26T21:02:55Z"
}
