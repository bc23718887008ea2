"""The deploy controller: from a plan to a verified rollout.

``gatekeeper deploy`` goes through these modules, one job each:

* :mod:`~gatekeeper.deploy.context` — the service directory, its configuration, its ledger;
* :mod:`~gatekeeper.deploy.permission` — the newest gate decision for the artifact must have
  passed in an intact ledger, and the deploy-time policies (GK-REL-*) must pass for ``--env``;
* :mod:`~gatekeeper.deploy.execution_plan` — whether and how the release is deployed (what
  ``--dry-run`` prints); on a target that runs the code folder, its digest must be the
  judged artifact's;
* this module — the rollout itself: :class:`~gatekeeper.deploy.executor.RolloutExecutor` on
  the target, :class:`~gatekeeper.deploy.analysis.CanaryAnalyzer` judging each analysis;
* :mod:`~gatekeeper.deploy.recovery` — a rollout a dead deployer left unfinished, completed
  or reverted (decided there for every target, the targets only act) and recorded;
* :mod:`~gatekeeper.deploy.record` — the typed deployment record, its recorder, and the
  deployment history read back from the ledger: the ledger's deploy events are the one
  source of truth for what was deployed and promoted (no file beside it);
* :mod:`~gatekeeper.deploy.abort_watch` — ``deploy abort`` reaching a running deployer;
* :mod:`~gatekeeper.deploy.operator` — status, rollback, abort, promote, stop, history.

A refusal is exit 1 (:class:`~gatekeeper.deploy.permission.DeployRefused`), like a gate that
says no. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatekeeper.deploy.abort_watch import abort_watch
from gatekeeper.deploy.analysis import CanaryAnalyzer, build_sources
from gatekeeper.deploy.context import DeployRequest, ServiceContext, load_context
from gatekeeper.deploy.errors import DeployError
from gatekeeper.deploy.execution_plan import Plan, plan_deploy
from gatekeeper.deploy.executor import Outcome, RolloutExecutor, RolloutResult
from gatekeeper.deploy.permission import DeployRefused
from gatekeeper.deploy.proxy.client import SampleFeed
from gatekeeper.deploy.record import DeploymentRecord, DeploymentRecorder
from gatekeeper.deploy.recovery import recover_if_abandoned
from gatekeeper.deploy.state import (
    Phase,
    state_dir,
)
from gatekeeper.deploy.strategy import BlueGreenStrategy
from gatekeeper.deploy.target import (
    DeployTarget,
    RecoveryReport,
    target_class,
)
from gatekeeper.deploy.verify import MemorySamples
from gatekeeper.errors import EXIT_FAIL
from gatekeeper.ledger.store import LedgerError


@dataclass(frozen=True)
class DeployResult:
    plan: Plan
    deployment_id: str
    outcome: str  # promoted | rolled_back | paused | unchanged
    reason: str
    recovery: RecoveryReport | None
    verdicts: tuple[dict[str, Any], ...]

    @property
    def exit_code(self) -> int:
        # A rollback on the release's own verdict is "the release said no": exit 1.
        return EXIT_FAIL if self.outcome == Outcome.ROLLED_BACK else 0


def open_target(
    name: str, service: str, context: ServiceContext, *, lock: bool = True
) -> DeployTarget:
    return target_class(name).open(
        service, context.deploy_config, root=context.service_dir, lock=lock
    )


def close_target(target: DeployTarget) -> None:
    target.close()


def _log_files(target: DeployTarget) -> tuple[list[Path], list[Path]]:
    state = target.state

    def files(workers: Sequence[Any]) -> list[Path]:
        return [Path(p) for w in workers for p in (w.stdout, w.stderr) if p]

    # With a fresh baseline the canary's logs are compared with its workers', started at the
    # same moment, not with the long-running stable workers'.
    baseline = state.baseline_workers or state.stable_workers
    return files(baseline), files(state.canary_workers)


def _analyzer(target: DeployTarget, plan: Plan, recorder: DeploymentRecorder) -> CanaryAnalyzer:
    capabilities = target.capabilities
    store = MemorySamples() if capabilities.request_samples else None
    # Blue-green judges blue on its window before the switch: the feed must reach back.
    history = isinstance(plan.strategy, BlueGreenStrategy)
    feed: SampleFeed | None = (
        target.sample_feed(history=history) if capabilities.request_samples else None
    )
    return CanaryAnalyzer(
        plan.verification,
        sources=build_sources(plan.verification, store),
        feed=feed,
        store=store,
        log_files=(lambda: _log_files(target)) if capabilities.worker_logs else None,
        on_verdict=recorder.verdict,
    )


def deploy(request: DeployRequest, context: ServiceContext | None = None) -> DeployResult:
    """Plan, then (unless refused or a dry run) roll the release out. Refusal: DeployRefused."""
    context = context or load_context(request.service_dir, ledger=request.ledger)
    plan = plan_deploy(request, context)
    service = plan.release.service or ""
    deployment_id = str(uuid.uuid4())
    if request.dry_run:
        return DeployResult(plan, deployment_id, "dry_run", "; ".join(plan.refusals), None, ())
    directory = state_dir(context.service_dir, service)
    record = DeploymentRecord(
        deployment_id=deployment_id,
        service=service,
        target=request.target,
        environment=plan.environment,
        strategy=plan.strategy.kind,
        release=plan.record.model_dump(mode="json"),
        previous=None,
        gate_decision_id=plan.approval.decision_id,
        deploy_policy=plan.policy.summary(),
    )
    if not plan.allowed:
        _record_refusal(context, record, plan)
        raise DeployRefused("deploy refused: " + "; ".join(plan.refusals))
    target = open_target(request.target, service, context)
    try:
        recovery = recover_if_abandoned(target, context)
        state = target.state
        if state.phase == Phase.PAUSED:
            raise DeployError(
                f"a {state.strategy} rollout of {state.canary.version if state.canary else '-'} "
                "is paused: `deploy promote`, `deploy rollback` or `deploy abort` it first"
            )
        if (
            state.phase == Phase.STABLE
            and state.stable is not None
            and state.stable.version == plan.record.version
            and state.stable.artifact_digest == plan.record.artifact_digest
            and state.stable_workers
        ):
            return DeployResult(
                plan,
                deployment_id,
                "unchanged",
                f"{plan.record.version} already serves 100 %",
                recovery,
                (),
            )
        record.previous = state.stable.model_dump(mode="json") if state.stable else None
        recorder = DeploymentRecorder(context, record)
        recorder.started(
            previous_version=state.stable.version if state.stable else None,
            steps=plan.steps(),
        )
        result = execute_plan(target, plan, recorder, directory, resume=False)
        return DeployResult(
            plan,
            deployment_id,
            result.outcome.value,
            result.reason,
            recovery,
            tuple(record.verdicts),
        )
    finally:
        close_target(target)


def execute_plan(
    target: DeployTarget, plan: Plan, recorder: DeploymentRecorder, directory: Path, *, resume: bool
) -> RolloutResult:
    abort = threading.Event()
    executor = RolloutExecutor(target, analyze=_analyzer(target, plan, recorder), abort=abort)
    with abort_watch(directory, abort):
        try:
            result = (
                executor.resume(plan.strategy)
                if resume
                else executor.run(plan.record, plan.strategy)
            )
        except BaseException as exc:
            # The executor has already reverted to the last known-good version.
            with contextlib.suppress(Exception):
                recorder.finish("rolled_back", f"rollout error, reverted: {exc}")
            raise
    recorder.finish(result.outcome.value, result.reason)
    return result


def _record_refusal(context: ServiceContext, record: DeploymentRecord, plan: Plan) -> None:
    """A refusal is worth an audit line too — when there is a ledger to write it to."""
    recorder = DeploymentRecorder(context, record)
    with contextlib.suppress(LedgerError):
        recorder.ledger(
            "deploy.refused",
            "refused",
            create=False,
            reasons=list(plan.refusals),
            deploy_policy=plan.policy.summary(),
        )
