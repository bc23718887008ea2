"""Metrics derived from the proxy's per-request measurements."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gatekeeper.deploy.verify import (
    AnalysisWindow,
    Counts,
    MemorySamples,
    MemorySource,
    MetricConfig,
    Outcome,
    Samples,
    analyze,
    default_judge_config,
)
from gatekeeper.errors import ConfigError

WINDOW = AnalysisWindow(start=100.0, end=200.0, baseline="v1", canary="v2")


def metric(query: str) -> MetricConfig:
    return MetricConfig(name="m", query=query)


@dataclass(frozen=True)
class ProxySample:  # the shape of gatekeeper.deploy.proxy's Sample that we rely on
    pool: str
    status: int
    latency_ms: float
    time: float


def test_error_rate_counts_server_errors_per_side_within_the_window() -> None:
    store = MemorySamples()
    store.record("stable", 200, 10, at=150)
    store.record("stable", 503, 10, at=150)  # the proxy's own "no worker" answer counts
    store.record("stable", 404, 10, at=150)  # the client's mistake does not
    store.record("canary", 500, 10, at=150)
    store.record("canary", 500, 10, at=99)  # before the window
    store.record("canary", 500, 10, at=200)  # window end is exclusive
    observation = MemorySource(store).fetch(metric("error_rate"), WINDOW)
    assert observation.baseline == Counts(events=1, total=3)
    assert observation.canary == Counts(events=1, total=1)


def test_proxy_samples_are_recorded_by_pool() -> None:
    store = MemorySamples()
    store.record_all([ProxySample("stable", 200, 12.5, 120), ProxySample("canary", 200, 30.0, 121)])
    observation = MemorySource(store).fetch(metric("latency"), WINDOW)
    assert observation.baseline == Samples((12.5,))
    assert observation.canary == Samples((30.0,))


def test_quantile_blocks_are_of_equal_size_and_partial_blocks_are_left_out() -> None:
    store = MemorySamples()
    for i in range(45):
        store.record("baseline", 200, float(i % 20), at=150)
    for _ in range(9):
        store.record("canary", 200, 1.0, at=150)
    observation = MemorySource(store, block_size=20).fetch(metric("latency_p95"), WINDOW)
    assert isinstance(observation.baseline, Samples)
    assert observation.baseline.n == 2  # 45 requests -> 2 full blocks of 20
    assert observation.baseline.values[0] == pytest.approx(18.05)
    assert observation.canary == Samples(())


def test_no_requests_at_all_is_missing_data() -> None:
    observation = MemorySource(MemorySamples()).fetch(metric("latency"), WINDOW)
    assert observation.missing is not None and "no requests" in observation.missing


def test_unknown_query_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown memory query"):
        MemorySource(MemorySamples()).fetch(metric("throughput"), WINDOW)


def test_memory_is_bounded_and_says_when_a_window_lost_requests() -> None:
    store = MemorySamples(max_requests=10)
    for i in range(25):
        store.record("canary", 200, 1.0, at=150 + i)
    store.record("baseline", 200, 1.0, at=150)
    observation = MemorySource(store).fetch(metric("latency"), WINDOW)
    assert isinstance(observation.canary, Samples) and observation.canary.n == 10
    assert any("dropped" in note for note in observation.notes)


def test_default_config_judges_proxy_data_end_to_end() -> None:
    store = MemorySamples()
    # 4,000 baseline and 1,000 canary requests with the same behaviour.
    for i in range(4000):
        store.record("stable", 500 if i % 133 == 0 else 200, 20 + (i * 7919) % 50, at=150)
    for i in range(1000):
        store.record("canary", 500 if i % 133 == 7 else 200, 20 + (i * 7919 + 3) % 50, at=150)
    verdict = analyze(default_judge_config(), {"memory": MemorySource(store)}, WINDOW)
    assert verdict.outcome is Outcome.PASS, verdict.reason
    # 10 % errors on the canary: the error-rate SLO (5 %) fails it at once.
    for _ in range(120):
        store.record("canary", 500, 25, at=160)
    verdict = analyze(default_judge_config(), {"memory": MemorySource(store)}, WINDOW)
    assert verdict.outcome is Outcome.FAIL
    assert verdict.metrics[0].name == "error-rate" and verdict.metrics[0].slo is not None


def test_slow_share_counts_requests_above_the_baselines_quantile() -> None:
    store = MemorySamples()
    for i in range(1, 101):
        store.record("baseline", 200, float(i), at=150)
    for latency in [50.0] * 10 + [200.0] * 10:
        store.record("canary", 200, latency, at=150)
    observation = MemorySource(store).fetch(metric("slow_p95"), WINDOW)
    assert observation.baseline == Counts(events=5, total=100)  # 96..100 > p95 = 95.05
    assert observation.canary == Counts(events=10, total=20)
    assert any("95.05" in note for note in observation.notes)


def test_slow_share_without_baseline_requests_is_missing_data() -> None:
    store = MemorySamples()
    store.record("canary", 200, 5.0, at=150)
    observation = MemorySource(store).fetch(metric("slow_p95"), WINDOW)
    assert observation.missing is not None and "no baseline requests" in observation.missing


def test_blue_green_baseline_is_read_from_its_own_window() -> None:
    from gatekeeper.deploy.verify import AnalysisWindow, MemorySamples, MemorySource, MetricConfig

    store = MemorySamples()
    for t in range(100):  # blue before the switch at t=100, green after it
        store.record("stable", 200, 50.0, at=float(t))
        store.record("canary", 500 if t % 2 else 200, 90.0, at=100.0 + t)
    window = AnalysisWindow(
        start=100, end=200, baseline="blue", canary="green", baseline_start=0, baseline_end=100
    )
    metric = MetricConfig(name="errors", query="error_rate")
    seen = MemorySource(store).fetch(metric, window)
    assert seen.baseline is not None and seen.canary is not None
    assert (seen.baseline.n, seen.canary.n) == (100, 100)
    same = AnalysisWindow(start=100, end=200, baseline="blue", canary="green")
    assert MemorySource(store).fetch(metric, same).baseline.n == 0  # type: ignore[union-attr]


def test_with_a_fresh_baseline_the_long_running_stable_workers_are_not_the_baseline() -> None:
    store = MemorySamples()
    store.record_all(
        [
            ProxySample("stable", 200, 80.0, 120),  # long-running, warm workers
            ProxySample("baseline", 200, 12.0, 121),  # started with the canary
            ProxySample("stable", 200, 81.0, 122),
            ProxySample("baseline", 200, 13.0, 123),
            ProxySample("canary", 200, 14.0, 124),
        ]
    )
    fresh = AnalysisWindow(start=100.0, end=200.0, baseline="v1", canary="v2", fresh_baseline=True)
    assert MemorySource(store).fetch(metric("latency"), fresh).baseline == Samples((12.0, 13.0))
    # Without one, every request of the baseline version counts, in arrival order.
    mixed = MemorySource(store).fetch(metric("latency"), WINDOW).baseline
    assert mixed == Samples((80.0, 12.0, 81.0, 13.0))
