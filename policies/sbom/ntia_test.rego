package gatekeeper.sbom.ntia_test

import data.gatekeeper.sbom.ntia

# Tests replace input fields (`with input.sbom as`, `with input.components as`), never the
# whole input: regopy 1.5.2 segfaults on `with input as` over rules that call any function.
complete := {"name": "lib", "version": "1.0", "purl": "pkg:npm/lib@1.0", "supplier": "ACME", "hashes": [], "ref": "lib"}

bare := {"name": "helper", "version": null, "purl": null, "supplier": null, "hashes": [], "ref": null}

sbom := {
	"present": true,
	"files": ["sbom.cdx.json"],
	"timestamp": "2026-11-20T09:14:03Z",
	"authors": ["Platform Team"],
	"has_dependencies": true,
}

test_complete_sbom_passes if {
	count(ntia.deny) == 0 with input.sbom as object.union(sbom, {}) with input.components as [complete]
	ntia.score == 1 with input.sbom as object.union(sbom, {}) with input.components as [complete]
}

test_score_is_the_mean_of_the_seven_elements if {
	# supplier 0.5, version 0.5, unique id 0.5, name 1, dependencies 0, author 1, timestamp 1.
	ntia.score == 4.5 / 7 with input.sbom as object.union(sbom, {"has_dependencies": false})
		with input.components as [complete, bare]
}

test_below_threshold_fails_with_score_and_missing_elements if {
	results := ntia.deny with input.sbom as object.union(sbom, {"has_dependencies": false})
		with input.components as [complete, bare]
	results == {{
		"msg": "SBOM NTIA minimum-elements score is 0.64, below 0.8; incomplete: dependencies, supplier (50% of components), unique_id (50% of components), version (50% of components)",
		"subject": "sbom.cdx.json",
		"evidence": {
			"score": 0.64,
			"min_score": 0.8,
			"elements": {"supplier": 0.5, "name": 1, "version": 0.5, "unique_id": 0.5, "dependencies": 0, "author": 1, "timestamp": 1},
			"missing": ["dependencies", "supplier (50% of components)", "unique_id (50% of components)", "version (50% of components)"],
			"components": 2,
		},
	}}
}

test_hashes_or_ref_are_a_unique_id if {
	ntia.elements.unique_id == 1 with input.sbom as object.union(sbom, {}) with input.components as [
		object.union(bare, {"hashes": [{"alg": "SHA-256", "value": "ab"}]}),
		object.union(bare, {"ref": "helper-1"}),
	]
}

test_missing_author_and_timestamp_count if {
	results := ntia.deny with input.sbom as object.union(sbom, {"authors": [], "timestamp": null, "has_dependencies": false})
		with input.components as [complete]
	some r in results
	r.evidence.missing == ["author", "dependencies", "timestamp"]
}

test_threshold_from_data if {
	count(ntia.deny) == 0 with input.sbom as object.union(sbom, {"has_dependencies": false})
		with input.components as [complete, bare]
		with data.settings as {"sbom": {"ntia_min_score": 0.6}}
}

test_sbom_without_components_fails if {
	count(ntia.deny) == 1 with input.sbom as object.union(sbom, {}) with input.components as []
}

test_no_sbom_is_left_to_gk_sbom_001 if {
	count(ntia.deny) == 0 with input.sbom as {"present": false} with input.components as []
}
