"""The deploy controller: from a release file to a verified rollout, and everything around it.

``gatekeeper deploy`` calls this module; it ties together what the other deploy modules do:

1. **Permission.** The release (``release.yaml``: service, version, ``artifact_digest``) must
   have a passing, authentic gate decision for the same artifact digest in the ledger
   (:func:`~gatekeeper.ledger.deployments.find_gate_approval`). On the local target the release's
   code directory (the folder holding the release file) must have that very digest
   (:func:`~gatekeeper.deploy.artifact.tree_digest`): what starts is what was judged.
2. **Deploy-time policies.** The ``gatekeeper.release.*`` packages (GK-REL-*: freeze windows,
   promotion order, approvals, change references) are evaluated through the same engine, bundle,
   data and waivers as the gate, with the release's environment set to ``--env``.
3. **Rollout.** :class:`~gatekeeper.deploy.executor.RolloutExecutor` applies the strategy to
   the target; :class:`~gatekeeper.deploy.analysis.CanaryAnalyzer` judges each analysis
   interval from the proxy's measurements, Prometheus and the workers' logs.
4. **Record.** Every step that matters — refused, started, each verdict with its numbers,
   promoted, rolled back (with the reason), recovered — is appended to the ledger and kept in
   ``.gatekeeper/deploy/<service>/deployment.json`` for ``deploy status``.

A refusal is exit 1 (:class:`DeployRefused`), like a gate that says no. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gatekeeper.config import GatekeeperConfig, load_config
from gatekeeper.deploy.analysis import CanaryAnalyzer, VerdictRecord, build_sources
from gatekeeper.deploy.artifact import tree_digest
from gatekeeper.deploy.atomic import write_json_atomic
from gatekeeper.deploy.errors import DeployError
from gatekeeper.deploy.executor import Outcome, RolloutExecutor, RolloutResult
from gatekeeper.deploy.proxy.client import SampleFeed
from gatekeeper.deploy.service_config import ServiceDeployConfig, load_service_deploy_config
from gatekeeper.deploy.state import (
    DeploymentState,
    Phase,
    ReleaseRecord,
    check_service_name,
    load_state,
    state_dir,
)
from gatekeeper.deploy.strategy import (
    Analysis,
    BlueGreenStrategy,
    CanaryStrategy,
    Pause,
    RollingStrategy,
    SetWeight,
    default_strategy,
)
from gatekeeper.deploy.target import (
    DeployTarget,
    RecoveryReport,
    target_capabilities,
    target_class,
)
from gatekeeper.deploy.verification_config import VerificationConfig
from gatekeeper.deploy.verify import MemorySamples
from gatekeeper.errors import EXIT_FAIL, ConfigError, GatekeeperError, InputError
from gatekeeper.gate.decide import DecideOptions, decide
from gatekeeper.gate.input import load_release
from gatekeeper.gate.run import load_gate_bundle, load_gate_waivers, release_gate_input
from gatekeeper.ledger.deployments import (
    GateApproval,
    deploy_events,
    find_gate_approval,
    record_deploy_event,
)
from gatekeeper.ledger.registry import open_configured_store
from gatekeeper.ledger.signing import load_public_key_id, signer_from_env
from gatekeeper.ledger.store import LedgerError, LedgerMissing, LedgerStore
from gatekeeper.model import Decision, Release

DEPLOYMENT_SCHEMA = "gatekeeper.deployment/v1"
DEPLOYMENT_FILE = "deployment.json"
ABORT_FILE = "abort"
PROMOTED_FILE = "promoted.json"  # the releases that served 100 %, newest last (for rollback)
MAX_PROMOTED = 20
DEPLOY_NAMESPACES = ("gatekeeper.release.*",)
MAX_STORED_VERDICTS = 100
ABORT_POLL_S = 0.2
StrategyModel = RollingStrategy | BlueGreenStrategy | CanaryStrategy


class DeployRefused(GatekeeperError):
    """The release may not be deployed: no passing, authentic gate decision for its artifact,
    a deploy-time policy said no, or its code is not what the gate judged. Exit 1."""

    exit_code = EXIT_FAIL


# ---------------------------------------------------------------------------------------------
# Context: the service directory, its configuration and its ledger
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceContext:
    service_dir: Path
    gate_config: GatekeeperConfig
    deploy_config: ServiceDeployConfig
    ledger: str | None  # --ledger; None: the configured one
    env: Mapping[str, str]

    def open_ledger(self, *, create: bool) -> LedgerStore:
        return open_configured_store(
            self.ledger, config=self.gate_config, env=self.env, cwd=self.service_dir, create=create
        )

    @property
    def verification(self) -> VerificationConfig:
        return self.deploy_config.verification or VerificationConfig()


def load_context(
    service_dir: Path, *, ledger: str | None = None, env: Mapping[str, str] | None = None
) -> ServiceContext:
    """gatekeeper.yaml of ``service_dir`` (its gate settings and its ``deploy`` section)."""
    environ = dict(os.environ if env is None else env)
    directory = service_dir.resolve()
    if not directory.is_dir():
        raise InputError("service directory not found", path=str(service_dir))
    gate_config = load_config(None, cwd=directory, env=environ)
    if gate_config.config_path is None:
        raise ConfigError(
            "no gatekeeper.yaml with a 'deploy' section here (-C names the service directory)",
            path=str(service_dir),
        )
    deploy_config = load_service_deploy_config(gate_config.config_path)
    return ServiceContext(directory, gate_config, deploy_config, ledger, environ)


def find_service(service_dir: Path, service: str | None) -> str:
    """The service whose deployment a command is about: ``--service``, or the only one that
    was ever deployed from ``service_dir``."""
    if service:
        return check_service_name(service)
    base = service_dir.resolve() / ".gatekeeper" / "deploy"
    names = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    if len(names) == 1:
        return names[0]
    if not names:
        raise InputError("nothing was deployed from here yet", path=str(service_dir))
    raise InputError(f"several services deployed from here ({', '.join(names)}): use --service")


# ---------------------------------------------------------------------------------------------
# The deployment record (deployment.json): what `deploy status` shows besides the live state
# ---------------------------------------------------------------------------------------------


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class DeploymentRecord:
    """The last rollout of a service: its release, permission, verdicts and end."""

    deployment_id: str
    service: str
    target: str
    environment: str
    strategy: str
    release: dict[str, Any]
    previous: dict[str, Any] | None
    gate_decision_id: str | None
    deploy_policy: dict[str, Any]
    started_at: str = field(default_factory=_now_text)
    finished_at: str | None = None
    outcome: str = "in_progress"  # promoted | rolled_back | paused | in_progress
    reason: str | None = None
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    def to_document(self) -> dict[str, Any]:
        return {
            "schema": DEPLOYMENT_SCHEMA,
            "deployment_id": self.deployment_id,
            "service": self.service,
            "target": self.target,
            "environment": self.environment,
            "strategy": self.strategy,
            "release": self.release,
            "previous": self.previous,
            "gate_decision_id": self.gate_decision_id,
            "deploy_policy": self.deploy_policy,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": self.outcome,
            "reason": self.reason,
            "verdicts": self.verdicts[-MAX_STORED_VERDICTS:],
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> DeploymentRecord:
        fields = {k: doc[k] for k in cls.__dataclass_fields__ if k in doc}
        return cls(**fields)

    def save(self, directory: Path) -> None:
        write_json_atomic(directory / DEPLOYMENT_FILE, self.to_document())


def load_deployment_record(directory: Path) -> DeploymentRecord | None:
    import json

    path = directory / DEPLOYMENT_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("schema") != DEPLOYMENT_SCHEMA:
            raise ValueError(f"unknown schema {doc.get('schema')!r}")
        return DeploymentRecord.from_document(doc)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise InputError(f"not a valid deployment record: {exc}", path=str(path)) from None


def _promoted_releases(directory: Path) -> list[dict[str, Any]]:
    import json

    try:
        value = json.loads((directory / PROMOTED_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise InputError(
            f"not a valid list of releases: {exc}", path=str(directory / PROMOTED_FILE)
        ) from None
    if not isinstance(value, list):
        raise InputError("not a valid list of releases", path=str(directory / PROMOTED_FILE))
    releases: list[dict[str, Any]] = [item for item in value if isinstance(item, dict)]
    return releases


def _remember_promoted(directory: Path, release: dict[str, Any], environment: str) -> None:
    releases = _promoted_releases(directory)
    releases.append({"release": release, "environment": environment, "at": _now_text()})
    write_json_atomic(directory / PROMOTED_FILE, releases[-MAX_PROMOTED:])


def _release_before(directory: Path, current: str | None) -> dict[str, Any] | None:
    """The newest promoted release other than the one serving now."""
    older = [
        entry
        for entry in _promoted_releases(directory)
        if (entry.get("release") or {}).get("version") != current
    ]
    return older[-1] if older else None


def _forget_promoted(directory: Path, version: str | None) -> None:
    releases = _promoted_releases(directory)
    while releases and (releases[-1].get("release") or {}).get("version") == version:
        releases.pop()
    write_json_atomic(directory / PROMOTED_FILE, releases)


# ---------------------------------------------------------------------------------------------
# Planning: permission, deploy-time policies, strategy (also what --dry-run prints)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployRequest:
    release_file: Path
    environment: str
    service_dir: Path
    strategy: str | None = None  # None: the service's configured strategy, else canary
    target: str = "local"
    dry_run: bool = False
    trusted_keys: tuple[Path, ...] = ()
    ledger: str | None = None


@dataclass(frozen=True)
class PolicyCheck:
    """The deploy-time policies' result for this environment."""

    outcome: str  # pass | warn | fail
    rules: int
    violations: tuple[str, ...]  # "GK-REL-003: message"
    waived: tuple[str, ...]
    decision: Decision | None  # None: not evaluated again (a resumed rollout)

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "outcome": self.outcome,
            "rules": self.rules,
            "violations": list(self.violations),
            "waived": list(self.waived),
        }
        if self.decision is not None:
            summary["bundle_digest"] = self.decision.policy_bundle.digest
            summary["engine"] = self.decision.engine.model_dump(mode="json")
        return summary


