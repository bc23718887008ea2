"""The deploy-target interface and its registry (one axis, one small interface).

A target knows how to run workers of a version in two pools (stable, canary) and how to split
traffic between them; strategies (:mod:`gatekeeper.deploy.executor`) are written against
these few operations only, so a Kubernetes target implements the same verbs with Deployments
and a replica ratio.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from gatekeeper.deploy.state import DeploymentState, Phase, ReleaseRecord

STABLE = "stable"
CANARY = "canary"


@dataclass(frozen=True)
class RecoveryReport:
    """What :meth:`DeployTarget.recover` found and did."""

    action: str  # "none" | "reverted" | "completed" | "reconciled"
    version: str | None  # the one version serving 100 % afterwards
    stopped_pids: tuple[int, ...]
    started_pids: tuple[int, ...]
    message: str


class DeployTarget(ABC):
    name: ClassVar[str]

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
        """Start ``count`` workers of the pool's version; returns once they are ready and
        routed. Raises DeployError when one never becomes ready (it is stopped first)."""

    @abstractmethod
    def remove_workers(self, pool: str, count: int) -> None:
        """Take ``count`` workers out of routing, drain them (bounded), stop them."""

    @abstractmethod
    def set_canary_weight(self, weight: int) -> None: ...

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
    def recover(self) -> RecoveryReport:
        """After a deployer died: leave exactly one version serving 100 %."""

    @abstractmethod
    def observe(self) -> dict[str, Any]:
        """Live view (state + what is actually running), for ``deploy status``."""


_TARGETS: dict[str, type[DeployTarget]] = {}


def register_target(cls: type[DeployTarget]) -> type[DeployTarget]:
    _TARGETS[cls.name] = cls
    return cls


def _load_builtin_targets() -> None:
    # Import the built-in targets lazily: they pull in process and proxy machinery. The
    # Kubernetes target imports its client only when it talks to a cluster.
    from gatekeeper.deploy.k8s import target as _k8s  # noqa: F401
    from gatekeeper.deploy.local import target as _local  # noqa: F401


def target_class(name: str) -> type[DeployTarget]:
    _load_builtin_targets()
    try:
        return _TARGETS[name]
    except KeyError:
        known = ", ".join(sorted(_TARGETS))
        raise ValueError(f"unknown deploy target {name!r}; known: {known}") from None


def target_names() -> tuple[str, ...]:
    _load_builtin_targets()
    return tuple(sorted(_TARGETS))
