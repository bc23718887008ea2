package gatekeeper.sbom.purl_test

import data.gatekeeper.sbom.purl

# Tests replace input fields (`with input.components as`), never the whole input: regopy
# 1.5.2 segfaults on `with input as` over rules that call any function.

test_component_without_purl_warns if {
	results := purl.warn with input.components as [{"name": "x", "version": "1", "purl": null, "type": "library", "source": "sbom.json"}]
	results == {{
		"msg": "component x 1 has no package URL (purl)",
		"subject": "x",
		"evidence": {"source": "sbom.json"},
	}}
}

test_component_without_version_names_it_alone if {
	results := purl.warn with input.components as [{"name": "x", "version": null, "purl": null, "type": "library", "source": "sbom.json"}]
	some r in results
	r.msg == "component x has no package URL (purl)"
}

test_component_with_purl_passes if {
	count(purl.warn) == 0 with input.components as [{"name": "x", "version": "1", "purl": "pkg:npm/x@1", "type": "library", "source": "sbom.json"}]
}

test_files_and_containers_are_not_judged if {
	count(purl.warn) == 0 with input.components as [
		{"name": "README", "version": null, "purl": null, "type": "file", "source": "sbom.json"},
		{"name": "base", "version": "1", "purl": null, "type": "container", "source": "sbom.json"},
	]
}
