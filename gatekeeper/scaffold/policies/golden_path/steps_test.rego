package gatekeeper.scaffold.steps_test

import data.gatekeeper.scaffold.steps

# `with input.<field> as`, never whole-input `with input as` (regopy, docs/policy-authoring.md).
full := {"file": ".github/workflows/ci.yml", "system": "github", "steps": [
	{"name": "sbom", "kinds": ["sbom"], "position": 1},
	{"name": "semgrep", "kinds": ["sast"], "position": 2},
	{"name": "audit", "kinds": ["dependency-scan"], "position": 3},
	{"name": "gate", "kinds": ["gate"], "position": 4},
]}

test_complete_pipeline_passes if {
	count(steps.deny) == 0 with input.pipelines as [full]
}

test_missing_gate_step_is_named if {
	partial := object.union(full, {"steps": array.slice(full.steps, 0, 3)})
	results := steps.deny with input.pipelines as [partial]
	count(results) == 1
	some r in results
	r.evidence.step == "gate"
	contains(r.msg, "missing step: gate (gatekeeper gate run)")
}

test_no_ci_file_fails if {
	results := steps.deny with input.pipelines as []
	"no CI file found: expected .github/workflows/*.yml or .gitlab-ci.yml" in results
}

test_required_steps_from_data if {
	only_gate := object.union(full, {"steps": [{"name": "gate", "kinds": ["gate"], "position": 1}]})
	count(steps.deny) == 0 with input.pipelines as [only_gate]
		with data.settings as {"scaffold": {"required_steps": ["gate"]}}
}