@dataclass(frozen=True)
class Plan:
    release: Release
    record: ReleaseRecord
    environment: str
    target: str
    strategy: StrategyModel
    approval: GateApproval
    policy: PolicyCheck
    code_digest: str | None  # local target: the digest of the code directory
    refusals: tuple[str, ...]
    current: DeploymentState | None
    verification: VerificationConfig
    replicas: int

    @property
    def allowed(self) -> bool:
        return not self.refusals

    def steps(self) -> list[str]:
        """The rollout, one line per step (what --dry-run prints)."""
        return describe_strategy(self.strategy, replicas=self.replicas, first=self.first)

    @property
    def first(self) -> bool:
        return self.current is None or self.current.stable is None


def describe_strategy(strategy: StrategyModel, *, replicas: int, first: bool) -> list[str]:
    if first:
        return [f"first deploy: start {replicas} workers, no baseline to compare with"]
    lines: list[str] = []
    if isinstance(strategy, CanaryStrategy):
        count = min(strategy.canary_replicas or 1, replicas)
        lines.append(f"start {count} canary worker(s), weight 0 %")
        for index, step in enumerate(strategy.steps, start=1):
            if isinstance(step, SetWeight):
                lines.append(f"{index}. setWeight {step.set_weight} %")
            elif isinstance(step, Pause):
                duration = step.pause.duration
                lines.append(
                    f"{index}. pause {duration:g} s"
                    if duration is not None
                    else f"{index}. pause until `deploy promote`"
                )
            elif isinstance(step, Analysis):
                spec = step.analysis
                lines.append(
                    f"{index}. analysis '{spec.name}': {spec.interval:g} s intervals, "
                    f"at most {spec.max_inconclusive} looks"
                )
        lines.append(f"promote: canary to {replicas} workers at 100 %, old version drained")
    elif isinstance(strategy, RollingStrategy):
        for index in range(1, replicas + 1):
            weight = round(100 * index / replicas)
            text = f"{index}. replace worker {index}/{replicas}: new version {weight} %"
            if strategy.analysis is not None:
                text += f", then analysis ({strategy.analysis.interval:g} s intervals)"
            lines.append(text)
        lines.append("promote")
    else:
        lines.append(f"start {replicas} green workers (no traffic)")
        lines.append("switch 100 % to green")
        if strategy.analysis is not None:
            lines.append(f"analysis ({strategy.analysis.interval:g} s intervals)")
        lines.append(
            "promote: blue drained and stopped"
            if strategy.auto_promote
            else "hold blue until `deploy promote` or `deploy rollback`"
        )
    return lines


