package gatekeeper.supply_chain.duplicates_test

import data.gatekeeper.supply_chain.duplicates

# Tests replace input fields (`with input.components as`), never the whole input.
lodash(version) := {"name": "lodash", "version": version, "purl": concat("", ["pkg:npm/lodash@", version])}

test_two_versions_warn if {
	results := duplicates.warn with input.components as [lodash("4.17.21"), lodash("4.17.15"), lodash("4.17.21")]
	results == {{
		"msg": "pkg:npm/lodash is present in 2 versions (4.17.15, 4.17.21): align on one",
		"subject": "pkg:npm/lodash",
		"evidence": {"package": "pkg:npm/lodash", "versions": ["4.17.15", "4.17.21"]},
	}}
	count(duplicates.deny) == 0 with input.components as [lodash("4.17.21"), lodash("4.17.15")]
}

test_same_version_twice_passes if {
	count(duplicates.warn) == 0 with input.components as [lodash("4.17.21"), lodash("4.17.21")]
}

test_same_name_other_ecosystem_passes if {
	pypi := {"name": "lodash", "version": "1.0", "purl": "pkg:pypi/lodash@1.0"}
	count(duplicates.warn) == 0 with input.components as [lodash("4.17.21"), pypi]
}

test_qualifiers_are_ignored if {
	count(duplicates.warn) == 1 with input.components as [lodash("4.17.21"), object.union(lodash("4.17.15"), {"purl": "pkg:npm/lodash@4.17.15?arch=x"})]
}

test_components_without_purl_are_not_compared if {
	count(duplicates.warn) == 0 with input.components as [object.union(lodash("1"), {"purl": null}), object.union(lodash("2"), {"purl": null})]
}

test_fail_on_duplicates_from_data if {
	count(duplicates.deny) == 1 with input.components as [lodash("4.17.21"), lodash("4.17.15")]
		with data.settings as {"supply_chain": {"fail_on_duplicates": true}}
}
