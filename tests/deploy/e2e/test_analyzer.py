"""The controller's analyzer without processes: samples in memory, log files on disk."""

from __future__ import annotations

import random
from pathlib import Path

from gatekeeper.deploy.analysis import CanaryAnalyzer, VerdictRecord, build_sources
from gatekeeper.deploy.executor import AnalysisRequest, VerdictResult
from gatekeeper.deploy.strategy import AnalysisSpec
from gatekeeper.deploy.verification_config import VerificationConfig
from gatekeeper.deploy.verify import MemorySamples

NOW = 1_800_000_000.0


def _request(attempt: int, start: float, end: float) -> AnalysisRequest:
    return AnalysisRequest(
        strategy="canary",
        step_index=3,
        spec=AnalysisSpec(interval=10, max_inconclusive=5),
        stable_version="1.0.0",
        canary_version="1.1.0",
        canary_weight=50,
        window_start=start,
        window_end=end,
        attempt=attempt,
    )


def _traffic(
    store: MemorySamples, start: float, n: int, *, error_every: int = 0, canary_latency: float = 5.0
) -> None:
    rng = random.Random(7)  # noqa: S311 - reproducible test data, not secrets
    for i in range(n):
        at = start + i * 0.01
        store.record("stable", 200, rng.uniform(4, 6), at)
        failed = error_every and i % error_every == 0
        store.record("canary", 500 if failed else 200, rng.uniform(4, 6) * canary_latency / 5, at)


def _analyzer(
    store: MemorySamples, tmp: Path | None = None
) -> tuple[CanaryAnalyzer, list[VerdictRecord]]:
    seen: list[VerdictRecord] = []
    config = VerificationConfig()
    files = None
    if tmp is not None:
        base, can = tmp / "base.log", tmp / "canary.log"
        base.write_text("")
        can.write_text("")
        files = lambda: ([base], [can])  # noqa: E731
    analyzer = CanaryAnalyzer(
        config,
        sources=build_sources(config, store),
        feed=None,
        store=store,
        log_files=files,
        on_verdict=seen.append,
        clock=lambda: NOW + 100,
    )
    return analyzer, seen


def test_an_slo_breach_rolls_back_at_once_with_its_numbers() -> None:
    store = MemorySamples()
    _traffic(store, NOW, 400, error_every=4)  # 25 % errors
    analyzer, seen = _analyzer(store)
    verdict = analyzer(_request(1, NOW, NOW + 10))
    assert verdict.result is VerdictResult.FAIL
    assert "error-rate" in verdict.reason
    document = seen[0].to_document()
    error_rate = document["metrics"]["metrics"][0]
    assert error_rate["rule"] == "slo_breach" and error_rate["n_canary"] == 400


def test_a_regression_must_be_confirmed_before_rollback() -> None:
    store = MemorySamples()
    _traffic(store, NOW, 400, canary_latency=10.0)  # twice as slow, no SLO on latency
    analyzer, seen = _analyzer(store)
    first = analyzer(_request(1, NOW, NOW + 10))
    assert first.result is VerdictResult.INCONCLUSIVE and "confirmed" in first.reason
    _traffic(store, NOW + 100, 400, canary_latency=10.0)  # fresh data after the clock's "now"
    second = analyzer(_request(2, NOW + 100, NOW + 110))
    assert second.result is VerdictResult.FAIL
    assert [v.action for v in seen] == ["continue", "rollback"]


def test_too_little_data_is_never_a_pass() -> None:
    store = MemorySamples()
    _traffic(store, NOW, 10)
    analyzer, _seen = _analyzer(store)
    assert analyzer(_request(1, NOW, NOW + 10)).result is VerdictResult.INCONCLUSIVE


def test_a_new_exception_in_the_canary_logs_fails(tmp_path: Path) -> None:
    store = MemorySamples()
    _traffic(store, NOW, 400)
    analyzer, seen = _analyzer(store, tmp_path)
    line = '{"level": "info", "msg": "request", "status": 200, "duration_ms": 1.5}\n'
    (tmp_path / "base.log").write_text(line * 80)
    (tmp_path / "canary.log").write_text(
        line * 60 + '{"level": "error", "msg": "lookup failed", "error": "KeyError: 1"}\n'
    )
    verdict = analyzer(_request(1, NOW, NOW + 10))
    assert verdict.result is VerdictResult.FAIL and verdict.reason.startswith("logs:")
    logs = seen[0].logs
    assert logs is not None and any(f.fails and "KeyError" in f.template for f in logs.findings)
