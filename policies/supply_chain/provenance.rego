# METADATA
# title: Build provenance is present, describes the artifact and comes from an allowed builder
# description: >-
#   Judges SLSA provenance attestations (in-toto statements whose predicate type starts with
#   `https://slsa.dev/provenance/`). Fails when `settings.supply_chain.require_provenance` is
#   true and none was given; when `settings.supply_chain.allowed_builders` (default empty: any)
#   is set and a provenance names another builder (an entry ending in `*` matches by prefix);
#   and when the release names its `artifact_digest` but no provenance subject has that digest.
#   With an attestation key configured (GATEKEEPER_ATTESTATION_KEY), a provenance whose
#   signature does not verify fails the gate and counts as no provenance.
# custom:
#   id: GK-SC-004
#   severity: high
#   requires: [provenance]
#   controls: [PS.2.1, SLSA-BUILD-L1, SLSA-BUILD-L2, SCVS-6.1]
#   remediation: >-
#     Build the artifact on an allowed build platform that emits SLSA provenance (e.g. the
#     SLSA GitHub generator) and pass the provenance for this exact artifact to the gate.
package gatekeeper.supply_chain.provenance

import data.gatekeeper.lib

require_provenance := object.get(lib.settings, ["supply_chain", "require_provenance"], false) == true

allowed_builders := object.get(lib.settings, ["supply_chain", "allowed_builders"], [])

slsa_attestations := [a | some a in input.attestations; startswith(a.predicate_type, "https://slsa.dev/provenance/")]

# A provenance whose signature was checked against the configured key and did not verify
# (`signature_verified: false`) counts for nothing: it cannot satisfy the rules below.
provenance := [a | some a in slsa_attestations; not a.signature_verified == false]

deny contains result if {
	some attestation in slsa_attestations
	attestation.signature_verified == false
	result := {
		"msg": concat("", ["the provenance in ", attestation.source, " is signed, but no signature verifies against the configured attestation key: it may have been forged or altered"]),
		"subject": attestation.source,
		"evidence": {"envelope": attestation.envelope, "signed": attestation.signed},
	}
}

release_name := concat(" ", [x | some x in [input.release.service, input.release.version]; x != null])

deny contains result if {
	require_provenance
	count(provenance) == 0
	result := {
		"msg": concat("", ["no SLSA build provenance was given for ", subject_name, ": pass the provenance attestation of this build to the gate"]),
		"subject": subject_name,
		"evidence": {"attestations": [a.predicate_type | some a in input.attestations]},
	}
}

subject_name := release_name if release_name != ""

else := "the release"

deny contains result if {
	count(allowed_builders) > 0
	some attestation in provenance
	builder := object.get(attestation, "builder_id", null)
	not builder_allowed(builder)
	builder_text_options := {true: builder, false: "an unnamed builder"}
	builder_text := builder_text_options[is_string(builder)]
	result := {
		"msg": concat("", ["the provenance in ", attestation.source, " was produced by ", builder_text, ", which is not an allowed builder"]),
		"subject": attestation.source,
		"evidence": {"builder_id": builder, "allowed_builders": allowed_builders},
	}
}

builder_allowed(builder) if {
	is_string(builder)
	some allowed in allowed_builders
	allowed == builder
}

builder_allowed(builder) if {
	is_string(builder)
	some allowed in allowed_builders
	endswith(allowed, "*")
	startswith(builder, trim_suffix(allowed, "*"))
}

# "sha256:abc…" -> ["sha256", "abc…"]; provenance subjects carry {"sha256": "abc…"}.
deny contains result if {
	count(provenance) > 0
	digest := input.release.artifact_digest
	is_string(digest)
	parts := split(digest, ":")
	count(parts) == 2
	not digest_attested(lower(parts[0]), lower(parts[1]))
	result := {
		"msg": concat("", ["no provenance describes the released artifact ", digest, ": the provenance given is for another build"]),
		"subject": digest,
		"evidence": {"artifact_digest": digest, "provenance_subjects": [s | some a in provenance; some s in a.subjects]},
	}
}

digest_attested(alg, value) if {
	some attestation in provenance
	some subject in attestation.subjects
	lower(object.get(subject.digest, alg, "")) == value
}
