"""Builders shared by the Kubernetes target tests."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from gatekeeper.deploy.k8s.target import KubernetesTarget
from gatekeeper.deploy.service_config import ServiceDeployConfig
from gatekeeper.deploy.state import ReleaseRecord
from tests.deploy.k8s.fakeapi import FakeApiServer

NAMESPACE = "shop"
APP = "payments"
IMAGE = "registry.example.com/shop/payments"


def digest_of(version: str) -> str:
    return "sha256:" + hashlib.sha256(version.encode()).hexdigest()


def release(version: str, **extra: Any) -> ReleaseRecord:
    fields: dict[str, Any] = {
        "version": version,
        "workdir": "",
        "artifact_digest": digest_of(version),
        "decision_id": f"dec-{version}",
    }
    fields.update(extra)
    return ReleaseRecord.model_validate(fields)


def service_config(replicas: int = 10, **k8s: Any) -> ServiceDeployConfig:
    kubernetes: dict[str, Any] = {"namespace": NAMESPACE, "image": IMAGE}
    kubernetes.update(k8s)
    return ServiceDeployConfig.model_validate(
        {
            "start": ["python", "-m", "app"],
            "health_path": "/healthz",
            "replicas": replicas,
            "env": {"LOG_LEVEL": "info"},
            "kubernetes": kubernetes,
        }
    )


def make_target(
    server: FakeApiServer, root: Path, *, replicas: int = 10, lock: bool = True, **k8s: Any
) -> KubernetesTarget:
    """A target that reaches the fake server through a real kubeconfig file."""
    kubeconfig = server.write_kubeconfig(root / "kubeconfig", namespace=NAMESPACE)
    settings: dict[str, Any] = {
        "kubeconfig": str(kubeconfig),
        "poll_interval": 0.005,
        "rollout_timeout": 20,
        "request_timeout": 5,
    }
    settings.update(k8s)
    return KubernetesTarget(APP, service_config(replicas, **settings), root=root, lock=lock)


def image_of(obj: dict[str, Any]) -> str:
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])