def resolve_strategy(kind: str | None, config: ServiceDeployConfig) -> StrategyModel:
    """``--strategy KIND``: the configured strategy when it is of that kind, else the built-in
    default of that kind; no flag: the configured strategy, else the default canary."""
    configured = config.strategy
    if kind is None:
        return configured if configured is not None else default_strategy("canary")
    if configured is not None and configured.kind == kind:
        return configured
    try:
        return default_strategy(kind)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def evaluate_deploy_policies(
    context: ServiceContext, release: Release, environment: str
) -> PolicyCheck:
    """GK-REL-* for ``environment``, through the gate's own engine, bundle, data, waivers."""
    config = context.gate_config
    staged = release.model_copy(update={"environment": environment})
    now = datetime.now(UTC)
    # Waivers first, as in `gate run`: a malformed waivers file is bad input, not a policy error.
    waivers = load_gate_waivers(
        config.waivers, cwd=context.service_dir, max_days=config.max_waiver_days, now=now
    )
    gate_input = release_gate_input(staged, now=now, env=context.env)
    bundle = load_gate_bundle(
        tuple(str(p) for p in config.policies), tuple(str(p) for p in config.data)
    )
    decision = decide(
        gate_input,
        bundle,
        waivers,
        DecideOptions(
            engine=config.engine,
            namespaces=DEPLOY_NAMESPACES,
            fail_on=config.fail_on,
            timeout=config.engine_timeout,
            now=now,
        ),
    )
    return PolicyCheck(
        outcome=decision.outcome.value,
        rules=decision.summary.rules,
        violations=tuple(f"{v.policy}: {v.message}" for v in decision.violations),
        waived=tuple(f"{w.violation.policy}: {w.waiver.id}" for w in decision.waived),
        decision=decision,
    )


