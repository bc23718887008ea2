"""Persisted deployment state: ``.gatekeeper/deploy/<service>/state.json``.

Written atomically (temp file + fsync + rename) after every change of the fleet or the
weights, *before* the change is acted on where that matters (a worker is recorded right after
it is spawned, before its readiness check), so that a deployer killed at any point leaves a
file that names every process it started and the last weights it set.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from gatekeeper.deploy.atomic import write_json_atomic
from gatekeeper.errors import InputError
from gatekeeper.model.base import Frozen

STATE_SCHEMA = "gatekeeper.deploy-state/v1"
STATE_FILE = "state.json"
# Service names become directory names: keep them to a safe, traversal-free alphabet.
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
MAX_STATE_BYTES = 4 * 1024 * 1024


class Phase(StrEnum):
    IDLE = "idle"  # nothing deployed yet
    STABLE = "stable"  # one version serves 100 %, nothing in progress
    PROGRESSING = "progressing"  # a rollout is applying steps
    PAUSED = "paused"  # waiting for a manual promote (indefinite pause, blue-green hold)
    PROMOTING = "promoting"  # the new version was accepted; old workers are being removed
    ROLLING_BACK = "rolling_back"  # traffic returns to stable; new workers are being removed

    @property
    def in_flight(self) -> bool:
        return self in (Phase.PROGRESSING, Phase.PAUSED, Phase.PROMOTING, Phase.ROLLING_BACK)


class ReleaseRecord(Frozen):
    """Enough to start more workers of a version again (recovery tops a pool up)."""

    # Versions name log directories: no path separators, no leading dot.
    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
    workdir: str
    env: dict[str, str] = Field(default_factory=dict)
    # Optional, for targets that run images (Kubernetes): what the gate judged, pinned by
    # digest, and the decision that allowed it (recorded on the objects as annotations).
    artifact_digest: str | None = None
    decision_id: str | None = None


class WorkerRecord(Frozen):
    id: str
    version: str
    pid: int
    start_time: int | None  # /proc start ticks: guards against pid reuse
    port: int
    ready: bool = False  # only ready workers are ever routed to
    stdout: str
    stderr: str


class ProxyRecord(Frozen):
    pid: int
    start_time: int | None
    port: int
    admin_port: int
    token_file: str


class DeploymentState(Frozen):
    schema_: Literal["gatekeeper.deploy-state/v1"] = Field(
        default="gatekeeper.deploy-state/v1", alias="schema"
    )
    service: str
    phase: Phase = Phase.IDLE
    strategy: str | None = None
    step_index: int = -1  # last canary step applied; -1: none yet
    stable: ReleaseRecord | None = None
    canary: ReleaseRecord | None = None
    stable_workers: tuple[WorkerRecord, ...] = ()
    canary_workers: tuple[WorkerRecord, ...] = ()
    # A canary's fresh baseline (Kayenta): workers of the stable release started with the
    # canary's, as many, taking as large a share of traffic; the canary is judged against
    # them rather than against the long-running stable workers. Empty outside a canary.
    baseline_workers: tuple[WorkerRecord, ...] = ()
    canary_weight: int = Field(default=0, ge=0, le=100)
    proxy: ProxyRecord | None = None
    reason: str | None = None  # why the last rollout ended as it did
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def all_workers(self) -> tuple[WorkerRecord, ...]:
        return (*self.stable_workers, *self.canary_workers, *self.baseline_workers)


def check_service_name(service: str) -> str:
    if not SERVICE_NAME.match(service):
        raise InputError(
            f"service name {service!r} must be lowercase letters, digits, '.', '_' or '-' "
            "(at most 63), starting with a letter or digit"
        )
    return service


def state_dir(root: Path, service: str) -> Path:
    return root / ".gatekeeper" / "deploy" / check_service_name(service)


def load_state(directory: Path, service: str) -> DeploymentState | None:
    """The saved state, or None when nothing was ever deployed from this directory."""
    path = directory / STATE_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
    if len(raw) > MAX_STATE_BYTES:
        raise InputError(f"larger than {MAX_STATE_BYTES} bytes", path=str(path))
    try:
        state = DeploymentState.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"not a valid deployment state: {first}", path=str(path)) from None
    if state.service != service:
        raise InputError(f"belongs to service {state.service!r}, not {service!r}", path=str(path))
    return state


def save_state(directory: Path, state: DeploymentState) -> DeploymentState:
    stamped = state.model_copy(update={"updated_at": datetime.now(UTC)})
    write_json_atomic(directory / STATE_FILE, stamped.model_dump(mode="json", by_alias=True))
    return stamped
