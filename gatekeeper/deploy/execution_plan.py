"""The execution plan: everything that decides whether and how a release is deployed (what
``--dry-run`` prints); computing it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from gatekeeper.deploy.analysis import build_sources
from gatekeeper.deploy.artifact import tree_digest
from gatekeeper.deploy.context import DeployRequest, ServiceContext, StrategyModel
from gatekeeper.deploy.permission import PolicyCheck, evaluate_deploy_policies, gate_approval
from gatekeeper.deploy.service_config import ServiceDeployConfig
from gatekeeper.deploy.state import (
    DeploymentState,
    ReleaseRecord,
    check_service_name,
    load_state,
    state_dir,
)
from gatekeeper.deploy.strategy import (
    Analysis,
    CanaryStrategy,
    Pause,
    RollingStrategy,
    SetWeight,
    default_strategy,
)
from gatekeeper.deploy.target import (
    target_capabilities,
)
from gatekeeper.deploy.verification_config import VerificationConfig
from gatekeeper.deploy.verify import MemorySamples
from gatekeeper.errors import ConfigError, InputError
from gatekeeper.gate.input import load_release
from gatekeeper.ledger.deployments import (
    GateApproval,
)
from gatekeeper.model import Release


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
        return describe_strategy(
            self.strategy,
            replicas=self.replicas,
            first=self.first,
            mirrors=target_capabilities(self.target).mirrors_traffic,
            fresh_baseline=target_capabilities(self.target).fresh_baseline,
        )

    @property
    def first(self) -> bool:
        return self.current is None or self.current.stable is None


def describe_strategy(
    strategy: StrategyModel,
    *,
    replicas: int,
    first: bool,
    mirrors: bool = False,
    fresh_baseline: bool = False,
) -> list[str]:
    if first:
        return [f"first deploy: start {replicas} workers, no baseline to compare with"]
    lines: list[str] = []
    if isinstance(strategy, CanaryStrategy):
        count = min(strategy.canary_replicas or 1, replicas)
        fresh = strategy.baseline == "fresh" and fresh_baseline
        if fresh:
            lines.append(
                f"start {count} canary worker(s) and a fresh baseline of {count} worker(s) of "
                "the stable version beside them, weight 0 %; the canary is judged against the "
                "fresh baseline (as old, as many, as large a share of traffic)"
            )
        else:
            why = "" if strategy.baseline == "stable" else " (this target cannot start one)"
            lines.append(
                f"start {count} canary worker(s), weight 0 %; the canary is judged against "
                f"the running stable workers, not a fresh baseline{why}"
            )
        for index, step in enumerate(strategy.steps, start=1):
            if isinstance(step, SetWeight):
                if fresh:
                    share = min(step.set_weight, 100 - step.set_weight)
                    lines.append(
                        f"{index}. setWeight {step.set_weight} % (fresh baseline {share} %, "
                        f"stable {100 - step.set_weight - share} %)"
                    )
                else:
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
        drained = "old version and fresh baseline drained" if fresh else "old version drained"
        lines.append(f"promote: canary to {replicas} workers at 100 %, {drained}")
    elif isinstance(strategy, RollingStrategy):
        for index in range(1, replicas + 1):
            weight = round(100 * index / replicas)
            text = f"{index}. replace worker {index}/{replicas}: new version {weight} %"
            if strategy.verify and index < replicas:
                spec = strategy.analysis
                text += (
                    f", then analysis against the {replicas - index} old worker(s) "
                    f"({spec.interval:g} s intervals, at most {spec.max_inconclusive} looks)"
                )
            lines.append(text)
        if not strategy.verify:
            lines.append("UNVERIFIED: verify: false (no analysis; recorded)")
        lines.append("promote")
    else:
        lines.append(f"start {replicas} green workers (no traffic)")
        if strategy.verify and strategy.pre_switch:
            spec = strategy.analysis
            lines.append(
                f"analysis before the switch: green on copies of blue's GET/HEAD requests "
                f"against blue ({spec.interval:g} s intervals, at most {spec.max_inconclusive} "
                "looks); a failure stops green, no client ever sees it"
                if mirrors
                else "analysis before the switch: skipped (this target cannot mirror traffic)"
            )
        lines.append("switch 100 % to green")
        if strategy.verify:
            spec = strategy.analysis
            against = (
                "blue answering copies of green's GET/HEAD requests in the same window"
                if mirrors
                else "blue's window just before it"
            )
            lines.append(
                f"analysis: green after the switch against {against} "
                f"({spec.interval:g} s intervals, at most {spec.max_inconclusive} looks); "
                "a failure switches back to blue"
            )
        else:
            lines.append("UNVERIFIED: verify: false (no analysis; recorded)")
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
    approval = gate_approval(request, context, release.artifact_digest, service=release.service)
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


def _has_analysis(strategy: StrategyModel) -> bool:
    if isinstance(strategy, CanaryStrategy):
        return any(isinstance(step, Analysis) for step in strategy.steps)
    return strategy.verify