def _trusted_key_ids(request: DeployRequest, env: Mapping[str, str]) -> list[str] | None:
    """Which signers a decision must carry: --trusted-key files, and the public half of
    GATEKEEPER_LEDGER_KEY (the key this installation signs with). None: signatures are
    checked where present but not required."""
    ids = [load_public_key_id(path) for path in request.trusted_keys]
    signer = signer_from_env(env)
    if signer is not None:
        ids.append(signer.key_id)
    return ids or None


def plan_deploy(request: DeployRequest, context: ServiceContext) -> Plan:
    """Everything that decides whether and how the release is deployed; changes nothing."""
    release = load_release(request.release_file)
    path = str(request.release_file)
    if not release.service:
        raise InputError("the release names no service", path=path)
    if not release.version:
        raise InputError("the release names no version", path=path)
    check_service_name(release.service)
    if not release.artifact_digest:
        raise InputError(
            "the release has no artifact_digest: the deployer ships only what a gate judged "
            "(local target: `gatekeeper deploy digest DIR`)",
            path=path,
        )
    if not request.environment.strip():
        raise ConfigError("--env must name an environment")
    workdir = request.release_file.resolve().parent
    refusals: list[str] = []
    code_digest: str | None = None
    capabilities = target_capabilities(request.target)
    if capabilities.runs_code_folder:
        code_digest = tree_digest(workdir)
        if code_digest != release.artifact_digest:
            refusals.append(
                f"the code in {workdir} is not the artifact the release names: its digest is "
                f"{code_digest}, the release says {release.artifact_digest}"
            )
    approval = _approval(request, context, release.artifact_digest)
    if not approval.allowed:
        refusals.append(approval.reason)
    policy = evaluate_deploy_policies(context, release, request.environment)
    if policy.outcome == "fail":
        refusals.append(
            f"deploy-time policies for {request.environment}: " + "; ".join(policy.violations)
        )
    strategy = resolve_strategy(request.strategy, context.deploy_config)
    verification = context.verification
    if _has_analysis(strategy):
        build_sources(verification, MemorySamples() if capabilities.request_samples else None)
    record = ReleaseRecord(
        version=release.version,
        workdir=str(workdir) if capabilities.runs_code_folder else "",
        env={
            "GATEKEEPER_RELEASE_VERSION": release.version,
            "GATEKEEPER_ENVIRONMENT": request.environment,
        },
        artifact_digest=release.artifact_digest,
        decision_id=approval.decision_id,
    )
    current = load_state(state_dir(context.service_dir, release.service), release.service)
    return Plan(
        release=release.model_copy(update={"environment": request.environment}),
        record=record,
        environment=request.environment,
        target=request.target,
        strategy=strategy,
        approval=approval,
        policy=policy,
        code_digest=code_digest,
        refusals=tuple(refusals),
        current=current,
        verification=verification,
        replicas=context.deploy_config.replicas,
    )


