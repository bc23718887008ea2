# METADATA
# title: An SBOM is part of the release evidence
# description: >-
#   Fails when no SBOM (CycloneDX or SPDX) was given to the gate: without one, no other
#   component, license or vulnerability policy can vouch for the release.
# custom:
#   id: GK-SBOM-001
#   severity: high
#   controls: [PS.3.2, PW.4.1]
#   remediation: >-
#     Generate an SBOM in the pipeline (e.g. `cyclonedx-py environment -o sbom.cdx.json`) and
#     pass it to `gatekeeper gate run`.
package gatekeeper.sbom.present

deny contains "no SBOM was given: pass a CycloneDX or SPDX SBOM to the gate" if {
	not input.sbom.present
}
