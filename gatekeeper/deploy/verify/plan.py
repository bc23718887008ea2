"""How long a decision will take at a given traffic: said up front, before anything deploys.

For every compared metric the judge can pass only once its always-valid interval rules out a
regression beyond the tolerated shift. At zero true shift that half-width depends on the
standard error alone, and the standard error on how many requests each side gets per interval,
so the number of intervals a healthy canary needs can be computed from the traffic:

* proportions (error rate, slow requests): ``se = sqrt(p(1-p) (1/n_canary + 1/n_baseline))``
  with ``p`` the baseline's rate (observed, or an assumed one);
* per-request samples (latency): the Hodges-Lehmann shift's asymptotic standard error,
  ``1 / (sqrt(12) * integral f^2) * sqrt(1/n + 1/m)``; for a lognormal with median M and log
  spread s, ``integral f^2 = exp(s^2/4) / (2 sqrt(pi) s M)`` — so relative to the median
  it depends on s alone (observed from the stable version's latencies, or assumed);
* SLO-only metrics and ``min_samples`` need a number of canary requests.

This is an estimate for the median healthy canary (a regression is usually caught sooner): the
``--dry-run`` plan prints it next to the step's time budget, and says when the traffic is too
low for any decision within the budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from gatekeeper.deploy.verify import stats
from gatekeeper.deploy.verify.config import JudgeConfig, MetricConfig

ASSUMED_ERROR_RATE = 0.01
ASSUMED_SLOW_SHARE = 0.05
ASSUMED_LOG_SPREAD = 0.5
MAX_PLANNED_INTERVALS = 10_000
TYPICAL_NOISE = 0.674  # the median of |N(0, 1)|


@dataclass(frozen=True)
class MetricPlan:
    name: str
    intervals: int | None  # None: no decision at this traffic within MAX_PLANNED_INTERVALS
    basis: str  # what the estimate assumed, for people


@dataclass(frozen=True)
class DecisionPlan:
    baseline_per_interval: float
    canary_per_interval: float
    interval_s: float
    looks: int
    metrics: tuple[MetricPlan, ...]

    @property
    def intervals(self) -> int | None:
        known = [m.intervals for m in self.metrics]
        if any(k is None for k in known):
            return None
        return max((k for k in known if k is not None), default=1)

    @property
    def within_budget(self) -> bool:
        return self.intervals is not None and self.intervals <= self.looks

    def describe(self) -> str:
        traffic = (
            f"at {self.baseline_per_interval:.0f} baseline / {self.canary_per_interval:.0f} "
            f"canary requests per {self.interval_s:g} s interval"
        )
        budget = f"budget {self.looks} looks ({self.looks * self.interval_s:g} s)"
        slowest = max(
            (m for m in self.metrics if m.intervals is not None),
            key=lambda m: m.intervals or 0,
            default=None,
        )
        if self.intervals is None:
            stuck = ", ".join(m.name for m in self.metrics if m.intervals is None)
            return (
                f"no decision expected {traffic} ({stuck} cannot rule out a regression): "
                f"raise the canary weight or the traffic; {budget}"
            )
        seconds = self.intervals * self.interval_s
        verdict = "within" if self.within_budget else "BEYOND"
        detail = f"; slowest: {slowest.name}, {slowest.basis}" if slowest is not None else ""
        return (
            f"a healthy canary is decided after about {self.intervals} intervals "
            f"({seconds:g} s) {traffic}, {verdict} the {budget}{detail}"
        )


def _proportion_se(p: float, n_canary: float, n_baseline: float) -> float:
    p = min(max(p, 1e-4), 0.5)
    return math.sqrt(p * (1 - p) * (1 / n_canary + 1 / n_baseline))


def _hodges_lehmann_relative_se(spread: float, n_canary: float, n_baseline: float) -> float:
    """Standard error of the shift relative to the median, for a lognormal of log spread s."""
    s = max(spread, 1e-3)
    density = math.exp(s * s / 4) / (2 * math.sqrt(math.pi) * s)  # times the median
    return 1 / (math.sqrt(12) * density) * math.sqrt(1 / n_canary + 1 / n_baseline)


def _first_interval(test: Callable[[int], bool], limit: int = MAX_PLANNED_INTERVALS) -> int | None:
    """The smallest k in 1..limit with test(k) (monotone in k), by doubling and bisection."""
    high = 1
    while not test(high):
        if high >= limit:
            return None
        high = min(limit, high * 2)
    low = high // 2  # not ok at low (or low == 0)
    while high - low > 1:
        mid = (low + high) // 2
        if test(mid):
            high = mid
        else:
            low = mid
    return high


def plan_metric(
    metric: MetricConfig,
    confidence: float,
    sequential: bool,
    *,
    baseline_per_interval: float,
    canary_per_interval: float,
    error_rate: float,
    log_spread: float,
    looks: int | None = None,
) -> MetricPlan:
    conf = metric.confidence or confidence
    alpha = 1 - conf
    z = NormalDist().inv_cdf(1 - alpha / 2)
    needed = metric.min_samples

    def enough(k: int) -> bool:
        return canary_per_interval * k >= needed and (
            not metric.compare or baseline_per_interval * k >= needed
        )

    if canary_per_interval <= 0 or (metric.compare and baseline_per_interval <= 0):
        return MetricPlan(metric.name, None, "no traffic on a side")
    if not metric.compare:
        k = _first_interval(enough)
        return MetricPlan(metric.name, k, f"{needed} canary samples for its SLO")
    proportion = metric.query.startswith(("error_rate", "slow_"))
    rate = ASSUMED_SLOW_SHARE if metric.query.startswith("slow_") else error_rate
    allowed_rel = metric.tolerance
    if proportion:
        allowed = max(metric.tolerance * rate, metric.abs_tolerance)
        basis = f"baseline rate {rate:.2%}, tolerated shift {allowed:.3g}"
    else:
        allowed = allowed_rel  # relative to the median
        basis = f"log spread {log_spread:.2f}, tolerated shift {allowed_rel:.0%} of the median"
    if allowed <= 0:
        return MetricPlan(metric.name, None, "no tolerated shift: nothing can be ruled out")

    def ruled_out(k: int, planned: int | None = None) -> bool:
        if not enough(k):
            return False
        n_c, n_b = canary_per_interval * k, baseline_per_interval * k
        se = (
            _proportion_se(rate, n_c, n_b)
            if proportion
            else _hodges_lehmann_relative_se(log_spread, n_c, n_b)
        )
        if sequential and planned is not None:
            # The judge's ruled-out bound at look k of the window's planned looks.
            spend = stats.spent_alpha(stats.Look(k, planned), alpha / 2)
            half = NormalDist().inv_cdf(1 - spend) * se
        elif sequential:
            half = stats.mixture_half_width(se, allowed, alpha)
        else:
            half = z * se
        # A healthy canary's estimate is itself off by about TYPICAL_NOISE standard errors
        # (the median run): the interval's edge sits that much further out.
        return half + TYPICAL_NOISE * se <= allowed

    if sequential and looks:
        within = next((k for k in range(1, looks + 1) if ruled_out(k, looks)), None)
        if within is not None:
            return MetricPlan(metric.name, within, basis)
    return MetricPlan(metric.name, _first_interval(ruled_out), basis)


def plan_decision(
    config: JudgeConfig,
    *,
    baseline_per_interval: float,
    canary_per_interval: float,
    interval_s: float,
    looks: int,
    error_rate: float | None = None,
    latencies_ms: Sequence[float] = (),
) -> DecisionPlan:
    """The plan for one analysis step at the given traffic (requests per interval per side).
    ``error_rate`` and ``latencies_ms`` are what the stable version shows now, when known."""
    finite = [v for v in latencies_ms if math.isfinite(v) and v > 0]
    if len(finite) >= 20:
        logs = [math.log(v) for v in finite]
        mean = math.fsum(logs) / len(logs)
        spread = math.sqrt(math.fsum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
    else:
        spread = ASSUMED_LOG_SPREAD
    rate = ASSUMED_ERROR_RATE if error_rate is None else error_rate
    metrics = tuple(
        plan_metric(
            m,
            config.confidence,
            config.sequential,
            baseline_per_interval=baseline_per_interval,
            canary_per_interval=canary_per_interval,
            error_rate=rate,
            log_spread=spread,
            looks=looks,
        )
        for m in config.metrics
        if not m.dry_run
    )
    return DecisionPlan(
        baseline_per_interval=baseline_per_interval,
        canary_per_interval=canary_per_interval,
        interval_s=interval_s,
        looks=looks,
        metrics=metrics,
    )
