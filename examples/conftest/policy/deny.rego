package main

import data.kubernetes

# Two definitions of the same rule: conftest counts each one as a test.
deny contains msg if {
	kubernetes.is_deployment
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Containers must not run as root in Deployment %s", [input.metadata.name])
}

deny contains msg if {
	kubernetes.is_deployment
	not input.spec.selector.matchLabels.app
	msg := sprintf("Deployment %s must provide an app label for its pod selector", [input.metadata.name])
}
