"""The canary judge on simulated metric streams: detection, false rollbacks, time to decide.

Each simulated canary is analysed interval by interval exactly as the deployer will: requests
of both versions go into :class:`MemorySamples`, the default metrics configuration is judged
through :class:`MemorySource` and :func:`judge`, and :func:`next_action` with the default
:class:`AnalysisPolicy` decides to continue, wait (inconclusive: the next interval's data is
added to the same window), promote, roll back or stop.

Streams (per interval, per version, seeded — no network, same numbers on every run):

* latency: heavy-tailed — lognormal, median 80 ms, sigma 0.5 (p95 about 180 ms), and 2 % of
  requests drawn from a Pareto tail (alpha 1.5, from 300 ms: seconds-long outliers);
* errors: each request fails with the canary run's base rate, drawn uniformly in 0.5-1 %, or
  exactly 0 % in the ``zero-error`` scenarios;
* the default metrics: ``error-rate`` (critical, SLO 5 %), ``latency`` and
  ``slow-requests`` (share of requests slower than the baseline's p95);
* scenarios: ``healthy`` (canary drawn from the baseline's distributions), ``healthy
  zero-error`` (neither side ever fails), ``errors+5pp`` (canary error rate 5 percentage
  points higher), ``errors+5pp zero-base`` (baseline never fails, canary 5 %), ``latency
  x1.5`` (every canary request 1.5 times as slow), ``p95x2`` (same median, canary sigma
  raised so that its p95 doubles), ``NaN latencies`` (half of the canary's latencies are
  NaN: missing data, which must neither promote nor roll back);
* traffic: ``steady`` (50 req/s, canary weight 20 %, 60 s intervals: 2,400 baseline and 600
  canary requests per interval), ``low`` (240 and 60) and ``tiny`` (80 and 20).

"caught" counts rollbacks within the issue's bound (2 intervals on steady traffic, 6 on low
and tiny); "promoted <= 10" counts healthy canaries promoted within 10 intervals.

    python benchmarks/bench_judge.py [--runs 200] [--jobs 2] [--write]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import machine, write_section

from gatekeeper.deploy.strategy import AnalysisSpec
from gatekeeper.deploy.verification_config import RolloutPolicy
from gatekeeper.deploy.verify import (
    Action,
    AnalysisPolicy,
    AnalysisWindow,
    JudgeResult,
    Look,
    MemorySamples,
    MemorySource,
    collect,
    default_judge_config,
    judge,
    next_action,
    stats,
)

REPO = Path(__file__).resolve().parents[1]
MARK_BEGIN = "<!-- bench_judge:begin -->"
MARK_END = "<!-- bench_judge:end -->"
INTERVAL_S = 60.0
MEDIAN_MS = 80.0
SIGMA = 0.5
# Raising sigma by ln(2)/z(0.95) doubles the p95 and keeps the median.
SIGMA_P95X2 = SIGMA + math.log(2) / 1.6448536269514722

TAIL_SHARE = 0.02
TAIL_FROM_MS = 300.0
TAIL_ALPHA = 1.5

# requests per interval: baseline, canary
TRAFFIC = {"steady": (2400, 600), "low": (240, 60), "tiny": (80, 20)}
SCENARIOS = (
    "healthy",
    "healthy zero-error",
    "errors+5pp",
    "errors+5pp zero-base",
    "latency x1.5",
    "p95x2",
    "NaN latencies",
)
HEALTHY = ("healthy", "healthy zero-error")
CATCH_WITHIN = {"steady": 2, "low": 6, "tiny": 6}
PROMOTE_WITHIN = 10


@dataclass(frozen=True)
class RunResult:
    action: str
    intervals: int
    rule: str
    seconds: float


def _requests(
    rng: random.Random,
    store: MemorySamples,
    side: str,
    n: int,
    at: float,
    error_rate: float,
    median: float,
    sigma: float,
    scale: float = 1.0,
    nan_share: float = 0.0,
) -> None:
    mu = math.log(median)
    for i in range(n):
        status = 500 if rng.random() < error_rate else 200
        if rng.random() < TAIL_SHARE:
            latency = TAIL_FROM_MS * rng.paretovariate(TAIL_ALPHA)
        else:
            latency = rng.lognormvariate(mu, sigma)
        latency *= scale
        if nan_share and rng.random() < nan_share:
            latency = math.nan
        store.record(side, status, latency, at=at + i * INTERVAL_S / n)


def simulate(scenario: str, traffic: str, seed: int, policy: AnalysisPolicy) -> RunResult:
    rng = random.Random(f"{scenario}/{traffic}/{seed}")
    base_n, canary_n = TRAFFIC[traffic]
    base_error = 0.0 if "zero" in scenario else rng.uniform(0.005, 0.01)
    canary_error = base_error + (0.05 if scenario.startswith("errors+5pp") else 0.0)
    canary_sigma = SIGMA_P95X2 if scenario == "p95x2" else SIGMA
    scale = 1.5 if scenario == "latency x1.5" else 1.0
    nan_share = 0.5 if scenario == "NaN latencies" else 0.0
    config = default_judge_config()
    store = MemorySamples()
    source = {"memory": MemorySource(store)}
    history: list[JudgeResult] = []
    window_start = 0.0
    looks_in_window = 0
    spent = 0.0
    interval = 0
    while True:
        at = interval * INTERVAL_S
        _requests(rng, store, "baseline", base_n, at, base_error, MEDIAN_MS, SIGMA)
        _requests(
            rng,
            store,
            "canary",
            canary_n,
            at,
            canary_error,
            MEDIAN_MS,
            canary_sigma,
            scale,
            nan_share,
        )
        interval += 1
        window = AnalysisWindow(
            start=window_start, end=interval * INTERVAL_S, baseline="v1", canary="v2"
        )
        looks_in_window += 1
        look = Look(looks_in_window, policy.max_intervals)
        started = time.perf_counter()
        verdict = judge(config, collect(config, source, window), look=look)
        spent += time.perf_counter() - started
        history.append(verdict)
        step = next_action(history, policy)
        if step.action in (Action.PROMOTE, Action.ROLLBACK, Action.STOP):
            return RunResult(step.action.value, interval, verdict.rule.value, spent / interval)
        if step.fresh_window:
            window_start = interval * INTERVAL_S
            looks_in_window = 0


def _one(args: tuple[str, str, int, AnalysisPolicy]) -> RunResult:
    return simulate(*args)


def controller_policy() -> AnalysisPolicy:
    """What the controller applies at one analysis step on its defaults: the service
    RolloutPolicy (2 failures in a row, 1 pass) and the step's look budget."""
    rollout = RolloutPolicy()
    looks = AnalysisSpec.model_validate({"interval": INTERVAL_S}).max_inconclusive
    return AnalysisPolicy(
        failure_limit=rollout.failure_limit,
        slo_rollback_now=rollout.slo_rollback_now,
        passes_required=rollout.passes_required,
        inconclusive_limit=looks,
        max_intervals=looks,
    )