def _approval(request: DeployRequest, context: ServiceContext, digest: str) -> GateApproval:
    try:
        store = context.open_ledger(create=False)
    except LedgerMissing as exc:
        return GateApproval(False, f"no ledger at {exc.path}: no gate decision is recorded")
    try:
        return find_gate_approval(
            store, digest, trusted_key_ids=_trusted_key_ids(request, context.env)
        )
    finally:
        store.close()


def _has_analysis(strategy: StrategyModel) -> bool:
    if isinstance(strategy, CanaryStrategy):
        return any(isinstance(step, Analysis) for step in strategy.steps)
    return strategy.analysis is not None


# ---------------------------------------------------------------------------------------------
# Running a rollout
# ---------------------------------------------------------------------------------------------


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


class _Recorder:
    """Appends deployment events to the ledger and keeps deployment.json current."""

    def __init__(self, context: ServiceContext, record: DeploymentRecord, directory: Path):
        self.context = context
        self.record = record
        self.directory = directory
        self.signer = signer_from_env(context.env)

    def ledger(self, kind: str, outcome: str, *, create: bool = True, **details: Any) -> None:
        release = self.record.release
        store = self.context.open_ledger(create=create)
        try:
            record_deploy_event(
                store,
                kind=kind,
                release={
                    "service": self.record.service,
                    "version": release.get("version"),
                    "artifact_digest": release.get("artifact_digest"),
                    "environment": self.record.environment,
                },
                outcome=outcome,
                details={
                    "deployment_id": self.record.deployment_id,
                    "target": self.record.target,
                    "strategy": self.record.strategy,
                    "gate_decision_id": self.record.gate_decision_id,
                    **details,
                },
                signer=self.signer,
            )
        finally:
            store.close()

    def verdict(self, verdict: VerdictRecord) -> None:
        document = verdict.to_document()
        self.record.verdicts.append({"at": _now_text(), **document})
        self.record.save(self.directory)
        self.ledger("deploy.verdict", verdict.result.value, verdict=document)

    def finish(self, outcome: str, reason: str, **details: Any) -> None:
        self.record.outcome = outcome
        self.record.reason = reason
        self.record.finished_at = _now_text() if outcome != "paused" else None
        self.record.save(self.directory)
        if outcome == "promoted":
            _remember_promoted(self.directory, self.record.release, self.record.environment)
        kind = {
            "promoted": "deploy.promoted",
            "rolled_back": "deploy.rolled_back",
            "paused": "deploy.paused",
        }[outcome]
        self.ledger(kind, outcome, reason=reason, **details)


def open_target(
    name: str, service: str, context: ServiceContext, *, lock: bool = True
) -> DeployTarget:
    cls = target_class(name)
    # Both built-in targets take (service, config, root=, lock=); the ABC does not say so.
    target: DeployTarget = cls(service, context.deploy_config, root=context.service_dir, lock=lock)  # type: ignore[call-arg]
    return target


def close_target(target: DeployTarget) -> None:
    close = getattr(target, "close", None)
    if callable(close):
        close()


