package gatekeeper.supply_chain.pinning_test

import data.gatekeeper.supply_chain.pinning

# Tests replace input fields (`with input.components as`), never the whole input.
lib := {"name": "lodash", "version": "4.17.21", "purl": "pkg:npm/lodash@4.17.21", "type": "library", "source": "sbom.json"}

unpinned(version) := results if {
	results := pinning.deny with input.components as [object.union(lib, {"version": version})]
}

test_exact_versions_pass if {
	every v in ["4.17.21", "2.0.0-rc.1", "1.0.0+build.5", "v1.2.3", "2024.1", "1.2.3-x.7"] {
		count(unpinned(v)) == 0
	}
}

test_ranges_fail if {
	every v in ["^4.17.0", "~4.17", "~=1.2", ">=1.0", "<2", "!=1.3", "4.x", "4.17.*", "*", "latest", "x", "1.0 - 2.0", "1 || 2", "[1.0,2.0)", "(,1.0]"] {
		count(unpinned(v)) == 1
	}
}

test_range_message if {
	unpinned("^4.17.0") == {{
		"msg": "component lodash@^4.17.0 has the version range '^4.17.0', not a pinned version: pin an exact version",
		"subject": "pkg:npm/lodash@4.17.21",
		"evidence": {"version": "^4.17.0", "source": "sbom.json"},
	}}
}

test_missing_version_fails if {
	results := unpinned(null)
	some r in results
	r.msg == "component lodash has no version: pin an exact version"
	count(unpinned("")) == 1
}

test_applications_and_files_are_not_judged_by_default if {
	count(pinning.deny) == 0 with input.components as [object.union(lib, {"type": "file", "version": null}), object.union(lib, {"type": "application", "version": "^1"})]
}

test_types_from_data if {
	count(pinning.deny) == 1 with input.components as [object.union(lib, {"type": "application", "version": "^1"})]
		with data.settings as {"supply_chain": {"pin_types": ["application"]}}
}