def summarize(results: list[RunResult], traffic: str) -> dict[str, float]:
    actions = Counter(r.action for r in results)
    n = len(results)
    decided = [r.intervals for r in results if r.action in ("promote", "rollback")]
    return {
        "runs": n,
        "rollback": actions["rollback"] / n,
        "caught": sum(
            1 for r in results if r.action == "rollback" and r.intervals <= CATCH_WITHIN[traffic]
        )
        / n,
        "promote": actions["promote"] / n,
        "promoted_within": sum(
            1 for r in results if r.action == "promote" and r.intervals <= PROMOTE_WITHIN
        )
        / n,
        "stop": actions["stop"] / n,
        "median_intervals": statistics.median(decided) if decided else math.nan,
        "p90_intervals": (
            statistics.quantiles(decided, n=10)[-1] if len(decided) >= 2 else math.nan
        ),
        "judge_ms": 1000 * statistics.median(r.seconds for r in results),
    }


def decisive_rules(results: list[RunResult], action: str) -> str:
    """The verdict rules that ended the runs with ``action``, most frequent first."""
    rules = Counter(r.rule for r in results if r.action == action)
    return ", ".join(f"{rule} {count}" for rule, count in rules.most_common(3)) or "-"


def row(traffic: str, scenario: str, s: dict[str, float], rules: str) -> str:
    if scenario in HEALTHY:
        verdict = f"**{s['rollback']:.1%}** false rollbacks"
        target = f"{s['promoted_within']:.1%} promoted <= {PROMOTE_WITHIN}"
    elif scenario == "NaN latencies":
        verdict = f"{s['rollback']:.1%} rolled back"
        target = f"{s['promote']:.1%} promoted (must be 0)"
    else:
        verdict = f"**{s['caught']:.1%}** caught <= {CATCH_WITHIN[traffic]}"
        target = f"{s['promote']:.1%} promoted"
    return (
        f"| {traffic} | {scenario} | {s['runs']:.0f} | {verdict} | {target} | "
        f"{s['rollback']:.1%} | {s['promote']:.1%} | {s['stop']:.1%} | "
        f"{s['median_intervals']:.0f} | {s['p90_intervals']:.1f} | "
        f"{s['judge_ms']:.0f} ms | {rules} |"
    )