@contextlib.contextmanager
def _abort_watch(directory: Path, event: threading.Event) -> Iterator[None]:
    """`deploy abort` (another process) drops a file; SIGINT/SIGTERM here do the same. Either
    sets the executor's abort event, which interrupts the current wait and reverts."""
    abort_file = directory / ABORT_FILE
    abort_file.unlink(missing_ok=True)
    done = threading.Event()

    def poll() -> None:
        while not done.wait(ABORT_POLL_S):
            if abort_file.exists():
                event.set()
                return

    watcher = threading.Thread(target=poll, name="gatekeeper-abort-watch", daemon=True)
    watcher.start()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: event.set())
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=2)
        for number, handler in previous.items():
            signal.signal(number, handler)
        abort_file.unlink(missing_ok=True)


def _recover_if_abandoned(
    target: DeployTarget, context: ServiceContext, directory: Path
) -> RecoveryReport | None:
    """A rollout in flight while we hold the lock: its deployer died. Finish or revert it
    (a paused rollout is waiting on purpose and is left alone)."""
    phase = target.state.phase
    if not phase.in_flight or phase == Phase.PAUSED:
        return None
    report = target.recover()
    record = load_deployment_record(directory)
    if record is not None and record.outcome == "in_progress":
        outcome = "promoted" if report.action == "completed" else "rolled_back"
        if outcome == "promoted":
            _remember_promoted(directory, record.release, record.environment)
        recorder = _Recorder(context, record, directory)
        record.outcome, record.reason, record.finished_at = outcome, report.message, _now_text()
        record.save(directory)
        recorder.ledger(
            "deploy.recovered",
            outcome,
            reason=report.message,
            action=report.action,
            serving=report.version,
            stopped_pids=list(report.stopped_pids),
        )
    return report


def _log_files(target: DeployTarget) -> tuple[list[Path], list[Path]]:
    state = target.state

    def files(workers: Sequence[Any]) -> list[Path]:
        return [Path(p) for w in workers for p in (w.stdout, w.stderr) if p]

    return files(state.stable_workers), files(state.canary_workers)


def _analyzer(target: DeployTarget, plan: Plan, recorder: _Recorder) -> CanaryAnalyzer:
    capabilities = target.capabilities
    store = MemorySamples() if capabilities.request_samples else None
    feed: SampleFeed | None = target.sample_feed() if capabilities.request_samples else None
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
        recovery = _recover_if_abandoned(target, context, directory)
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
        record.save(directory)
        recorder = _Recorder(context, record, directory)
        recorder.ledger(
            "deploy.started",
            "started",
            previous_version=state.stable.version if state.stable else None,
            deploy_policy=plan.policy.summary(),
            steps=plan.steps(),
        )
        result = _execute(target, plan, recorder, directory, resume=False)
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


def _execute(
    target: DeployTarget, plan: Plan, recorder: _Recorder, directory: Path, *, resume: bool
) -> RolloutResult:
    abort = threading.Event()
    executor = RolloutExecutor(target, analyze=_analyzer(target, plan, recorder), abort=abort)
    with _abort_watch(directory, abort):
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
    recorder = _Recorder(context, record, state_dir(context.service_dir, record.service))
    with contextlib.suppress(LedgerError):
        recorder.ledger(
            "deploy.refused",
            "refused",
            create=False,
            reasons=list(plan.refusals),
            deploy_policy=plan.policy.summary(),
        )


