package gatekeeper.sbom.present_test

import data.gatekeeper.sbom.present

# Tests replace input fields (`with input.sbom as`), never the whole input: regopy 1.5.2
# segfaults on `with input as` over rules that call any function (docs/policy-authoring.md).

test_missing_sbom_fails if {
	present.deny == {"no SBOM was given: pass a CycloneDX or SPDX SBOM to the gate"} with input.sbom as {"present": false}
}

test_sbom_given_passes if {
	count(present.deny) == 0 with input.sbom as {"present": true}
}

test_no_sbom_facts_at_all_fails if {
	count(present.deny) == 1 with input.components as []
}
