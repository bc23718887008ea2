package gatekeeper.scaffold.order_test

import data.gatekeeper.scaffold.order

pipeline(gate_position) := {"file": ".gitlab-ci.yml", "system": "gitlab", "steps": [
	{"name": "sbom", "kinds": ["sbom"], "position": 1},
	{"name": "semgrep", "kinds": ["sast"], "position": 2},
	{"name": "gate", "kinds": ["gate"], "position": gate_position},
]}

test_gate_after_scans_passes if {
	count(order.deny) == 0 with input.pipelines as [pipeline(3)]
}

test_gate_before_sast_fails if {
	results := order.deny with input.pipelines as [pipeline(2)]
	count(results) == 1
	some r in results
	r.evidence == {"gate_step": "gate", "step": "semgrep", "kind": "sast"}
}

test_gate_in_parallel_with_sbom_fails if {
	results := order.deny with input.pipelines as [pipeline(1)]
	count(results) == 2
}
