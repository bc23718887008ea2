"""Rendered manifests: valid against the Kubernetes OpenAPI schema (offline, strict), and
carrying what users rely on — pinned image, probes, hardening, audit annotations, replica
ratios."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from gatekeeper.deploy.k8s import manifests
from gatekeeper.deploy.k8s.config import KubernetesConfig
from gatekeeper.deploy.service_config import ServiceDeployConfig, load_service_deploy_config
from gatekeeper.errors import ConfigError, InputError
from tests.deploy.k8s.helpers import APP, IMAGE, digest_of, image_of, release, service_config

# The oldest and newest schemas kubernetes-validate ships, and one in between.
SCHEMA_VERSIONS = ("1.25.0", "1.30.0", "1.37.0")

FULL: dict[str, Any] = {
    "run_as_user": 10001,
    "service_account": "payments-runtime",
    "image_pull_secrets": ["regcred"],
    "prometheus": {"scrape": True, "port": 9102, "path": "/metrics"},
    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1"}},
    "service_type": "LoadBalancer",
}


def every_object(config: ServiceDeployConfig) -> list[dict[str, Any]]:
    k8s = config.kubernetes
    assert k8s is not None
    objects: list[dict[str, Any]] = []
    for weight in (0, 20, 50, 100):
        objects += manifests.render_all(
            APP, k8s, config, stable=release("v1"), canary=release("v2"), total=10, weight=weight
        )
    return objects


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
@pytest.mark.parametrize("settings", [{}, FULL], ids=["defaults", "all-options"])
def test_every_manifest_validates_against_the_kubernetes_schema(
    version: str, settings: dict[str, Any]
) -> None:
    for obj in every_object(service_config(**settings)):
        # strict: unknown or misspelt fields are errors, as with kubectl --validate=strict.
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_schema_check_rejects_a_broken_manifest() -> None:
    """The validation above can fail: a misspelt field and a wrong type are caught."""
    config = service_config()
    assert config.kubernetes is not None
    good = manifests.render_deployment(
        APP, config.kubernetes, config, release("v1"), track="stable", replicas=2
    )
    misspelt = copy.deepcopy(good)
    misspelt["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    wrong_type = copy.deepcopy(good)
    wrong_type["spec"]["replicas"] = "two"
    for bad in (misspelt, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, "1.37.0", strict=True)


def test_manifests_round_trip_through_the_official_client_models() -> None:
    from kubernetes.client import ApiClient, V1Deployment, V1Service

    serialize = ApiClient().sanitize_for_serialization
    for obj in every_object(service_config(**FULL)):
        model = V1Deployment if obj["kind"] == "Deployment" else V1Service
        parsed = model.from_dict(obj)
        assert parsed is not None
        # Nothing lost or renamed on the way through the client's typed models.
        assert serialize(parsed) == obj


def render(track: str = "canary", **settings: Any) -> dict[str, Any]:
    config = service_config(**settings)
    assert config.kubernetes is not None
    return manifests.render_deployment(
        APP, config.kubernetes, config, release("v2"), track=track, replicas=2
    )


def test_deployment_runs_the_judged_artifact_and_records_the_decision() -> None:
    obj = render()
    assert image_of(obj) == f"{IMAGE}@{digest_of('v2')}"
    for meta in (obj["metadata"], obj["spec"]["template"]["metadata"]):
        assert meta["annotations"][manifests.ANN_DECISION] == "dec-v2"
        assert meta["annotations"][manifests.ANN_DIGEST] == digest_of("v2")
    labels = obj["spec"]["template"]["metadata"]["labels"]
    assert labels["version"] == "v2" and labels["track"] == "canary" and labels["app"] == APP
    # The API server refuses a selector its own template does not match.
    selector = obj["spec"]["selector"]["matchLabels"]
    assert selector == {"app": APP, "track": "canary"}
    assert selector.items() <= labels.items()
    assert obj["metadata"]["name"] == f"{APP}-canary"


def test_pod_is_hardened_and_probed_on_the_health_path() -> None:
    obj = render()
    pod = obj["spec"]["template"]["spec"]
    container = pod["containers"][0]
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http", "scheme": "HTTP"}
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"memory": "256Mi"},
    }
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env == {"LOG_LEVEL": "info", "PORT": "8080"}


def test_prometheus_annotations_point_at_the_metrics_port() -> None:
    annotations = render(**FULL)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9102"
    off = render(prometheus={"scrape": False})["spec"]["template"]["metadata"]["annotations"]
    assert not any(key.startswith("prometheus.io/") for key in off)


@pytest.mark.parametrize(
    ("total", "weight", "expected"),
    [
        (10, 20, (8, 2)),
        (10, 50, (5, 5)),
        (10, 1, (9, 1)),  # any weight gets at least one canary pod
        (10, 99, (1, 9)),  # and below 100 at least one stable pod
        (10, 0, (10, 0)),
        (10, 100, (10, 10)),  # stable kept for an instant rollback; the selector does the rest
        (3, 25, (2, 1)),
        (1, 30, (1, 1)),
    ],
)
def test_replica_split(total: int, weight: int, expected: tuple[int, int]) -> None:
    assert manifests.split_replicas(total, weight) == expected


def test_service_selects_both_tracks_only_between_the_extremes() -> None:
    config = service_config()
    assert config.kubernetes is not None
    selectors = {
        weight: manifests.render_service(APP, config.kubernetes, weight=weight)["spec"]["selector"]
        for weight in (0, 30, 100)
    }
    assert selectors == {
        0: {"app": APP, "track": "stable"},
        30: {"app": APP},
        100: {"app": APP, "track": "canary"},
    }


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"artifact_digest": None}, "artifact digest"),
        ({"artifact_digest": "latest"}, "artifact digest"),
        ({"decision_id": None}, "gate decision"),
        ({"version": "1.2.3+build.5"}, "label value"),
    ],
)
def test_a_release_that_cannot_be_pinned_is_refused(change: dict[str, Any], complaint: str) -> None:
    bad = release("v2", **{k: v for k, v in change.items() if k != "version"})
    if "version" in change:
        bad = bad.model_copy(update={"version": change["version"]})
    with pytest.raises(InputError, match=complaint) as caught:
        manifests.check_release(bad)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"image": f"{IMAGE}@{digest_of('x')}"}, "digest is taken from the release"),
        ({"image": "Not An Image"}, "not an image repository"),
        ({"namespace": "Shop"}, "DNS-1123"),
        ({"name": "pay_ments"}, "lowercase"),
        ({"resources": {"requests": {"cpu": "lots"}}}, "quantity"),
        ({"replicas": 0}, "greater than or equal to 1"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_bad_kubernetes_settings_are_refused(settings: dict[str, Any], complaint: str) -> None:
    values = {"image": IMAGE, **settings}
    with pytest.raises(ValueError, match=complaint):
        KubernetesConfig.model_validate(values)


def test_settings_error_in_gatekeeper_yaml_names_file_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(
        "deploy:\n"
        "  start: [python, -m, app]\n"
        "  kubernetes:\n"
        "    image: registry.example.com/payments\n"
        "    service_port: 70000\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_service_deploy_config(path)
    text = str(caught.value)
    assert str(path) in text and ":5" in text and "service_port" in text
    assert caught.value.exit_code == 2


def test_kubernetes_section_loads_from_gatekeeper_yaml(tmp_path: Path) -> None:
    path = tmp_path / "gatekeeper.yaml"
    path.write_text(
        "deploy:\n"
        "  start: [python, -m, app]\n"
        "  replicas: 4\n"
        "  kubernetes:\n"
        "    namespace: shop\n"
        "    image: registry.example.com/payments:1.4\n",
        encoding="utf-8",
    )
    config = load_service_deploy_config(path)
    assert config.kubernetes is not None
    assert config.kubernetes.namespace == "shop"
    obj = manifests.render_deployment(
        "payments", config.kubernetes, config, release("v3"), track="stable", replicas=4
    )
    # A tag may stay for readers; the digest decides what runs.
    assert image_of(obj) == f"registry.example.com/payments:1.4@{digest_of('v3')}"
    kubernetes_validate.validate(obj, "1.37.0", strict=True)
