# METADATA
# title: Golden-path steps keep their required flags
# description: >-
#   The gate may not be allowed to fail (`continue-on-error`, `allow_failure`, `|| true`), and
#   writes the reports the CI displays natively (`settings.scaffold.gate_outputs`; default:
#   GitHub sarif and markdown, GitLab junit). semgrep runs with `--metrics=off`, so it neither
#   phones home nor hangs offline.
# custom:
#   id: GK-GP-003
#   severity: high
#   controls: [PO.4.2, PO.3.2]
#   remediation: >-
#     Restore the flags of the template's step (see the generated .github/workflows/ci.yml and
#     .gitlab-ci.yml).
package gatekeeper.scaffold.flags

default settings := {}

settings := data.settings

default_outputs := {"github": ["sarif", "markdown"], "gitlab": ["junit"]}

gate_outputs := object.get(object.get(settings, "scaffold", {}), "gate_outputs", default_outputs)

deny contains result if {
	some pipeline in input.pipelines
	some step in pipeline.steps
	"gate" in step.kinds
	step.may_fail == true
	result := {
		"msg": concat("", [pipeline.file, ": gate step '", step.name, "' is allowed to fail (continue-on-error / allow_failure): a failed gate must stop the pipeline"]),
		"subject": pipeline.file,
		"evidence": {"step": step.name},
	}
}

deny contains result if {
	some pipeline in input.pipelines
	some step in pipeline.steps
	some command in step.commands
	command.kind == "gate"
	command.may_fail == true
	result := {
		"msg": concat("", [pipeline.file, ": gate step '", step.name, "' ignores the gate's exit code (`|| ...`): a failed gate must stop the pipeline"]),
		"subject": pipeline.file,
		"evidence": {"step": step.name, "argv": command.argv},
	}
}

deny contains result if {
	some pipeline in input.pipelines
	some step in pipeline.steps
	some command in step.commands
	command.kind == "gate"
	some format in object.get(gate_outputs, pipeline.system, [])
	not format in command.outputs
	result := {
		"msg": concat("", [pipeline.file, ": gate step '", step.name, "' must write a ", format, " report (-o ", format, "=PATH) for the CI's own display"]),
		"subject": pipeline.file,
		"evidence": {"step": step.name, "missing_output": format},
	}
}

metrics_off(argv) if "--metrics=off" in argv

metrics_off(argv) if {
	some i
	argv[i] == "--metrics"
	argv[i + 1] == "off"
}

deny contains result if {
	some pipeline in input.pipelines
	some step in pipeline.steps
	some command in step.commands
	command.tool == "semgrep"
	not metrics_off(command.argv)
	result := {
		"msg": concat("", [pipeline.file, ": sast step '", step.name, "' must run semgrep with --metrics=off"]),
		"subject": pipeline.file,
		"evidence": {"step": step.name},
	}
}
