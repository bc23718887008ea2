package gatekeeper.supply_chain.denied_test

import data.gatekeeper.supply_chain.denied

# Tests replace input fields (`with input.components as`), never the whole input; settings
# are literals (regopy 1.5.2 does not apply `with data.settings as <rule>`).
event_stream := {"name": "event-stream", "version": "3.3.6", "purl": "pkg:npm/event-stream@3.3.6"}

flatmap := {"name": "flatmap-stream", "version": "0.1.1", "purl": "pkg:npm/flatmap-stream@0.1.1"}

test_purl_entry_denies_every_version if {
	results := denied.deny with input.components as [event_stream, object.union(event_stream, {"version": "4.0.1", "purl": "pkg:npm/event-stream@4.0.1"})]
		with data.settings as {"supply_chain": {"denied_packages": ["pkg:npm/event-stream"]}}
	count(results) == 2
}

test_object_entry_with_version_and_reason if {
	results := denied.deny with input.components as [event_stream, object.union(event_stream, {"version": "4.0.1", "purl": "pkg:npm/event-stream@4.0.1"})]
		with data.settings as {"supply_chain": {"denied_packages": [{"package": "pkg:npm/event-stream", "version": "3.3.6", "reason": "compromised release (flatmap-stream backdoor)"}]}}
	results == {{
		"msg": "pkg:npm/event-stream@3.3.6 is a denied package: compromised release (flatmap-stream backdoor). Remove it or use a version that is not denied",
		"subject": "pkg:npm/event-stream@3.3.6",
		"evidence": {"denied_by": ["pkg:npm/event-stream"], "reasons": ["compromised release (flatmap-stream backdoor)"]},
	}}
}

test_version_in_the_purl_entry if {
	results := denied.deny with input.components as [event_stream]
		with data.settings as {"supply_chain": {"denied_packages": ["pkg:npm/event-stream@3.3.6"]}}
	some r in results
	r.msg == "pkg:npm/event-stream@3.3.6 is on the denied-package list. Remove it or use a version that is not denied"
	r.evidence == {"denied_by": ["pkg:npm/event-stream@3.3.6"], "reasons": []}
	count(denied.deny) == 0 with input.components as [event_stream]
		with data.settings as {"supply_chain": {"denied_packages": ["pkg:npm/event-stream@3.3.5"]}}
}

test_bare_name_matches_any_ecosystem_and_no_purl if {
	count(denied.deny) == 2 with input.components as [flatmap, object.union(flatmap, {"purl": null})]
		with data.settings as {"supply_chain": {"denied_packages": ["flatmap-stream"]}}
}

test_name_at_version if {
	count(denied.deny) == 1 with input.components as [flatmap]
		with data.settings as {"supply_chain": {"denied_packages": ["flatmap-stream@0.1.1"]}}
	count(denied.deny) == 0 with input.components as [flatmap]
		with data.settings as {"supply_chain": {"denied_packages": ["flatmap-stream@0.1.2"]}}
}

test_scoped_npm_names if {
	scoped := {"name": "@evil/pkg", "version": "1.0.0", "purl": "pkg:npm/%40evil/pkg@1.0.0"}
	count(denied.deny) == 1 with input.components as [scoped]
		with data.settings as {"supply_chain": {"denied_packages": ["@evil/pkg"]}}
	count(denied.deny) == 1 with input.components as [scoped]
		with data.settings as {"supply_chain": {"denied_packages": ["@evil/pkg@1.0.0"]}}
}

test_prefix_entry_and_case if {
	log4j := {"name": "log4j-core", "version": "2.14.1", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}
	count(denied.deny) == 1 with input.components as [log4j]
		with data.settings as {"supply_chain": {"denied_packages": ["pkg:maven/Org.Apache.Logging.Log4j/"]}}
}

test_prefix_needs_the_trailing_slash if {
	count(denied.deny) == 0 with input.components as [flatmap]
		with data.settings as {"supply_chain": {"denied_packages": ["pkg:npm/flatmap"]}}
}

test_qualifiers_do_not_hide_a_package if {
	count(denied.deny) == 1 with input.components as [object.union(event_stream, {"purl": "pkg:npm/event-stream@3.3.6?repository_url=https://evil.example"})]
		with data.settings as {"supply_chain": {"denied_packages": ["pkg:npm/event-stream"]}}
}

test_no_list_passes if {
	count(denied.deny) == 0 with input.components as [event_stream]
}
