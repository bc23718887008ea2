package gatekeeper.scaffold.flags_test

import data.gatekeeper.scaffold.flags

gate_command := {"kind": "gate", "tool": "gatekeeper", "may_fail": false, "outputs": ["sarif", "markdown"], "argv": ["gatekeeper", "gate", "run"]}

semgrep_command := {"kind": "sast", "tool": "semgrep", "may_fail": false, "outputs": [], "argv": ["semgrep", "scan", "--metrics=off"]}

pipeline(gate, semgrep, step_may_fail) := {"file": "ci.yml", "system": "github", "steps": [
	{"name": "sast", "kinds": ["sast"], "position": 1, "may_fail": false, "commands": [semgrep]},
	{"name": "gate", "kinds": ["gate"], "position": 2, "may_fail": step_may_fail, "commands": [gate]},
]}

test_golden_flags_pass if {
	count(flags.deny) == 0 with input.pipelines as [pipeline(gate_command, semgrep_command, false)]
}

test_gate_step_allowed_to_fail_is_denied if {
	results := flags.deny with input.pipelines as [pipeline(gate_command, semgrep_command, true)]
	count(results) == 1
	some r in results
	contains(r.msg, "is allowed to fail")
}

test_gate_exit_code_ignored_is_denied if {
	ignoring := object.union(gate_command, {"may_fail": true})
	results := flags.deny with input.pipelines as [pipeline(ignoring, semgrep_command, false)]
	some r in results
	contains(r.msg, "ignores the gate's exit code")
}

test_missing_sarif_output_is_denied if {
	no_sarif := object.union(gate_command, {"outputs": ["markdown"]})
	results := flags.deny with input.pipelines as [pipeline(no_sarif, semgrep_command, false)]
	count(results) == 1
	some r in results
	r.evidence.missing_output == "sarif"
}

test_semgrep_metrics_as_two_arguments_pass if {
	split_flag := object.union(semgrep_command, {"argv": ["semgrep", "--metrics", "off"]})
	count(flags.deny) == 0 with input.pipelines as [pipeline(gate_command, split_flag, false)]
}

test_semgrep_without_metrics_off_is_denied if {
	phoning_home := object.union(semgrep_command, {"argv": ["semgrep", "scan"]})
	results := flags.deny with input.pipelines as [pipeline(gate_command, phoning_home, false)]
	some r in results
	contains(r.msg, "--metrics=off")
}
