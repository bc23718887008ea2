"""The Kubernetes target: a stable and a canary Deployment behind one Service.

The executor's verbs map onto replica counts (see :mod:`gatekeeper.deploy.k8s.manifests` for
the objects and how traffic follows pods):

- ``add_workers`` / ``remove_workers``: the pool's Deployment scaled by that many pods, then
  waited on until the rollout is complete (observed generation, updated and available pods;
  bounded by ``rollout_timeout``; ``ProgressDeadlineExceeded`` fails at once);
- ``set_canary_weight``: for a canary, both Deployments scaled to the weight's replica ratio
  (pods added and ready *before* any are removed, and before the Service's selector changes);
  for rolling and blue-green the executor already shapes the pools, so only the Service's
  selector changes (0: stable only, 100: canary only, between: both);
- ``promote``: canary at full strength and alone behind the Service, then the stable
  Deployment takes the new version (its own rolling update, no traffic meanwhile), the Service
  returns to the stable track and the canary is scaled to 0;
- ``rollback``: stable back to full strength and ready, the Service to stable only, the canary
  scaled to 0.

"Workers" in the persisted :class:`DeploymentState` are replica slots (no pids: the cluster
runs the processes); the file lives in ``.gatekeeper/deploy/<service>/kubernetes/`` and the
cluster objects carry the version, digest and decision as annotations, so that recovery
(:mod:`gatekeeper.deploy.recovery`, through :meth:`KubernetesTarget.adopt`) can adopt what a
lost state file no longer knows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self

from gatekeeper.deploy.errors import DeployError
from gatekeeper.deploy.k8s import manifests
from gatekeeper.deploy.k8s.client import DeploymentView, KubeApi, rollout_progress
from gatekeeper.deploy.k8s.config import KubernetesConfig, check_dns1035
from gatekeeper.deploy.service_config import ServiceDeployConfig
from gatekeeper.deploy.state import (
    Phase,
    ReleaseRecord,
    WorkerRecord,
    state_dir,
)
from gatekeeper.deploy.target import (
    CANARY,
    STABLE,
    StatefulTarget,
    TargetCapabilities,
    pool_field,
)
from gatekeeper.errors import ConfigError

STATE_SUBDIR = "kubernetes"


class KubernetesTarget(StatefulTarget):
    name: ClassVar[str] = "kubernetes"
    capabilities: ClassVar[TargetCapabilities] = TargetCapabilities(adopts=True)

    @classmethod
    def state_directory(cls, root: Path, service: str) -> Path:
        return state_dir(root.resolve(), service) / STATE_SUBDIR

    @classmethod
    def open(
        cls, service: str, config: ServiceDeployConfig, *, root: Path, lock: bool = True
    ) -> Self:
        return cls(service, config, root=root, lock=lock)

    def __init__(
        self,
        service: str,
        config: ServiceDeployConfig,
        *,
        root: Path,
        lock: bool = True,
        api: KubeApi | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if config.kubernetes is None:
            raise ConfigError("the kubernetes target needs a 'deploy.kubernetes' section")
        self.config = config
        self.k8s: KubernetesConfig = config.kubernetes
        try:
            self.app = self.k8s.name or check_dns1035(service)
        except ValueError as exc:
            raise ConfigError(
                f"service name {service!r} cannot name Kubernetes objects ({exc}); "
                "set deploy.kubernetes.name"
            ) from None
        super().__init__(service, self.state_directory(root, service), lock=lock)
        self._api = api
        self._sleep = sleep

    # -- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        super().close()
        if self._api is not None:
            self._api.close()

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            self._api = KubeApi.from_config(self.k8s)
        return self._api

    @property
    def replicas(self) -> int:
        return self.k8s.replicas or self.config.replicas

    def _release_of(self, pool: str) -> ReleaseRecord | None:
        return self._state.stable if pool == STABLE else self._state.canary

    def _count(self, pool: str) -> int:
        workers: tuple[WorkerRecord, ...] = getattr(self._state, pool_field(pool))
        return len(workers)

    def _slots(self, pool: str, release: ReleaseRecord, count: int, ready: bool) -> None:
        name = manifests.deployment_name(self.app, pool)
        slots = tuple(
            WorkerRecord(
                id=f"{name}#{index}",
                version=release.version,
                pid=0,  # no local process: the cluster runs the pods
                start_time=None,
                port=self.k8s.container_port,
                ready=ready,
                stdout="",
                stderr="",
            )
            for index in range(count)
        )
        self._save(**{pool_field(pool): slots})

    # -- cluster operations ----------------------------------------------------------------

    def _apply_service(self, weight: int) -> None:
        self.api.apply(manifests.render_service(self.app, self.k8s, weight=weight))

    def _wait(self, name: str) -> DeploymentView:
        """Until the Deployment has rolled out; DeployError on deadline or timeout."""
        deadline = time.monotonic() + self.k8s.rollout_timeout
        message = "not found"
        while True:
            view = self.api.read_deployment(name)
            if view is not None:
                progress = rollout_progress(view)
                if progress.done:
                    return view
                if progress.failed:
                    raise DeployError(f"Deployment {self.k8s.namespace}/{name}: {progress.message}")
                message = progress.message
            if time.monotonic() >= deadline:
                raise DeployError(
                    f"Deployment {self.k8s.namespace}/{name} did not roll out within "
                    f"{self.k8s.rollout_timeout:g}s: {message}"
                )
            self._sleep(self.k8s.poll_interval)

    def _scale(self, pool: str, count: int) -> None:
        """The pool's Deployment at ``count`` pods of its release, rolled out and ready."""
        release = self._release_of(pool)
        name = manifests.deployment_name(self.app, pool)
        if release is None:
            if count:
                raise DeployError(f"no {pool} release to run {count} pods of")
            self._save(**{pool_field(pool): ()})
            if self.api.scale_deployment(name, 0):
                self._wait(name)
            return
        # Recorded before acting (not ready yet), as the local target records a worker before
        # its readiness check: a deployer killed while waiting leaves a truthful state.
        self._slots(pool, release, count, ready=False)
        manifest = manifests.render_deployment(
            self.app, self.k8s, self.config, release, track=pool, replicas=count
        )
        self.api.apply(manifest)
        self._wait(name)
        self._slots(pool, release, count, ready=True)

    # -- the executor's verbs --------------------------------------------------------------

    def begin(self, release: ReleaseRecord, strategy: str) -> None:
        manifests.check_release(release)
        with self._mutex:
            if self._state.phase.in_flight:
                raise DeployError(
                    f"a {self._state.strategy} rollout of {self._version(CANARY)} is unfinished "
                    f"(phase {self._state.phase}); recover, promote or roll it back first"
                )
            first = self._state.stable is None or not self._state.stable_workers
            if first:
                self._refuse_unknown_stable()
                self._save(
                    stable=release,
                    stable_workers=(),
                    canary=None,
                    canary_weight=0,
                    strategy=strategy,
                    phase=Phase.PROGRESSING,
                    step_index=-1,
                    reason=None,
                )
                self._apply_service(0)
            else:
                self._save(
                    canary=release,
                    canary_workers=(),
                    canary_weight=0,
                    strategy=strategy,
                    phase=Phase.PROGRESSING,
                    step_index=-1,
                    reason=None,
                )

    def _refuse_unknown_stable(self) -> None:
        """A first deploy must not overwrite pods this deployer has no record of."""
        name = manifests.deployment_name(self.app, STABLE)
        view = self.api.read_deployment(name)
        if view is None or view.spec_replicas == 0:
            return
        where = f"Deployment {self.k8s.namespace}/{name}"
        if view.labels.get(manifests.MANAGED_BY) != manifests.MANAGER:
            raise DeployError(
                f"{where} exists and is not managed by gatekeeper; refusing to take it over"
            )
        version = view.annotations.get(manifests.ANN_VERSION, "?")
        raise DeployError(
            f"{where} already runs version {version}, which this deployer has no record of "
            f"(state in {self.dir}); run recovery (`deploy status`) to adopt it first"
        )

    def add_workers(self, pool: str, count: int) -> None:
        with self._mutex:
            self._scale(pool, self._count(pool) + count)

    def remove_workers(self, pool: str, count: int) -> None:
        with self._mutex:
            self._scale(pool, max(0, self._count(pool) - count))

    def set_canary_weight(self, weight: int) -> None:
        if not 0 <= weight <= 100:
            raise ValueError("weight must be 0..100")
        with self._mutex:
            if self._state.strategy == "canary" and self._state.canary is not None:
                stable_n, canary_n = manifests.split_replicas(self.replicas, weight)
                if weight == 0:
                    canary_n = self._count(CANARY)  # no traffic; keep what the executor started
                # Grow first, switch traffic, then shrink: never fewer ready pods than needed.
                for pool, want in ((CANARY, canary_n), (STABLE, stable_n)):
                    if want > self._count(pool):
                        self._scale(pool, want)
                self._save(canary_weight=weight)
                self._apply_service(weight)
                for pool, want in ((STABLE, stable_n), (CANARY, canary_n)):
                    if want < self._count(pool):
                        self._scale(pool, want)
            else:
                self._save(canary_weight=weight)
                self._apply_service(weight)

    def promote(self, reason: str) -> None:
        with self._mutex:
            if self._state.canary is None:  # first deploy
                self._save(phase=Phase.STABLE, canary_weight=0, reason=reason, step_index=-1)
                self._apply_service(0)
                return
            self._save(phase=Phase.PROMOTING)
            if self._count(CANARY) < self.replicas or not all(
                w.ready for w in self._state.canary_workers
            ):
                self._scale(CANARY, self.replicas)
            self._save(canary_weight=100)
            self._apply_service(100)
            # The stable Deployment takes the new version while the canary serves alone.
            self._save(stable=self._state.canary)
            self._scale(STABLE, self.replicas)
            self._save(canary_weight=0)
            self._apply_service(0)
            self._save(canary=None)
            self._scale(CANARY, 0)
            self._save(phase=Phase.STABLE, reason=reason, step_index=-1)

    def rollback(self, reason: str) -> None:
        with self._mutex:
            self._save(phase=Phase.ROLLING_BACK, reason=reason)
            if self._state.stable is not None:
                # Full strength and ready before traffic moves back (a rolling update shrank it).
                self._scale(STABLE, self.replicas)
                self._save(canary_weight=0)
                self._apply_service(0)
                self._save(canary=None)
                self._scale(CANARY, 0)
                self._save(phase=Phase.STABLE, step_index=-1)
                return
            # A first deploy that failed: nothing to go back to.
            self._save(canary_weight=0, canary=None)
            self._scale(CANARY, 0)
            self._save(stable=None)
            self._scale(STABLE, 0)
            self._save(phase=Phase.IDLE, step_index=-1)

    def _version(self, pool: str) -> str:
        release = self._release_of(pool)
        return release.version if release else "-"

    # -- recovery and status ---------------------------------------------------------------

    def adopt(self) -> str | None:
        """Take the cluster's stable Deployment as the stable release when the state has
        none (a lost or fresh state directory). Only objects gatekeeper made are adopted."""
        name = manifests.deployment_name(self.app, STABLE)
        view = self.api.read_deployment(name)
        if view is None or view.spec_replicas == 0:
            return None
        if view.labels.get(manifests.MANAGED_BY) != manifests.MANAGER:
            raise DeployError(
                f"Deployment {self.k8s.namespace}/{name} exists and is not managed by "
                "gatekeeper; refusing to adopt it"
            )
        notes = view.annotations
        release = ReleaseRecord(
            version=notes.get(manifests.ANN_VERSION, ""),
            workdir="",
            artifact_digest=notes.get(manifests.ANN_DIGEST),
            decision_id=notes.get(manifests.ANN_DECISION),
        )
        manifests.check_release(release)
        with self._mutex:
            self._save(stable=release, canary=None, canary_workers=(), phase=Phase.STABLE)
            self._slots(STABLE, release, view.spec_replicas, ready=True)
        return release.version

    def repair_traffic(self) -> None:
        """Nothing to restart: the Service routes on its own; reconciling fixes its selector."""

    def drop_dead_workers(self) -> tuple[int, ...]:
        return ()  # the cluster replaces dead pods itself

    def canary_ready(self) -> bool:
        """Whether the cluster has ready canary pods now (the recorded slots may be stale)."""
        view = self.api.read_deployment(manifests.deployment_name(self.app, CANARY))
        return view is not None and view.ready_replicas > 0

    def reconcile(self) -> bool:
        """Make the cluster match a settled state; True when something had to change."""
        with self._mutex:
            return self._reconcile()

    def _reconcile(self) -> bool:
        if self._state.stable is None:
            return False  # nothing deployed: create nothing
        changed = False
        stable_name = manifests.deployment_name(self.app, STABLE)
        canary_name = manifests.deployment_name(self.app, CANARY)
        view = self.api.read_deployment(stable_name)
        want = manifests.render_deployment(
            self.app, self.k8s, self.config, self._state.stable, track=STABLE, replicas=0
        )
        image = want["spec"]["template"]["spec"]["containers"][0]["image"]
        if view is None or view.spec_replicas != self.replicas or view.image != image:
            self._scale(STABLE, self.replicas)
            changed = True
        if self.api.read_service_selector(self.app) != manifests.service_selector(self.app, 0):
            self._apply_service(0)
            changed = True
        canary = self.api.read_deployment(canary_name)
        if canary is not None and (canary.spec_replicas or canary.replicas):
            self._scale(CANARY, 0)
            changed = True
        if self._state.canary_weight:
            self._save(canary_weight=0)
        return changed

    def observe(self) -> dict[str, Any]:
        """State plus what the cluster runs; never changes anything."""
        state = self._state
        cluster: dict[str, Any] = {}
        error: str | None = None
        try:
            for pool in (STABLE, CANARY):
                view = self.api.read_deployment(manifests.deployment_name(self.app, pool))
                cluster[pool] = None if view is None else _describe(view)
            cluster["service_selector"] = self.api.read_service_selector(self.app)
        except (DeployError, ConfigError) as exc:
            error = str(exc)
        stable_ready = (cluster.get(STABLE) or {}).get("ready", 0)
        canary_ready = (cluster.get(CANARY) or {}).get("ready", 0)
        return {
            "state": state.model_dump(mode="json", by_alias=True),
            "target": self.name,
            "namespace": self.k8s.namespace,
            "cluster": cluster,
            "cluster_error": error,
            # Traffic follows ready pods between the extremes: say what to expect.
            "effective_canary_weight": None
            if error
            else manifests.effective_weight(stable_ready, canary_ready, state.canary_weight),
        }


def _describe(view: DeploymentView) -> dict[str, Any]:
    return {
        "name": view.name,
        "version": view.annotations.get(manifests.ANN_VERSION),
        "image": view.image,
        "decision_id": view.annotations.get(manifests.ANN_DECISION),
        "replicas": view.spec_replicas,
        "ready": view.ready_replicas,
        "available": view.available_replicas,
        "rollout": rollout_progress(view).message,
    }
