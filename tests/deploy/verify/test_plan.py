"""The decision-time estimate the dry-run prints: from the traffic to a number of intervals."""

# ruff: noqa: S311 - seeded test data, not secrets

from __future__ import annotations

import math
import random

from gatekeeper.deploy.verify import default_judge_config
from gatekeeper.deploy.verify.plan import DecisionPlan, plan_decision


def plan(
    baseline: float,
    canary: float,
    *,
    error_rate: float | None = None,
    latencies_ms: tuple[float, ...] | list[float] = (),
) -> DecisionPlan:
    return plan_decision(
        default_judge_config(),
        baseline_per_interval=baseline,
        canary_per_interval=canary,
        interval_s=60,
        looks=10,
        error_rate=error_rate,
        latencies_ms=latencies_ms,
    )


def test_less_traffic_takes_longer_and_is_said_up_front() -> None:
    steady, low, tiny = plan(2400, 600), plan(240, 60), plan(80, 20)
    assert steady.intervals is not None and low.intervals is not None
    assert tiny.intervals is not None
    assert steady.intervals <= 2 < low.intervals < tiny.intervals
    assert steady.within_budget and not tiny.within_budget
    text = tiny.describe()
    assert "BEYOND the budget 10 looks (600 s)" in text and "80 baseline / 20 canary" in text
    assert "error-rate" in text  # the metric that needs the most data is named


def test_no_canary_traffic_means_no_decision() -> None:
    nothing = plan(240, 0)
    assert nothing.intervals is None and not nothing.within_budget
    assert "no decision expected" in nothing.describe()


def test_observed_spread_and_error_rate_change_the_estimate() -> None:
    rng = random.Random(3)
    calm = [rng.lognormvariate(math.log(80), 0.2) for _ in range(500)]
    wild = [rng.lognormvariate(math.log(80), 1.5) for _ in range(500)]
    latency = {"calm": plan(80, 20, latencies_ms=calm), "wild": plan(80, 20, latencies_ms=wild)}
    by_name = {k: {m.name: m.intervals for m in v.metrics} for k, v in latency.items()}
    assert by_name["calm"]["latency"] < by_name["wild"]["latency"]  # type: ignore[operator]
    clean = {m.name: m.intervals for m in plan(240, 60, error_rate=0.0).metrics}
    dirty = {m.name: m.intervals for m in plan(240, 60, error_rate=0.03).metrics}
    assert clean["error-rate"] < dirty["error-rate"]  # type: ignore[operator]