def hodges_lehmann_seconds(n: int) -> float:
    """Wall time of one Hodges-Lehmann estimate with its interval, n requests a side."""
    rng = random.Random(n)
    canary = [rng.lognormvariate(4.4, 0.5) for _ in range(n)]
    baseline = [rng.lognormvariate(4.38, 0.5) for _ in range(n)]
    started = time.perf_counter()
    stats.hodges_lehmann(canary, baseline, 0.98)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--traffic", action="append", choices=sorted(TRAFFIC))
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    policy = controller_policy()
    rows = []
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for traffic in args.traffic or TRAFFIC:
            for scenario in args.scenario or SCENARIOS:
                tasks = [(scenario, traffic, seed, policy) for seed in range(args.runs)]
                results = list(pool.map(_one, tasks, chunksize=8))
                s = summarize(results, traffic)
                rows.append(row(traffic, scenario, s, decisive_rules(results, "rollback")))
                print(rows[-1], file=sys.stderr)
    config = default_judge_config()
    error_metric = config.metrics[0]
    traffic_text = ", ".join(f"`{name}` {b:,} / {c:,}" for name, (b, c) in TRAFFIC.items())
    table = "\n".join(
        [
            MARK_BEGIN,
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()} with "
            f"`python benchmarks/bench_judge.py --runs {args.runs}` "
            f"({time.perf_counter() - started:.0f} s wall, {args.jobs} processes).",
            "",
            "Simulated canaries judged exactly as the controller does on its defaults: "
            "default metrics (`error-rate` critical, tolerated shift "
            f"max({error_metric.tolerance:g} x baseline rate, {error_metric.abs_tolerance:g}), "
            f"always-valid (sequential) intervals at {config.confidence:.0%}, "
            "SLO 5 %; `latency` per request; `slow-requests` = share slower than the "
            f"baseline's p95) and default policy (roll "
            f"back after {policy.failure_limit} failing analyses in a row or "
            f"at once on an SLO breach, promote after {policy.passes_required} passing "
            f"analysis, the window grows while inconclusive, at most "
            f"{policy.inconclusive_limit} looks). Intervals are 60 s; requests per interval "
            f"(baseline / canary): {traffic_text}. Latency heavy-tailed: lognormal (median "
            f"{MEDIAN_MS:.0f} ms, sigma {SIGMA}) with {TAIL_SHARE:.0%} Pareto outliers "
            f"(alpha {TAIL_ALPHA}, from {TAIL_FROM_MS:.0f} ms); base error rate 0.5-1 % "
            "(0 % in the zero-error scenarios).",
            "",
            "| traffic | canary | runs | target | other target | rolled back | promoted "
            "| stopped (undecided) | intervals to decide (median) | (p90) "
            "| judge time per interval | rollbacks by rule |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Hodges-Lehmann shift with its 98 % interval (the costliest step of a latency "
            "metric), n requests on each side: "
            + ", ".join(
                f"{n:,}: {hodges_lehmann_seconds(n) * 1000:.0f} ms" for n in (1_000, 5_000, 20_000)
            )
            + " (all pairs sorted up to 250,000 pairs, sampling selection beyond).",
            "",
            MARK_END,
        ]
    )
    print(table)
    if args.write:
        write_section("Canary judge", MARK_BEGIN, MARK_END, table)


if __name__ == "__main__":
    main()
