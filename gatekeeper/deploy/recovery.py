"""Crash recovery, decided in one place for every target.

A deployer can die at any point of a rollout (``kill -9``, a lost machine). The next command
that takes the service's lock finds the target's state unfinished and brings it back to
exactly one version serving 100 %. *What* to do is decided here, from a few facts, the same
for every target (:func:`decide`):

============================  ========================================  ==================
phase                         facts                                     action
============================  ========================================  ==================
paused                        (any)                                     leave it alone
promoting                     canary recorded and ready                 complete promotion
promoting                     canary recorded, none ready               revert to stable
promoting                     no canary (the pools were already         complete promotion
                              swapped: only the old pool's removal
                              was unfinished)
progressing, rolling_back     (any)                                     revert to stable
stable, idle                  a canary still recorded (left over)       revert to stable
stable, idle                  no canary                                 reconcile
============================  ========================================  ==================

Why: a rollout that had not begun promotion is reverted, because the stable version is the
last one known good and a canary never judged good must not be left serving; a promotion
began only after a passing verdict, so it is completed — unless no canary worker is left to
complete it with. A paused rollout waits for an operator on purpose.

*How* is the target's: it exposes mechanisms and facts through the
:class:`~gatekeeper.deploy.target.DeployTarget` interface (repair the traffic layer, drop
dead workers, is the canary pool ready, adopt what the platform runs, reconcile, promote,
roll back), and :func:`recover` drives them. :func:`recover_if_abandoned` is what commands
call; it records the recovery (``deploy.recovered``) in the ledger, the one place that does.
On targets that ``adopt`` (Kubernetes), a state with no stable release takes over the one the
platform runs, when this deployer made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gatekeeper.deploy.context import ServiceContext
from gatekeeper.deploy.record import (
    DeploymentRecorder,
    now_text,
    outcome_times,
    read_deployment_history,
)
from gatekeeper.deploy.state import Phase
from gatekeeper.deploy.target import DeployTarget, RecoveryReport


class RecoveryAction(StrEnum):
    LEAVE = "leave"  # a paused rollout: an operator promotes, rolls back or aborts it
    COMPLETE = "complete"  # finish the promotion: the canary version becomes stable
    REVERT = "revert"  # stable back to 100 %, the canary drained and stopped
    RECONCILE = "reconcile"  # settled: make what runs match it (replicas, traffic)


@dataclass(frozen=True)
class RecoveryFacts:
    """What the decision rests on, read from the target after its traffic layer was repaired
    and its dead workers dropped."""

    phase: Phase
    canary_recorded: bool  # the state names a canary release
    canary_ready: bool  # the canary pool has ready workers (pods) to complete a promotion


def decide(facts: RecoveryFacts) -> RecoveryAction:
    """The recovery rule (the table in this module's docstring)."""
    if facts.phase == Phase.PAUSED:
        return RecoveryAction.LEAVE
    if facts.phase == Phase.PROMOTING:
        if not facts.canary_recorded or facts.canary_ready:
            return RecoveryAction.COMPLETE
        return RecoveryAction.REVERT
    if facts.phase.in_flight or facts.canary_recorded:
        return RecoveryAction.REVERT
    return RecoveryAction.RECONCILE


def recover(target: DeployTarget) -> RecoveryReport:
    """After a deployer died: leave exactly one version serving 100 % (a paused rollout is
    left as it is). Idempotent: on a settled, healthy target the action is ``none``."""
    state = target.state
    if state.phase == Phase.PAUSED:
        return RecoveryReport(
            "none",
            _stable_version(target),
            (),
            (),
            "a paused rollout is left alone: promote, roll back or abort it",
        )
    if state.stable is None and not state.phase.in_flight:
        adopted = _adopt(target)
        if adopted is not None:
            return adopted
    before = target.running_pids()
    target.repair_traffic()
    stopped = list(target.drop_dead_workers())
    state = target.state
    action = decide(RecoveryFacts(state.phase, state.canary is not None, target.canary_ready()))
    if action == RecoveryAction.COMPLETE:
        promoting = state.canary or state.stable  # no canary: the pools were swapped already
        target.promote(
            f"recovered: promotion of {promoting.version if promoting else '-'} completed"
        )
    elif action == RecoveryAction.REVERT:
        canary = state.canary.version if state.canary else "-"
        target.rollback(
            f"recovered: the deployer stopped during a {state.strategy or ''} rollout "
            f"of {canary}; reverted to {_stable_version(target) or '-'}"
        )
    # Completed or reverted, the settled state is then held to full strength too.
    changed = target.reconcile()
    stopped.extend(target.stop_unrecorded())
    started = tuple(sorted(target.running_pids() - before))
    version = _stable_version(target)
    name = {
        RecoveryAction.COMPLETE: "completed",
        RecoveryAction.REVERT: "reverted",
    }.get(action, "reconciled" if changed or stopped or started else "none")
    return RecoveryReport(
        action=name,
        version=version,
        stopped_pids=tuple(sorted(set(stopped))),
        started_pids=started,
        message=target.state.reason or f"{version or 'nothing'} serves 100 %",
    )


def recover_if_abandoned(target: DeployTarget, context: ServiceContext) -> RecoveryReport | None:
    """A rollout in flight while we hold the lock: its deployer died. Finish or revert it
    (a paused rollout is waiting on purpose and is left alone), then record it against the
    deployment the ledger says was in progress."""
    phase = target.state.phase
    if target.state.stable is None and not phase.in_flight and target.capabilities.adopts:
        # No release recorded here, but the platform may run one this deployer made
        # elsewhere: take it over, so the next rollout is judged against it (not a blind
        # first deploy over it).
        return _adopt(target)
    if not phase.in_flight or phase == Phase.PAUSED:
        return None
    # The fleet first: traffic returns to one version even when the ledger cannot be read.
    report = recover(target)
    history = read_deployment_history(context, target.state.service, target=target.name)
    record = history.last
    if record is not None and record.outcome == "in_progress":
        outcome = "promoted" if report.action == "completed" else "rolled_back"
        record.outcome, record.reason, record.finished_at = outcome, report.message, now_text()
        DeploymentRecorder(context, record).ledger(
            "deploy.recovered",
            outcome,
            times=outcome_times(outcome, record.finished_at),
            reason=report.message,
            action=report.action,
            serving=report.version,
            stopped_pids=list(report.stopped_pids),
        )
    return report


def _adopt(target: DeployTarget) -> RecoveryReport | None:
    adopted = target.adopt()
    if adopted is None:
        return None
    target.reconcile()
    return RecoveryReport(
        "reconciled", adopted, (), (), f"adopted {adopted} from the {target.name} target"
    )


def _stable_version(target: DeployTarget) -> str | None:
    stable = target.state.stable
    return stable.version if stable else None
