"""The deploy-target interface and its registry (one axis, one small interface).

A target knows how to run workers of a version in two pools (stable, canary) and how to split
traffic between them; strategies (:mod:`gatekeeper.deploy.executor`) are written against
these few operations only, so a Kubernetes target implements the same verbs with Deployments
and a replica ratio. Crash recovery is decided once for every target
(:mod:`gatekeeper.deploy.recovery`); a target only offers the mechanisms and facts it needs.
What a target can do beyond the common verbs it declares in :class:`TargetCapabilities`:
callers ask those, never a target's name.
"""

from __future__ import annotations

import fcntl
import os
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Self, cast

from gatekeeper.deploy.errors import DeployError
from gatekeeper.deploy.state import (
    DeploymentState,
    Phase,
    ReleaseRecord,
    load_state,
    save_state,
    state_dir,
)
from gatekeeper.errors import ConfigError
from gatekeeper.registry import Registry

if TYPE_CHECKING:  # the interface names it; only the targets read it
    from gatekeeper.deploy.service_config import ServiceDeployConfig

STABLE = "stable"
CANARY = "canary"
BASELINE = "baseline"  # a canary's fresh baseline: workers of the stable release


@dataclass(frozen=True)
class RecoveryReport:
    """What :func:`gatekeeper.deploy.recovery.recover` found and did."""

    action: str  # "none" | "reverted" | "completed" | "reconciled"
    version: str | None  # the one version serving 100 % afterwards
    stopped_pids: tuple[int, ...]
    started_pids: tuple[int, ...]
    message: str


@dataclass(frozen=True)
class TargetCapabilities:
    """What a target can do beyond the verbs every target has; the controller asks these
    instead of comparing target names."""

    # The target runs the release's code folder itself (so the folder's digest must be the
    # judged artifact digest, and the release record carries that folder).
    runs_code_folder: bool = False
    # Per-request measurements from its own traffic layer (the ``memory`` metric source, a
    # sample feed) and the workers' log files for log verification.
    request_samples: bool = False
    worker_logs: bool = False
    # Its traffic layer can copy the stable version's safe requests to the canary pool
    # (blue-green judged before the switch, ``set_mirror``).
    mirrors_traffic: bool = False
    # It can start a fresh baseline beside a canary (``BASELINE`` workers of the stable
    # release, as many as the canary's, with as large a share of traffic), and its samples say
    # which pool served each request.
    fresh_baseline: bool = False
    # Every process of the service runs on this machine, and ``teardown`` stops them all
    # (``deploy stop``).
    tears_down: bool = False
    # What the platform runs outlives this machine's state file (another machine, a lost
    # directory): with no stable release recorded, ``adopt`` takes over the one it made.
    adopts: bool = False


