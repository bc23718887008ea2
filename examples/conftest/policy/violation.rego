package main

import data.kubernetes

violation contains {"msg": msg, "details": {"replicas": input.spec.replicas}} if {
	kubernetes.is_deployment
	input.spec.replicas < 2
	msg := sprintf("Deployment %s must run at least 2 replicas", [input.metadata.name])
}
