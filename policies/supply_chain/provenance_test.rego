package gatekeeper.supply_chain.provenance_test

import data.gatekeeper.supply_chain.provenance

# Tests replace input fields (`with input.attestations as`, `with input.release as`), never
# the whole input; settings are literals.
slsa := {
	"predicate_type": "https://slsa.dev/provenance/v1",
	"builder_id": "https://github.com/actions/runner/github-hosted",
	"build_type": "https://actions.github.io/buildtypes/workflow/v1",
	"subjects": [{"name": "registry.example.com/app", "digest": {"sha256": "abc123"}}],
	"source": "provenance.intoto.json",
}

release := {"service": "app", "version": "1.0.0", "artifact_digest": "sha256:abc123"}

test_matching_provenance_passes if {
	count(provenance.deny) == 0 with input.attestations as [slsa] with input.release as object.union(release, {})
		with data.settings as {"supply_chain": {"require_provenance": true, "allowed_builders": ["https://github.com/actions/runner/github-hosted"]}}
}

test_required_but_missing_fails if {
	results := provenance.deny with input.attestations as [] with input.release as object.union(release, {})
		with data.settings as {"supply_chain": {"require_provenance": true}}
	results == {{
		"msg": "no SLSA build provenance was given for app 1.0.0: pass the provenance attestation of this build to the gate",
		"subject": "app 1.0.0",
		"evidence": {"attestations": []},
	}}
}

test_not_required_by_default if {
	count(provenance.deny) == 0 with input.attestations as [] with input.release as object.union(release, {})
}

test_other_attestations_are_not_provenance if {
	count(provenance.deny) == 1 with input.attestations as [object.union(slsa, {"predicate_type": "https://cyclonedx.org/bom"})]
		with input.release as object.union(release, {})
		with data.settings as {"supply_chain": {"require_provenance": true}}
}

test_builder_not_allowed_fails if {
	results := provenance.deny with input.attestations as [object.union(slsa, {"builder_id": "https://ci.example.com/laptop"})]
		with input.release as object.union(release, {})
		with data.settings as {"supply_chain": {"allowed_builders": ["https://github.com/actions/runner/github-hosted"]}}
	some r in results
	r.msg == "the provenance in provenance.intoto.json was produced by https://ci.example.com/laptop, which is not an allowed builder"
}

test_unnamed_builder_fails_when_builders_are_listed if {
	count(provenance.deny) == 1 with input.attestations as [object.union(slsa, {"builder_id": null})]
		with input.release as object.union(release, {})
		with data.settings as {"supply_chain": {"allowed_builders": ["https://github.com/actions/runner/github-hosted"]}}
}

test_builder_prefix_with_star if {
	generator := "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.0.0"
	count(provenance.deny) == 0 with input.attestations as [object.union(slsa, {"builder_id": generator})]
		with input.release as object.union(release, {})
		with data.settings as {"supply_chain": {"allowed_builders": ["https://github.com/slsa-framework/slsa-github-generator/*"]}}
}

test_provenance_for_another_artifact_fails if {
	results := provenance.deny with input.attestations as [slsa]
		with input.release as object.union(release, {"artifact_digest": "sha256:fff999"})
	results == {{
		"msg": "no provenance describes the released artifact sha256:fff999: the provenance given is for another build",
		"subject": "sha256:fff999",
		"evidence": {"artifact_digest": "sha256:fff999", "provenance_subjects": [{"name": "registry.example.com/app", "digest": {"sha256": "abc123"}}]},
	}}
}

test_no_artifact_digest_skips_the_subject_check if {
	count(provenance.deny) == 0 with input.attestations as [slsa]
		with input.release as object.union(release, {"artifact_digest": null})
}

test_provenance_whose_signature_does_not_verify_fails_and_counts_for_nothing if {
	forged := object.union(slsa, {"envelope": "sigstore-bundle", "signed": true, "signature_verified": false})
	results := provenance.deny with input.attestations as [forged] with input.release as object.union(release, {})
		with data.settings as {"supply_chain": {"require_provenance": true}}
	count(results) == 2
	some r in results
	contains(r.msg, "no signature verifies")
}

test_verified_and_unchecked_provenance_both_count if {
	verified := object.union(slsa, {"envelope": "dsse", "signed": true, "signature_verified": true})
	count(provenance.deny) == 0 with input.attestations as [verified] with input.release as object.union(release, {})
}