class DeployTarget(ABC):
    name: ClassVar[str]
    capabilities: ClassVar[TargetCapabilities] = TargetCapabilities()

    @classmethod
    @abstractmethod
    def open(
        cls, service: str, config: ServiceDeployConfig, *, root: Path, lock: bool = True
    ) -> Self:
        """The target of ``service`` deployed from the service directory ``root``; with
        ``lock``, holding the service's deployer lock (DeployError while another holds it)."""

    @classmethod
    def state_directory(cls, root: Path, service: str) -> Path:
        """Where the target keeps the state of ``service`` deployed from ``root``."""
        return state_dir(root, service)

    @abstractmethod
    def close(self) -> None:
        """Release what :meth:`open` took (the lock). What runs keeps running."""

    def sample_feed(self, *, history: bool = False) -> Any:
        """The feed of per-request samples (``request_samples`` targets); None otherwise.
        ``history``: start from the oldest sample still buffered, not from now."""
        return None

    @property
    @abstractmethod
    def state(self) -> DeploymentState:
        """The last persisted state."""

    @property
    @abstractmethod
    def replicas(self) -> int:
        """Workers per version at full strength."""

    @abstractmethod
    def begin(self, release: ReleaseRecord, strategy: str) -> None:
        """Start a rollout of ``release`` (the canary pool's version), or a first deploy."""

    @abstractmethod
    def add_workers(self, pool: str, count: int) -> None:
        """Start ``count`` workers of the pool's version (``BASELINE``: of the stable
        release, ``fresh_baseline`` targets only); returns once they are ready and routed.
        Raises DeployError when one never becomes ready (it is stopped first)."""

    @abstractmethod
    def remove_workers(self, pool: str, count: int) -> None:
        """Take ``count`` workers out of routing, drain them (bounded), stop them."""

    @abstractmethod
    def set_canary_weight(self, weight: int) -> None:
        """The canary pool's share of requests; while a fresh baseline runs it takes as large
        a share (at most what the canary leaves), the stable pool the rest."""

    def set_mirror(self, share: int) -> None:
        """Copy ``share`` % of the stable version's GET/HEAD requests to the canary pool
        (answers dropped, measured); 0 stops. Only ``mirrors_traffic`` targets can."""
        raise NotImplementedError(f"the {self.name} target cannot mirror traffic")

    @abstractmethod
    def set_progress(
        self,
        *,
        phase: Phase | None = None,
        step_index: int | None = None,
        reason: str | None = None,
    ) -> None:
        """Persist rollout progress (what recovery needs to know)."""

    @abstractmethod
    def promote(self, reason: str) -> None:
        """The canary version becomes stable at 100 %; the old stable workers are drained and
        stopped."""

    @abstractmethod
    def rollback(self, reason: str) -> None:
        """Stable back to full strength at 100 %; canary workers drained and stopped."""

    @abstractmethod
    def observe(self) -> dict[str, Any]:
        """Live view (state + what is actually running), for ``deploy status``."""

    def teardown(self) -> None:
        """Stop every process of the service (``tears_down`` targets only)."""
        raise NotImplementedError(f"the {self.name} target cannot be stopped from here")

    # -- mechanisms and facts for crash recovery (gatekeeper.deploy.recovery decides) ------

    @abstractmethod
    def repair_traffic(self) -> None:
        """Bring the traffic layer back to the recorded routes (e.g. restart a dead proxy)."""

    @abstractmethod
    def drop_dead_workers(self) -> tuple[int, ...]:
        """Forget recorded workers that are gone or were never found ready, making sure
        nothing is left of them; returns their pids (none where the platform runs them)."""

    @abstractmethod
    def canary_ready(self) -> bool:
        """Whether the canary pool has ready workers to complete a promotion with."""

    @abstractmethod
    def reconcile(self) -> bool:
        """Make what runs match a settled state: the stable version at full strength and
        alone behind the traffic layer. True when something had to change."""

    def adopt(self) -> str | None:
        """With no stable release recorded (a lost or fresh state): take the one the
        platform runs, when this deployer made it; returns its version, None when there is
        nothing to adopt. DeployError for objects someone else made."""
        return None

    def stop_unrecorded(self) -> tuple[int, ...]:
        """Stop processes started for the service that the state does not account for;
        returns their pids."""
        return ()

    def running_pids(self) -> frozenset[int]:
        """The pids of the recorded workers on this machine (empty where the platform runs
        them): recovery reports which it started."""
        return frozenset()


def pool_field(pool: str) -> str:
    """The state field holding a pool's workers."""
    if pool not in (STABLE, CANARY, BASELINE):
        raise ValueError(f"unknown pool {pool!r}")
    return f"{pool}_workers"


class StatefulTarget(DeployTarget):
    """What every built-in target shares: persisted state in ``directory``, saved on every
    change, and a directory lock so only one deployer works on a service at a time — the
    kernel drops the flock when its holder dies, which tells a killed deployer from a running
    one."""

    def __init__(self, service: str, directory: Path, *, lock: bool) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock_handle: IO[str] | None = None
        if lock:
            self._acquire_lock()
        self._mutex = threading.RLock()
        self._state = load_state(self.dir, service) or DeploymentState(service=service)

    def _acquire_lock(self) -> None:
        handle = (self.dir / "lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise DeployError(
                f"another deployer (pid {holder}) is working on this service; "
                "wait for it or stop it first",
                path=str(self.dir),
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle

    def close(self) -> None:
        """Release the directory lock. What runs keeps running: that is the point."""
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def state(self) -> DeploymentState:
        return self._state

    def _save(self, **update: Any) -> None:
        self._state = save_state(self.dir, self._state.model_copy(update=update))

    def set_progress(
        self,
        *,
        phase: Phase | None = None,
        step_index: int | None = None,
        reason: str | None = None,
    ) -> None:
        update: dict[str, Any] = {}
        if phase is not None:
            update["phase"] = phase
        if step_index is not None:
            update["step_index"] = step_index
        if reason is not None:
            update["reason"] = reason
        with self._mutex:
            self._save(**update)


# Target name -> target class, registered lazily: the built-in targets pull in process, proxy
# and Kubernetes machinery and import this module themselves, so importing them here would be
# a cycle. The factory is the class, constructed by the controller (``open_target``).
TARGETS: Registry[DeployTarget] = Registry("deploy target", error=ConfigError, default="local")
TARGETS.register_lazy("local", "gatekeeper.deploy.local.target:LocalTarget")
TARGETS.register_lazy("kubernetes", "gatekeeper.deploy.k8s.target:KubernetesTarget")


def target_capabilities(name: str) -> TargetCapabilities:
    return target_class(name).capabilities


def target_class(name: str) -> type[DeployTarget]:
    """The class registered as ``name``; an unknown name is a ConfigError listing the known."""
    return cast(type[DeployTarget], TARGETS.factory(name))


def target_names() -> tuple[str, ...]:
    return tuple(sorted(TARGETS.names()))
