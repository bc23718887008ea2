# METADATA
# title: The gate runs after the evidence it judges
# description: >-
#   In each CI file, every gate step comes strictly after the SBOM, SAST and dependency-scan
#   steps (`settings.scaffold.before_gate`): a gate that runs first, or in parallel, judges
#   missing or stale evidence.
# custom:
#   id: GK-GP-002
#   severity: high
#   controls: [PO.4.1, PO.3.2]
#   remediation: >-
#     Move the gate step after the scans (GitHub: later in the job, or in a job that `needs`
#     them; GitLab: a later stage).
package gatekeeper.scaffold.order

default settings := {}

settings := data.settings

before_gate := object.get(object.get(settings, "scaffold", {}), "before_gate", ["sbom", "sast", "dependency-scan"])

deny contains result if {
	some pipeline in input.pipelines
	some gate in pipeline.steps
	"gate" in gate.kinds
	some step in pipeline.steps
	some kind in step.kinds
	kind in before_gate
	step.position >= gate.position
	result := {
		"msg": concat("", [pipeline.file, ": gate step '", gate.name, "' must run after the ", kind, " step '", step.name, "'"]),
		"subject": pipeline.file,
		"evidence": {"gate_step": gate.name, "step": step.name, "kind": kind},
	}
}