# ---------------------------------------------------------------------------------------------
# status, history, rollback, abort, promote
# ---------------------------------------------------------------------------------------------


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
    if load_state(state_dir(context.service_dir, service), service) is None:
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
    directory = state_dir(context.service_dir, service)
    try:
        recovery = None if busy else _recover_if_abandoned(handle, context, directory)
        live = handle.observe()
    finally:
        close_target(handle)
    return StatusResult(service, target, live, load_deployment_record(directory), recovery, busy)


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
    directory = state_dir(context.service_dir, service)
    if busy:
        close_target(handle)
        raise DeployError("a deployer is running this rollout: `deploy abort` stops it and reverts")
    try:
        recovery = _recover_if_abandoned(handle, context, directory)
        state = handle.state
        why = reason or "rolled back by the operator"
        record = load_deployment_record(directory)
        if state.phase.in_flight:  # paused
            version = state.canary.version if state.canary else "-"
            restored = _stable(handle)
            handle.rollback(why)
            if record is not None:
                _Recorder(context, record, directory).finish(
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
        before = _release_before(directory, current)
        if before is None or current is None:
            raise InputError(
                "nothing to roll back: no unfinished rollout, and no earlier promoted version "
                "is known"
            )
        previous = ReleaseRecord.model_validate(before["release"])
        serving = state.stable.model_dump(mode="json") if state.stable else None
        undo = DeploymentRecord(
            deployment_id=str(uuid.uuid4()),
            service=service,
            target=target,
            environment=str(before.get("environment") or ""),
            strategy="blue-green",
            release=previous.model_dump(mode="json"),
            previous=serving,
            gate_decision_id=previous.decision_id,
            deploy_policy={"outcome": "skipped", "reason": "rollback to the previous version"},
        )
        undo.save(directory)
        recorder = _Recorder(context, undo, directory)
        executor = RolloutExecutor(handle)
        recorder.ledger("deploy.started", "started", previous_version=current, reason=why)
        result = executor.run(previous, BlueGreenStrategy())
        recorder.finish(
            "rolled_back",
            f"{why}: {current} rolled back, {previous.version} restored",
            rolled_back_version=current,
            restored_version=previous.version,
        )
        # The version rolled back from is no longer "promoted": a second rollback goes further.
        _forget_promoted(directory, current)
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
            record = load_deployment_record(directory)
            return ActionResult(
                service,
                "aborted",
                _stable_of(context, service),
                record.reason if record and record.reason else "the deployer stopped",
            )
        return ActionResult(
            service, "abort_requested", None, f"the deployer did not stop within {wait:g} s"
        )
    try:
        recovery = _recover_if_abandoned(handle, context, directory)
        if handle.state.phase.in_flight:
            handle.rollback("aborted by the operator")
            record = load_deployment_record(directory)
            if record is not None:
                _Recorder(context, record, directory).finish(
                    "rolled_back", "aborted by the operator"
                )
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
    directory = state_dir(context.service_dir, service)
    try:
        if busy:
            raise DeployError("a deployer is running a rollout: `deploy abort` it first")
        teardown = getattr(handle, "teardown", None)
        if not callable(teardown):
            raise ConfigError(f"the {target} target cannot be stopped from here")
        version = _stable(handle)
        teardown()
        record = load_deployment_record(directory)
        if record is not None:
            _Recorder(context, record, directory).ledger(
                "deploy.stopped", "stopped", reason="stopped by the operator", serving=version
            )
        return ActionResult(service, "stopped", None, f"{version or 'nothing'} stopped")
    finally:
        close_target(handle)


def _stable_of(context: ServiceContext, service: str) -> str | None:
    state = load_state(state_dir(context.service_dir, service), service)
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
        record = load_deployment_record(directory)
        if state.phase != Phase.PAUSED or record is None:
            raise InputError("no paused rollout to promote")
        strategy = _strategy_of(record, context)
        plan = _resume_plan(record, strategy, context)
        recorder = _Recorder(context, record, directory)
        result = _execute(handle, plan, recorder, directory, resume=True)
        return ActionResult(service, result.outcome.value, _stable(handle), result.reason)
    finally:
        close_target(handle)


def _strategy_of(record: DeploymentRecord, context: ServiceContext) -> StrategyModel:
    return resolve_strategy(record.strategy, context.deploy_config)


def _resume_plan(
    record: DeploymentRecord, strategy: StrategyModel, context: ServiceContext
) -> Plan:
    release = ReleaseRecord.model_validate(record.release)
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
    """Deployment events from the ledger, oldest first (verdicts included)."""
    try:
        store = context.open_ledger(create=False)
    except LedgerMissing:
        return []
    try:
        rows: list[dict[str, Any]] = []
        for stored, doc in deploy_events(store, service=service):
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
                }
            )
        return rows
    finally:
        store.close()
