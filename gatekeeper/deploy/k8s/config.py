"""The ``deploy.kubernetes`` section of a service's ``gatekeeper.yaml``.

Example::

    deploy:
      start: [python, -m, app]          # still read by the local target; unused on Kubernetes
      health_path: /healthz             # readiness and liveness probes
      replicas: 10                      # pods per version at full strength
      kubernetes:
        namespace: payments
        image: registry.example.com/payments   # repository; the digest comes from the release
        container_port: 8080
        service_port: 80
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {memory: 256Mi}
        prometheus: {scrape: true, path: /metrics}

Every model is frozen and rejects unknown keys (a typo is an input error, exit 2). Names and
label values are checked here against Kubernetes' own rules, so a manifest the API server
would refuse is refused before anything is applied.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from gatekeeper.model.base import Frozen

# RFC 1035 label (Service names must be one); 7 characters are kept for the "-canary" suffix.
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]{0,54}[a-z0-9])?$")
# RFC 1123 label: namespaces.
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# A resource quantity (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/).
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|e[0-9]+)?$")
# A repository reference without digest: [host[:port]/]path[:tag].
_IMAGE = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$"
)


def check_dns1035(value: str) -> str:
    if not _DNS1035.match(value):
        raise ValueError(
            "must be lowercase letters, digits and '-', start with a letter, end with a letter "
            "or digit, at most 56 characters (a Kubernetes Service name, plus '-canary')"
        )
    return value


class Quantities(Frozen):
    cpu: str | None = Field(default=None, description="e.g. 100m, 0.5, 2")
    memory: str | None = Field(default=None, description="e.g. 128Mi, 1Gi")

    @field_validator("cpu", "memory")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None and not _QUANTITY.match(value):
            raise ValueError(f"not a Kubernetes quantity: {value!r} (e.g. 100m, 128Mi)")
        return value


class Resources(Frozen):
    requests: Quantities = Quantities(cpu="100m", memory="128Mi")
    limits: Quantities = Quantities(memory="256Mi")


class PrometheusScrape(Frozen):
    """Annotations the common ``kubernetes-pods`` scrape job reads (prometheus.io/*)."""

    scrape: bool = Field(default=True, description="add prometheus.io/scrape annotations")
    port: int | None = Field(default=None, ge=1, le=65535, description="default: container_port")
    path: str = Field(default="/metrics", description="metrics path")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(ch.isspace() for ch in value):
            raise ValueError("must be a URL path starting with '/'")
        return value


class Probes(Frozen):
    """Readiness and liveness probes, both a GET of the service's ``health_path``."""

    period_seconds: int = Field(default=5, ge=1, le=300)
    timeout_seconds: int = Field(default=2, ge=1, le=60)
    readiness_failure_threshold: int = Field(default=3, ge=1, le=100)
    # Liveness restarts a container: give it more slack than readiness, and a start delay, so
    # a slow start is not turned into a crash loop.
    liveness_failure_threshold: int = Field(default=6, ge=1, le=100)
    liveness_initial_delay_seconds: int = Field(default=10, ge=0, le=3600)


class KubernetesConfig(Frozen):
    """Where and how the Kubernetes target runs a service."""

    namespace: str = Field(default="default", description="namespace of every object")
    name: str | None = Field(
        default=None, description="Deployment/Service name; default: the service name"
    )
    image: str = Field(description="image repository (optionally :tag); the digest is pinned")
    replicas: int | None = Field(
        default=None, ge=1, le=1000, description="pods per version; default: deploy.replicas"
    )
    container_port: int = Field(default=8080, ge=1, le=65535)
    service_port: int = Field(default=80, ge=1, le=65535)
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    resources: Resources = Resources()
    probes: Probes = Probes()
    prometheus: PrometheusScrape = PrometheusScrape()
    run_as_user: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="numeric uid; needed when the image's USER is a name (runAsNonRoot)",
    )
    service_account: str | None = Field(default=None, description="pod service account")
    image_pull_secrets: tuple[str, ...] = ()
    # Cluster access and bounds.
    kubeconfig: str | None = Field(
        default=None, description="kubeconfig file; default: $KUBECONFIG or ~/.kube/config"
    )
    context: str | None = Field(default=None, description="kubeconfig context; default: current")
    field_manager: str = Field(default="gatekeeper", min_length=1, max_length=128)
    rollout_timeout: float = Field(
        default=300.0, gt=0, le=3600, description="seconds a Deployment may take to roll out"
    )
    poll_interval: float = Field(
        default=2.0, gt=0, le=60, description="seconds between rollout status reads"
    )
    request_timeout: float = Field(
        default=30.0, gt=0, le=300, description="seconds per API request"
    )

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not _DNS1123.match(value):
            raise ValueError("must be a DNS-1123 label (lowercase letters, digits, '-')")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else check_dns1035(value)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if "@" in value:
            raise ValueError(
                "give the repository only: the digest is taken from the release "
                "(artifact_digest) so that what runs is what the gate judged"
            )
        if not _IMAGE.match(value):
            raise ValueError(f"not an image repository reference: {value!r}")
        return value

    @field_validator("service_account", "image_pull_secrets")
    @classmethod
    def _dns_subdomain(cls, value: object) -> object:
        names = value if isinstance(value, tuple) else (value,)
        for name in names:
            if name is not None and (
                len(name) > 253 or not all(_DNS1123.match(part) for part in name.split("."))
            ):
                raise ValueError(f"not a Kubernetes object name: {name!r}")
        return value
