"""Operator commands on a service's deployment: status, rollback, abort, promote, stop, history."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gatekeeper.deploy.abort_watch import ABORT_FILE, ABORT_POLL_S
from gatekeeper.deploy.context import ServiceContext, StrategyModel
from gatekeeper.deploy.controller import (
    close_target,
    execute_plan,
    open_target,
)
from gatekeeper.deploy.errors import DeployError
from gatekeeper.deploy.execution_plan import Plan, resolve_strategy
from gatekeeper.deploy.executor import RolloutExecutor
from gatekeeper.deploy.permission import PolicyCheck
from gatekeeper.deploy.record import (
    DeploymentRecord,
    DeploymentRecorder,
    read_deployment_history,
)
from gatekeeper.deploy.recovery import recover_if_abandoned
from gatekeeper.deploy.state import (
    Phase,
    ReleaseRecord,
    load_state,
    state_dir,
)
from gatekeeper.deploy.strategy import (
    BlueGreenStrategy,
)
from gatekeeper.deploy.target import (
    DeployTarget,
    RecoveryReport,
    target_class,
)
from gatekeeper.errors import ConfigError, InputError
from gatekeeper.ledger.deployments import (
    GateApproval,
    verified_deploy_events,
)
from gatekeeper.ledger.store import LedgerMissing
from gatekeeper.model import Release


@dataclass(frozen=True)
class StatusResult:
    service: str
    target: str
    live: dict[str, Any]
    deployment: DeploymentRecord | None
    recovery: RecoveryReport | None
    busy: bool  # another deployer holds the lock: shown, not touched

    def to_document(self) -> dict[str, Any]:
        return {
            "schema": "gatekeeper.deploy-status/v1",
            "service": self.service,
            "target": self.target,
            "deployer_running": self.busy,
            "recovery": None
            if self.recovery is None
            else {
                "action": self.recovery.action,
                "version": self.recovery.version,
                "stopped_pids": list(self.recovery.stopped_pids),
                "started_pids": list(self.recovery.started_pids),
                "message": self.recovery.message,
            },
            "live": self.live,
            "deployment": self.deployment.to_document() if self.deployment else None,
        }


def _open_for_command(
    context: ServiceContext, service: str, target_name: str
) -> tuple[DeployTarget, bool]:
    """The target with its lock, or — when a deployer is running — without (read only)."""
    target_cls = target_class(target_name)
    directory = target_cls.state_directory(context.service_dir, service)
    if load_state(directory, service) is None and not target_cls.capabilities.adopts:
        raise InputError(
            f"service {service!r} was never deployed from here", path=str(context.service_dir)
        )
    try:
        return open_target(target_name, service, context), False
    except DeployError:
        return open_target(target_name, service, context, lock=False), True


def status(context: ServiceContext, service: str, *, target: str = "local") -> StatusResult:
    """The live view; recovers first when a deployer died mid-rollout."""
    handle, busy = _open_for_command(context, service, target)
    try:
        recovery = None if busy else recover_if_abandoned(handle, context)
        live = handle.observe()
    finally:
        close_target(handle)
    last = read_deployment_history(context, service, target=target).last
    return StatusResult(service, target, live, last, recovery, busy)


@dataclass(frozen=True)
class ActionResult:
    service: str
    action: str  # rolled_back | aborted | promoted | abort_requested | none
    version: str | None  # serving 100 % afterwards (when known)
    message: str
    recovery: RecoveryReport | None = None


def rollback(
    context: ServiceContext, service: str, *, target: str = "local", reason: str | None = None
) -> ActionResult:
    """An unfinished rollout: revert it to stable. A settled one: go back to the version that
    served before the last promotion (blue-green, no analysis: it is the last known-good)."""
    handle, busy = _open_for_command(context, service, target)
    if busy:
        close_target(handle)
        raise DeployError("a deployer is running this rollout: `deploy abort` stops it and reverts")
    try:
        recovery = recover_if_abandoned(handle, context)
        state = handle.state
        why = reason or "rolled back by the operator"
        deployments = read_deployment_history(context, service, target=target)
        record = deployments.last
        if state.phase.in_flight:  # paused
            version = state.canary.version if state.canary else "-"
            restored = _stable(handle)
            handle.rollback(why)
            if record is not None:
                DeploymentRecorder(context, record).finish(
                    "rolled_back",
                    f"{why}: {version} rolled back, {restored or '-'} restored",
                    rolled_back_version=version,
                    restored_version=restored,
                )
            return ActionResult(
                service, "rolled_back", _stable(handle), f"{version} rolled back: {why}", recovery
            )
        if recovery is not None:
            return ActionResult(
                service, "rolled_back", recovery.version, recovery.message, recovery
            )
        current = _stable(handle)
        before = deployments.release_before(current)
        if before is None or current is None:
            raise InputError(
                "nothing to roll back: no unfinished rollout, and no earlier promoted version "
                "is known"
            )
        previous = before.release
        serving = state.stable.model_dump(mode="json") if state.stable else None
        undo = DeploymentRecord(
            deployment_id=str(uuid.uuid4()),
            service=service,
            target=target,
            environment=before.environment,
            strategy="blue-green",
            release=previous.model_dump(mode="json"),
            previous=serving,
            gate_decision_id=previous.decision_id,
            deploy_policy={"outcome": "skipped", "reason": "rollback to the previous version"},
        )
        recorder = DeploymentRecorder(context, undo)
        executor = RolloutExecutor(handle)
        recorder.started(previous_version=current, reason=why)
        result = executor.run(previous, BlueGreenStrategy())
        recorder.finish(
            "rolled_back",
            f"{why}: {current} rolled back, {previous.version} restored",
            rolled_back_version=current,
            restored_version=previous.version,
        )
        # The version rolled back from is no longer "promoted" (the history reads it from
        # this event): a second rollback goes further.
        return ActionResult(
            service,
            "rolled_back",
            result.version,
            f"{current} replaced by {previous.version}: {why}",
        )
    finally:
        close_target(handle)


def _stable(target: DeployTarget) -> str | None:
    return target.state.stable.version if target.state.stable else None


def abort(
    context: ServiceContext,
    service: str,
    *,
    target: str = "local",
    wait: float = 120.0,
    sleep: Callable[[float], None] = time.sleep,
) -> ActionResult:
    """Stop a rollout: a running deployer is asked (it reverts), a paused or abandoned one is
    reverted here."""
    handle, busy = _open_for_command(context, service, target)
    directory = state_dir(context.service_dir, service)
    if busy:
        close_target(handle)
        (directory / ABORT_FILE).touch()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                again = open_target(target, service, context)
            except DeployError:
                sleep(ABORT_POLL_S)
                continue
            close_target(again)
            record = read_deployment_history(context, service, target=target).last
            return ActionResult(
                service,
                "aborted",
                _stable_of(context, service, target),
                record.reason if record and record.reason else "the deployer stopped",
            )
        return ActionResult(
            service, "abort_requested", None, f"the deployer did not stop within {wait:g} s"
        )
    try:
        recovery = recover_if_abandoned(handle, context)
        if handle.state.phase.in_flight:
            handle.rollback("aborted by the operator")
            record = read_deployment_history(context, service, target=target).last
            if record is not None:
                DeploymentRecorder(context, record).finish("rolled_back", "aborted by the operator")
            return ActionResult(
                service, "aborted", _stable(handle), "aborted by the operator", recovery
            )
        if recovery is not None:
            return ActionResult(service, "aborted", recovery.version, recovery.message, recovery)
        return ActionResult(service, "none", _stable(handle), "no rollout in progress")
    finally:
        close_target(handle)


def stop(context: ServiceContext, service: str, *, target: str = "local") -> ActionResult:
    """Stop every worker and the proxy of the service (the local target's teardown): nothing
    of it is left running. Refused while a deployer runs."""
    handle, busy = _open_for_command(context, service, target)
    try:
        if busy:
            raise DeployError("a deployer is running a rollout: `deploy abort` it first")
        if not handle.capabilities.tears_down:
            raise ConfigError(f"the {target} target cannot be stopped from here")
        version = _stable(handle)
        handle.teardown()
        record = read_deployment_history(context, service, target=target).last
        if record is not None:
            DeploymentRecorder(context, record).ledger(
                "deploy.stopped", "stopped", reason="stopped by the operator", serving=version
            )
        return ActionResult(service, "stopped", None, f"{version or 'nothing'} stopped")
    finally:
        close_target(handle)


def _stable_of(context: ServiceContext, service: str, target: str) -> str | None:
    directory = target_class(target).state_directory(context.service_dir, service)
    state = load_state(directory, service)
    return state.stable.version if state and state.stable else None


def promote(context: ServiceContext, service: str, *, target: str = "local") -> ActionResult:
    """Resume a paused rollout after the step it paused on (analyses still run)."""
    handle, busy = _open_for_command(context, service, target)
    directory = state_dir(context.service_dir, service)
    if busy:
        close_target(handle)
        raise DeployError("a deployer is running this rollout; wait for it to pause or finish")
    try:
        state = handle.state
        record = read_deployment_history(context, service, target=target).last
        if state.phase != Phase.PAUSED or record is None or record.outcome != "paused":
            raise InputError("no paused rollout to promote")
        strategy = _strategy_of(record, context)
        plan = _resume_plan(record, strategy, context)
        recorder = DeploymentRecorder(context, record)
        result = execute_plan(handle, plan, recorder, directory, resume=True)
        return ActionResult(service, result.outcome.value, _stable(handle), result.reason)
    finally:
        close_target(handle)


def _strategy_of(record: DeploymentRecord, context: ServiceContext) -> StrategyModel:
    return resolve_strategy(record.strategy, context.deploy_config)


def _resume_plan(
    record: DeploymentRecord, strategy: StrategyModel, context: ServiceContext
) -> Plan:
    try:
        release = ReleaseRecord.model_validate(record.release)
    except ValidationError:
        raise InputError(
            f"deployment {record.deployment_id} is recorded without the release it runs (a "
            "ledger written before deploy events carried it): roll it back or abort it"
        ) from None
    return Plan(
        release=Release(
            service=record.service,
            version=release.version,
            artifact_digest=release.artifact_digest,
            environment=record.environment,
        ),
        record=release,
        environment=record.environment,
        target=record.target,
        strategy=strategy,
        approval=GateApproval(True, "approved when the rollout started", record.gate_decision_id),
        policy=PolicyCheck("pass", 0, (), (), None),
        code_digest=None,
        refusals=(),
        current=None,
        verification=context.verification,
        replicas=context.deploy_config.replicas,
    )


def history(context: ServiceContext, service: str | None) -> list[dict[str, Any]]:
    """Deployment events from the ledger, oldest first (verdicts included), read while the
    whole chain is verified: a ledger that is not intact is exit 3, never a shorter history."""
    try:
        store = context.open_ledger(create=False)
    except LedgerMissing:
        return []
    try:
        rows: list[dict[str, Any]] = []
        for stored, doc in verified_deploy_events(
            store, service=service, cache_dir=context.service_dir
        ):
            details = doc.get("deployment") or {}
            rows.append(
                {
                    "seq": stored.seq,
                    "recorded_at": stored.recorded_at,
                    "kind": doc.get("kind"),
                    "outcome": doc.get("outcome"),
                    "release": doc.get("release") or {},
                    "deployment_id": details.get("deployment_id"),
                    "reason": details.get("reason")
                    or (details.get("verdict") or {}).get("reason")
                    or "; ".join(details.get("reasons") or []),
                    "gate_decision_id": details.get("gate_decision_id"),
                    "record_id": stored.decision_id,
                    "rolled_back_version": details.get("rolled_back_version"),
                    "restored_version": details.get("restored_version"),
                    "incident_id": details.get("incident_id"),
                }
            )
        return rows
    finally:
        store.close()
