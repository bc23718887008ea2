"""The few Kubernetes API calls the target makes, through the official ``kubernetes`` client.

- **apply**: server-side apply (``PATCH`` with ``application/apply-patch+yaml``, a field
  manager, ``force``): creates or updates in one idempotent call, so repeating a step after a
  crash is harmless;
- **read**: a Deployment (with status) or a Service; 404 is "absent", not an error;
- **scale**: the ``scale`` subresource, for taking a Deployment to 0 pods when the release it
  ran is no longer known.

Every call is bounded (``request_timeout``) and retried a few times on what is transient and
safe to repeat (connection errors, 429, 5xx — every call here is idempotent). Anything else
becomes a one-line :class:`DeployError` naming the object, the HTTP status and the API
server's message. The client is imported lazily: only this target needs it (the ``k8s``
extra).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.deploy.errors import DeployError
from gatekeeper.deploy.k8s.config import KubernetesConfig
from gatekeeper.errors import ConfigError

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
MERGE_CONTENT_TYPE = "application/merge-patch+json"
ATTEMPTS = 3
BACKOFF_S = 0.5
_MESSAGE_CHARS = 300


def _kubernetes() -> Any:
    try:
        import kubernetes
    except ImportError:
        raise ConfigError(
            "the Kubernetes target needs the official client: pip install 'gatekeeper[k8s]'"
        ) from None
    return kubernetes


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str


@dataclass(frozen=True)
class DeploymentView:
    """What the target needs to know about one Deployment."""

    name: str
    generation: int
    observed_generation: int
    spec_replicas: int
    replicas: int
    updated_replicas: int
    ready_replicas: int
    available_replicas: int
    image: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class RolloutProgress:
    done: bool
    failed: bool
    message: str


def rollout_progress(view: DeploymentView) -> RolloutProgress:
    """Whether a Deployment has finished rolling out: the rules of ``kubectl rollout status``.

    Done when the controller has seen the latest spec (observedGeneration), every pod runs the
    latest template (updated == spec), no old pod is left (replicas == updated) and all are
    available. Failed when the controller gave up (``Progressing`` with
    ``ProgressDeadlineExceeded``)."""
    if view.observed_generation < view.generation:
        return RolloutProgress(False, False, "waiting for the controller to see the new spec")
    want = view.spec_replicas
    if view.updated_replicas < want:
        waiting = f"{view.updated_replicas} of {want} pods updated"
    elif view.replicas > view.updated_replicas:
        waiting = f"{view.replicas - view.updated_replicas} old pods pending termination"
    elif view.available_replicas < view.updated_replicas:
        waiting = f"{view.available_replicas} of {view.updated_replicas} pods available"
    else:
        # Done even under a stale deadline condition (e.g. a stuck Deployment scaled to 0).
        return RolloutProgress(True, False, f"{want} pods available")
    for condition in view.conditions:
        if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
            return RolloutProgress(
                False, True, f"progress deadline exceeded: {condition.message}".rstrip(": ")
            )
    return RolloutProgress(False, False, waiting)


def _view(obj: Any) -> DeploymentView:
    meta, spec, status = obj.metadata, obj.spec, obj.status
    containers = spec.template.spec.containers if spec and spec.template.spec else []
    conditions = tuple(
        Condition(c.type or "", c.status or "", c.reason or "", c.message or "")
        for c in ((status.conditions if status else None) or [])
    )
    return DeploymentView(
        name=meta.name or "",
        generation=meta.generation or 0,
        observed_generation=(status.observed_generation if status else None) or 0,
        spec_replicas=spec.replicas if spec and spec.replicas is not None else 1,
        replicas=(status.replicas if status else None) or 0,
        updated_replicas=(status.updated_replicas if status else None) or 0,
        ready_replicas=(status.ready_replicas if status else None) or 0,
        available_replicas=(status.available_replicas if status else None) or 0,
        image=containers[0].image if containers else None,
        labels=dict(meta.labels or {}),
        annotations=dict(meta.annotations or {}),
        conditions=conditions,
    )


def _api_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    message = ""
    if body:
        try:
            message = str(json.loads(body).get("message", ""))
        except (ValueError, AttributeError):
            message = str(body)
    text = message or str(getattr(exc, "reason", "") or "")
    return " ".join(text.split())[:_MESSAGE_CHARS]


class KubeApi:
    """Apply / read / scale in one namespace, with bounded, retried calls."""

    def __init__(
        self,
        api_client: Any,
        *,
        namespace: str,
        field_manager: str = "gatekeeper",
        request_timeout: float = 30.0,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        kubernetes = _kubernetes()
        self._client = api_client
        self._apps = kubernetes.client.AppsV1Api(api_client)
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._api_exception: type[Exception] = kubernetes.client.exceptions.ApiException
        self.namespace = namespace
        self.field_manager = field_manager
        self.request_timeout = request_timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._sleep = sleep
        self.host = str(getattr(api_client.configuration, "host", "?"))

    @classmethod
    def from_config(cls, k8s: KubernetesConfig) -> KubeApi:
        """A client from the kubeconfig (``k8s.kubeconfig``, else $KUBECONFIG or
        ~/.kube/config) and context; a missing or broken kubeconfig is a ConfigError."""
        kubernetes = _kubernetes()
        configuration = kubernetes.client.Configuration()
        # Our own retry loop decides what is repeated; urllib3 must not retry underneath it.
        configuration.retries = 0
        try:
            api_client = kubernetes.config.new_client_from_config(
                config_file=k8s.kubeconfig,
                context=k8s.context,
                persist_config=False,
                client_configuration=configuration,
            )
        except (kubernetes.config.ConfigException, OSError, ValueError) as exc:
            where = k8s.kubeconfig or "kubeconfig"
            raise ConfigError(
                f"cannot load the Kubernetes configuration: {exc}", path=where
            ) from None
        return cls(
            api_client,
            namespace=k8s.namespace,
            field_manager=k8s.field_manager,
            request_timeout=k8s.request_timeout,
        )

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if callable(close):
            close()

    # -- the calls -------------------------------------------------------------------------

    def _call(self, what: str, call: Callable[[], Any], *, missing_ok: bool = False) -> Any:
        from urllib3.exceptions import HTTPError

        last = ""
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except self._api_exception as exc:
                status = int(getattr(exc, "status", 0) or 0)
                if status == 404 and missing_ok:
                    return None
                last = f"HTTP {status}: {_api_message(exc)}"
                if status != 429 and status < 500:
                    break  # the server said no; asking again will not change its mind
            except HTTPError as exc:
                last = f"cannot reach the API server at {self.host}: {type(exc).__name__}"
            except ValueError as exc:  # a body the client's models reject (pydantic, JSON)
                last = f"unexpected response: {' '.join(str(exc).split())[:_MESSAGE_CHARS]}"
                break
            if attempt < self.attempts:
                self._sleep(self.backoff * attempt)
        raise DeployError(f"{what} in namespace {self.namespace}: {last}")

    def apply(self, manifest: Mapping[str, Any]) -> None:
        """Server-side apply of one Deployment or Service (created when absent)."""
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        options = {
            "field_manager": self.field_manager,
            "force": True,
            "_content_type": APPLY_CONTENT_TYPE,
            "_request_timeout": self.request_timeout,
        }
        if kind == "Deployment":
            patch: Callable[..., Any] = self._apps.patch_namespaced_deployment
        elif kind == "Service":
            patch = self._core.patch_namespaced_service
        else:
            raise ValueError(f"cannot apply a {kind}")
        body = dict(manifest)
        self._call(f"apply {kind} {name}", lambda: patch(name, self.namespace, body, **options))

    def read_deployment(self, name: str) -> DeploymentView | None:
        obj = self._call(
            f"read Deployment {name}",
            lambda: self._apps.read_namespaced_deployment_status(
                name, self.namespace, _request_timeout=self.request_timeout
            ),
            missing_ok=True,
        )
        if obj is None:
            return None
        try:
            return _view(obj)
        except (AttributeError, TypeError) as exc:
            raise DeployError(
                f"read Deployment {name} in namespace {self.namespace}: "
                f"unexpected response ({type(exc).__name__}): not a Deployment"
            ) from None

    def read_service_selector(self, name: str) -> dict[str, str] | None:
        obj = self._call(
            f"read Service {name}",
            lambda: self._core.read_namespaced_service(
                name, self.namespace, _request_timeout=self.request_timeout
            ),
            missing_ok=True,
        )
        if obj is None:
            return None
        return dict((obj.spec.selector if obj.spec else None) or {})

    def scale_deployment(self, name: str, replicas: int) -> bool:
        """Set ``spec.replicas`` through the scale subresource; False when it does not exist."""
        body = {"spec": {"replicas": replicas}}
        result = self._call(
            f"scale Deployment {name} to {replicas}",
            lambda: self._apps.patch_namespaced_deployment_scale(
                name,
                self.namespace,
                body,
                field_manager=self.field_manager,
                _content_type=MERGE_CONTENT_TYPE,
                _request_timeout=self.request_timeout,
            ),
            missing_ok=True,
        )
        return result is not None
