"""The Kubernetes deploy target: manifests, API calls, and the target (docs/deployer.md).

Importing this package does not import the ``kubernetes`` client (the ``k8s`` extra); only
talking to a cluster does.
"""
