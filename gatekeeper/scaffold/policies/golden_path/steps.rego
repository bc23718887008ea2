# METADATA
# title: The pipeline runs every golden-path step
# description: >-
#   Each CI file of the service (GitHub workflow, GitLab CI) has an SBOM, a SAST, a dependency
#   scan and a gate step (`settings.scaffold.required_steps`). A service without any CI file
#   fails too.
# custom:
#   id: GK-GP-001
#   severity: high
#   controls: [PO.4.1, PO.3.2, PS.3.2, PW.7.2]
#   remediation: >-
#     Restore the step from the template: `gatekeeper scaffold new TEMPLATE /tmp/x --dry-run`
#     shows the golden-path files, `gatekeeper scaffold update` brings in template changes.
package gatekeeper.scaffold.steps

default settings := {}

settings := data.settings

default_required := ["sbom", "sast", "dependency-scan", "gate"]

required := object.get(object.get(settings, "scaffold", {}), "required_steps", default_required)

hints := {
	"test": "pytest",
	"sbom": "cyclonedx-py",
	"sast": "semgrep",
	"dependency-scan": "pip-audit or osv-scanner",
	"gate": "gatekeeper gate run",
	"deploy": "gatekeeper deploy",
}

has_kind(pipeline, kind) if {
	some step in pipeline.steps
	kind in step.kinds
}

deny contains result if {
	some pipeline in input.pipelines
	some kind in required
	not has_kind(pipeline, kind)
	result := {
		"msg": concat("", [pipeline.file, ": missing step: ", kind, " (", object.get(hints, kind, kind), ")"]),
		"subject": pipeline.file,
		"evidence": {"step": kind, "system": pipeline.system},
	}
}

deny contains "no CI file found: expected .github/workflows/*.yml or .gitlab-ci.yml" if {
	count(input.pipelines) == 0
}
