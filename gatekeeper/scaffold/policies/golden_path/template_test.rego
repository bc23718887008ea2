package gatekeeper.scaffold.template_test

import data.gatekeeper.scaffold.template

record(version, parts) := {"id": "python-service", "version": version, "version_parts": parts}

test_current_version_passes if {
	count(template.deny) == 0 with input.template as record("1.1.0", [1, 1, 0])
}

test_missing_record_fails if {
	results := template.deny with input.template as null
	"no .gatekeeper/template.json: the service was not generated from a golden-path template" in results
}

test_version_older_than_minimum_fails if {
	results := template.deny with input.template as record("1.0.0", [1, 0, 0])
		with data.settings as {"scaffold": {"min_template_versions": {"python-service": "1.1.0"}}}
	count(results) == 1
	some r in results
	r.evidence == {"version": "1.0.0", "minimum": "1.1.0"}
}

test_older_patch_and_minor_compare_numerically if {
	results := template.deny with input.template as record("1.9.0", [1, 9, 0])
		with data.settings as {"scaffold": {"min_template_versions": {"python-service": "1.10.0"}}}
	count(results) == 1
}

test_older_major_fails if {
	results := template.deny with input.template as record("0.9.0", [0, 9, 0])
	count(results) == 1
}

test_older_patch_fails if {
	results := template.deny with input.template as record("1.1.0", [1, 1, 0])
		with data.settings as {"scaffold": {"min_template_versions": {"python-service": "1.1.2"}}}
	count(results) == 1
}
