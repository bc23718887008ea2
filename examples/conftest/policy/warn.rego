package main

import data.kubernetes

warn contains msg if {
	kubernetes.is_service
	input.spec.type == "LoadBalancer"
	msg := sprintf("Service %s is exposed through a LoadBalancer", [input.metadata.name])
}
