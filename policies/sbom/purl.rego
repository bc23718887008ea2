# METADATA
# title: Every component has a package URL
# description: >-
#   Warns for each component without a purl: vulnerability matching and deny-lists identify
#   components by purl, so a component without one is invisible to them.
# custom:
#   id: GK-SBOM-003
#   severity: medium
#   requires: [sbom]
#   controls: [PS.3.2]
#   remediation: >-
#     Regenerate the SBOM with a generator that records package URLs, or add `purl` to the
#     component by hand.
package gatekeeper.sbom.purl

warn contains result if {
	some component in input.components
	component.purl == null
	component.type in {"library", "framework", "application"}

	# "name version", or just the name. Built with concat, not sprintf: sprintf("%s") of
	# null differs between engines, and regopy 1.5.2 corrupts sprintf output whose
	# arguments were computed by concat.
	label := concat(" ", [x | some x in [component.name, object.get(component, "version", null)]; x != null])
	result := {
		"msg": concat("", ["component ", label, " has no package URL (purl)"]),
		"subject": component.name,
		"evidence": {"source": object.get(component, "source", null)},
	}
}
