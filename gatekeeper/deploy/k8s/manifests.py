"""Kubernetes manifests for one service: two Deployments (stable, canary) and one Service.

Pure functions: configuration and release in, JSON-ready dicts out (what server-side apply
sends). Nothing here talks to a cluster or imports the ``kubernetes`` client.

Traffic split: the Service selects pods by the ``app`` label, so between the extremes
requests are spread over stable and canary pods **in proportion to their ready replicas**
(kube-proxy picks endpoints at random; with few pods or long-lived connections the real
split drifts from the ratio — it is approximate, unlike the local proxy's exact split). At the
extremes it is exact: weight 0 adds ``track: stable`` to the Service's selector, weight 100
``track: canary``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from gatekeeper.deploy.k8s.config import KubernetesConfig
from gatekeeper.deploy.service_config import ServiceDeployConfig
from gatekeeper.deploy.state import ReleaseRecord
from gatekeeper.deploy.target import CANARY, STABLE
from gatekeeper.errors import InputError

# Label keys the manifests set; Prometheus relabelling turns the pod labels into series labels
# (docs/deployer.md, "Kubernetes target").
LABEL_APP = "app"
LABEL_TRACK = "track"
LABEL_VERSION = "version"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "gatekeeper"
ANNOTATION_PREFIX = "gatekeeper.dev/"
ANN_DECISION = ANNOTATION_PREFIX + "decision-id"
ANN_DIGEST = ANNOTATION_PREFIX + "artifact-digest"
ANN_VERSION = ANNOTATION_PREFIX + "version"
ANN_WEIGHT = ANNOTATION_PREFIX + "canary-weight"
CONTAINER_NAME = "app"
PORT_NAME = "http"
METRICS_PORT_NAME = "metrics"
CANARY_SUFFIX = "-canary"

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Label values: at most 63 characters, alphanumerics plus '-', '_', '.' inside.
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
# Bounded to keep a release's annotation from bloating every object (the API allows 256 KiB).
_DECISION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def deployment_name(app: str, track: str) -> str:
    if track not in (STABLE, CANARY):
        raise ValueError(f"unknown track {track!r}")
    return app if track == STABLE else app + CANARY_SUFFIX


def check_release(release: ReleaseRecord) -> ReleaseRecord:
    """A release the Kubernetes target can run: pinned by digest, with its gate decision, and a
    version usable as a label value. InputError (exit 2) otherwise — never a mutable tag."""
    where = f"release {release.version}"
    if not _LABEL_VALUE.match(release.version):
        raise InputError(
            "version must be a Kubernetes label value (letters, digits, '-', '_', '.', at most "
            "63, starting and ending with a letter or digit; '+' is not allowed) because "
            "Prometheus queries select pods by it",
            path=where,
        )
    if release.artifact_digest is None or not _DIGEST.match(release.artifact_digest):
        raise InputError(
            "needs an artifact digest (sha256:<64 hex>): Kubernetes runs image@digest so that "
            f"what runs is what the gate judged; got {release.artifact_digest!r}",
            path=where,
        )
    if release.decision_id is None or not _DECISION_ID.match(release.decision_id):
        raise InputError(
            f"needs the id of the gate decision that allowed it; got {release.decision_id!r}",
            path=where,
        )
    return release


def split_replicas(total: int, weight: int) -> tuple[int, int]:
    """(stable, canary) pods for a canary weight, out of ``total`` pods per version.

    ``total=10, weight=20`` gives ``(8, 2)``. Any weight above 0 gets at least one canary pod
    and, below 100, at least one stable pod (with ``total=1`` that is one of each: 50 %).
    At 0 the canary is not needed; at 100 stable keeps full strength (no traffic, the Service
    selects the canary only) so that a rollback is a selector change, not a cold start.
    """
    if total < 1:
        raise ValueError("total must be at least 1")
    if not 0 <= weight <= 100:
        raise ValueError("weight must be 0..100")
    if weight == 0:
        return total, 0
    if weight == 100:
        return total, total
    if total == 1:
        return 1, 1
    canary = min(max(1, (total * weight + 50) // 100), total - 1)
    return total - canary, canary


def effective_weight(stable_ready: int, canary_ready: int, weight: int) -> float | None:
    """The share of requests the canary can expect, from ready pods and the Service's
    selector; None when no pod is ready where traffic goes."""
    if weight == 0:
        return 0.0 if stable_ready else None
    if weight == 100:
        return 100.0 if canary_ready else None
    total = stable_ready + canary_ready
    return round(100.0 * canary_ready / total, 1) if total else None


def _labels(app: str, track: str, version: str | None) -> dict[str, str]:
    labels = {
        LABEL_APP: app,
        LABEL_TRACK: track,
        "app.kubernetes.io/name": app,
        MANAGED_BY: MANAGER,
    }
    if version is not None:
        labels[LABEL_VERSION] = version
        labels["app.kubernetes.io/version"] = version
    return labels


def _release_annotations(release: ReleaseRecord) -> dict[str, str]:
    # check_release() has run: both are set.
    return {
        ANN_DECISION: release.decision_id or "",
        ANN_DIGEST: release.artifact_digest or "",
        ANN_VERSION: release.version,
    }


def _quantities(values: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in values.items() if value is not None}


def _probe(k8s: KubernetesConfig, path: str, *, liveness: bool) -> dict[str, Any]:
    probes = k8s.probes
    probe: dict[str, Any] = {
        "httpGet": {"path": path, "port": PORT_NAME, "scheme": "HTTP"},
        "periodSeconds": probes.period_seconds,
        "timeoutSeconds": probes.timeout_seconds,
        "failureThreshold": (
            probes.liveness_failure_threshold if liveness else probes.readiness_failure_threshold
        ),
    }
    if liveness:
        probe["initialDelaySeconds"] = probes.liveness_initial_delay_seconds
    return probe


def _container(
    k8s: KubernetesConfig, deploy: ServiceDeployConfig, release: ReleaseRecord
) -> dict[str, Any]:
    # The port variable last: neither the service nor the release may point the app elsewhere.
    env = {**deploy.env, **release.env, deploy.port_env: str(k8s.container_port)}
    ports: list[dict[str, Any]] = [
        {"name": PORT_NAME, "containerPort": k8s.container_port, "protocol": "TCP"}
    ]
    metrics_port = k8s.prometheus.port
    if metrics_port is not None and metrics_port != k8s.container_port:
        ports.append({"name": METRICS_PORT_NAME, "containerPort": metrics_port, "protocol": "TCP"})
    resources: dict[str, dict[str, str]] = {}
    for key, quantities in (("requests", k8s.resources.requests), ("limits", k8s.resources.limits)):
        values = _quantities({"cpu": quantities.cpu, "memory": quantities.memory})
        if values:
            resources[key] = values
    security: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if k8s.run_as_user is not None:
        security["runAsUser"] = k8s.run_as_user
    return {
        "name": CONTAINER_NAME,
        "image": f"{k8s.image}@{release.artifact_digest}",
        "imagePullPolicy": "IfNotPresent",
        "ports": ports,
        "env": [{"name": name, "value": value} for name, value in sorted(env.items())],
        "readinessProbe": _probe(k8s, deploy.health_path, liveness=False),
        "livenessProbe": _probe(k8s, deploy.health_path, liveness=True),
        "resources": resources,
        "securityContext": security,
        # A read-only root filesystem still needs somewhere to write temporary files.
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - a pod-local emptyDir
    }


def render_deployment(
    app: str,
    k8s: KubernetesConfig,
    deploy: ServiceDeployConfig,
    release: ReleaseRecord,
    *,
    track: str,
    replicas: int,
) -> dict[str, Any]:
    """The Deployment running ``release`` on ``track`` with ``replicas`` pods."""
    check_release(release)
    if replicas < 0:
        raise ValueError("replicas must be >= 0")
    annotations = _release_annotations(release)
    pod_annotations = dict(annotations)
    if k8s.prometheus.scrape:
        pod_annotations.update(
            {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(k8s.prometheus.port or k8s.container_port),
                "prometheus.io/path": k8s.prometheus.path,
            }
        )
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        # SIGTERM, then this long before SIGKILL: the same grace the local target gives.
        "terminationGracePeriodSeconds": math.ceil(deploy.stop_grace_period),
        "securityContext": {
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(k8s, deploy, release)],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
    }
    if k8s.run_as_user is not None:
        pod_spec["securityContext"]["runAsUser"] = k8s.run_as_user
    if k8s.service_account is not None:
        pod_spec["serviceAccountName"] = k8s.service_account
    if k8s.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in k8s.image_pull_secrets]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": deployment_name(app, track),
            "namespace": k8s.namespace,
            "labels": _labels(app, track, release.version),
            "annotations": annotations,
        },
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": max(10, math.ceil(k8s.rollout_timeout)),
            "selector": {"matchLabels": {LABEL_APP: app, LABEL_TRACK: track}},
            # Never fewer ready pods than asked while a Deployment's own template changes
            # (the stable Deployment taking the promoted version).
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
            },
            "template": {
                "metadata": {
                    "labels": _labels(app, track, release.version),
                    "annotations": pod_annotations,
                },
                "spec": pod_spec,
            },
        },
    }


def service_selector(app: str, weight: int) -> dict[str, str]:
    if weight == 0:
        return {LABEL_APP: app, LABEL_TRACK: STABLE}
    if weight == 100:
        return {LABEL_APP: app, LABEL_TRACK: CANARY}
    return {LABEL_APP: app}


def render_service(app: str, k8s: KubernetesConfig, *, weight: int) -> dict[str, Any]:
    """The Service in front of both tracks; ``weight`` picks its selector (see module doc)."""
    if not 0 <= weight <= 100:
        raise ValueError("weight must be 0..100")
    labels = {LABEL_APP: app, "app.kubernetes.io/name": app, MANAGED_BY: MANAGER}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": app,
            "namespace": k8s.namespace,
            "labels": labels,
            "annotations": {ANN_WEIGHT: str(weight)},
        },
        "spec": {
            "type": k8s.service_type,
            "selector": service_selector(app, weight),
            "ports": [
                {
                    "name": PORT_NAME,
                    "port": k8s.service_port,
                    "targetPort": PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }


def render_all(
    app: str,
    k8s: KubernetesConfig,
    deploy: ServiceDeployConfig,
    *,
    stable: ReleaseRecord,
    canary: ReleaseRecord | None,
    total: int,
    weight: int,
) -> list[dict[str, Any]]:
    """Every object for one moment of a canary at ``weight`` (for ``--dry-run`` and docs)."""
    stable_n, canary_n = split_replicas(total, weight)
    objects = [render_deployment(app, k8s, deploy, stable, track=STABLE, replicas=stable_n)]
    if canary is not None:
        objects.append(render_deployment(app, k8s, deploy, canary, track=CANARY, replicas=canary_n))
    objects.append(render_service(app, k8s, weight=weight if canary is not None else 0))
    return objects
