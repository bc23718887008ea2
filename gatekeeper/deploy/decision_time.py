"""What ``deploy --dry-run`` says about time: how long each analysis step will take to decide
at the traffic the service has now (docs/verification.md, "Repeated looks").

The traffic is read from the running proxy's recent per-request samples (requests per second,
error rate, latencies of the stable version); with no proxy or no traffic yet, it says so and
assumes nothing. Each analysis step's share of it follows the strategy: a canary step's weight
is the last ``setWeight`` before it; a rolling batch compares one new worker with the rest;
blue-green compares the whole new stack with the old one's recent window.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from gatekeeper.deploy.errors import DeployError
from gatekeeper.deploy.proxy.client import ProxyClient
from gatekeeper.deploy.state import DeploymentState
from gatekeeper.deploy.strategy import (
    Analysis,
    AnalysisSpec,
    BlueGreenStrategy,
    CanaryStrategy,
    RollingStrategy,
    SetWeight,
)
from gatekeeper.deploy.verify.config import JudgeConfig
from gatekeeper.deploy.verify.plan import plan_decision

RECENT_SAMPLES = 5_000


@dataclass(frozen=True)
class Traffic:
    per_second: float
    error_rate: float | None
    latencies_ms: tuple[float, ...]
    requests: int


def observed_traffic(state: DeploymentState | None) -> Traffic | None:
    """The stable version's recent traffic through the proxy; None when there is no proxy or
    it cannot be read (reading samples needs no token, and changes nothing)."""
    if state is None or state.proxy is None:
        return None
    client = ProxyClient(state.proxy.admin_port, None, timeout=2.0)
    with contextlib.suppress(DeployError, KeyError, ValueError, TypeError):
        start = max(1, int(client.state()["samples_next"]) - RECENT_SAMPLES)
        samples = [s for s in client.samples(start, RECENT_SAMPLES).samples if s.pool == "stable"]
        if len(samples) < 2:
            return Traffic(0.0, None, (), len(samples))
        span = samples[-1].time - samples[0].time
        errors = sum(1 for s in samples if s.status >= 500)
        return Traffic(
            per_second=(len(samples) - 1) / span if span > 0 else 0.0,
            error_rate=errors / len(samples),
            latencies_ms=tuple(s.latency_ms for s in samples),
            requests=len(samples),
        )
    return None


def _steps(
    strategy: CanaryStrategy | RollingStrategy | BlueGreenStrategy, replicas: int
) -> list[tuple[str, AnalysisSpec, float]]:
    """(label, analysis, canary share 0..1) of every analysis the rollout will run."""
    if isinstance(strategy, CanaryStrategy):
        out: list[tuple[str, AnalysisSpec, float]] = []
        weight = 0
        for index, step in enumerate(strategy.steps, start=1):
            if isinstance(step, SetWeight):
                weight = step.set_weight
            elif isinstance(step, Analysis):
                out.append((f"step {index} at {weight} %", step.analysis, weight / 100))
        return out
    if not strategy.verify:
        return []
    if isinstance(strategy, RollingStrategy):
        return [("first rolling batch", strategy.analysis, 1 / max(replicas, 1))]
    return [("blue-green", strategy.analysis, 0.5)]


def decision_time_lines(
    strategy: CanaryStrategy | RollingStrategy | BlueGreenStrategy,
    judge: JudgeConfig,
    state: DeploymentState | None,
    replicas: int,
) -> list[str]:
    steps = _steps(strategy, replicas)
    if not steps:
        return []
    traffic = observed_traffic(state)
    if traffic is None or traffic.per_second <= 0:
        seen = "no proxy running" if traffic is None else f"{traffic.requests} recent requests"
        return [f"decision time: unknown, no traffic observed yet ({seen})"]
    lines = [
        f"decision time at the observed traffic ({traffic.per_second:.1f} req/s over the last "
        f"{traffic.requests} requests, error rate {traffic.error_rate or 0:.2%}):"
    ]
    for label, spec, share in steps:
        interval = max(spec.interval, 1.0)
        plan = plan_decision(
            judge,
            baseline_per_interval=traffic.per_second * (1 - share) * interval,
            canary_per_interval=traffic.per_second * share * interval,
            interval_s=interval,
            looks=spec.max_inconclusive,
            error_rate=traffic.error_rate,
            latencies_ms=traffic.latencies_ms,
        )
        lines.append(f"  {label}: {plan.describe()}")
    return lines
