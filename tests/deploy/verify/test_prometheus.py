"""The Prometheus source against a real Prometheus server (Debian package ``prometheus``).

Tests that need the server skip when the binary is absent; CI installs it (.ci/run).
"""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator

import pytest

from gatekeeper.deploy.verify import (
    AnalysisWindow,
    Counts,
    JudgeConfig,
    MetricConfig,
    MetricOutcome,
    Outcome,
    PrometheusSource,
    Rule,
    Samples,
    SloLimit,
    analyze,
)
from gatekeeper.errors import ConfigError
from tests.deploy.verify.prom import (
    RunningPrometheus,
    free_port,
    prometheus_binary,
    running_prometheus,
)

pytestmark = pytest.mark.e2e  # seconds per test: real processes or servers (README, Development)

LATENCY = 'max(app_latency_ms{version="$version"})'
ERRORS = 'sum(increase(app_requests_total{version="$version",code="500"}[1m]))'
TOTAL = 'sum(increase(app_requests_total{version="$version"}[1m]))'


@pytest.fixture(scope="module")
def prometheus() -> Iterator[RunningPrometheus]:
    binary = prometheus_binary()
    if binary is None:
        message = "prometheus binary not installed (apt-get install -y prometheus)"
        if os.environ.get("CI") == "true":  # CI installs it (.ci/run): absence is a failure
            pytest.fail(message)
        pytest.skip(message)
    with running_prometheus(binary, min_points=16) as running:
        yield running


def _window(baseline: str, canary: str) -> AnalysisWindow:
    now = time.time()
    return AnalysisWindow(start=now - 10, end=now, baseline=baseline, canary=canary, step=0.25)


def _config(*metrics: MetricConfig) -> JudgeConfig:
    return JudgeConfig(metrics=metrics)


def _latency(**extra: object) -> MetricConfig:
    fields: dict[str, object] = {
        "name": "latency",
        "source": "prometheus",
        "query": LATENCY,
        "min_samples": 10,
    }
    fields.update(extra)
    return MetricConfig.model_validate(fields)


def test_range_query_returns_the_series_of_each_version(prometheus: RunningPrometheus) -> None:
    source = PrometheusSource(prometheus.url)
    observation = source.fetch(_latency(), _window("v1", "v3"))
    assert observation.missing is None
    assert isinstance(observation.baseline, Samples) and isinstance(observation.canary, Samples)
    assert observation.baseline.n >= 10
    # v1's gauge moves around 100 ms, v3's around 200 ms.
    assert all(90 <= v <= 110 for v in observation.baseline.values)
    assert all(180 <= v <= 220 for v in observation.canary.values)


def test_healthy_canary_passes_and_slow_canary_fails(prometheus: RunningPrometheus) -> None:
    sources = {"prometheus": PrometheusSource(prometheus.url)}
    healthy = analyze(_config(_latency()), sources, _window("v1", "v2"))
    assert healthy.outcome is Outcome.PASS, healthy.reason
    slow = analyze(_config(_latency()), sources, _window("v1", "v3"))
    assert slow.outcome is Outcome.FAIL, slow.reason
    metric = slow.metrics[0]
    assert metric.rule is Rule.REGRESSION
    assert metric.shift is not None and 80 <= metric.shift <= 120  # about +100 ms
    assert metric.p_value is not None and metric.p_value < 0.02


def test_error_counts_from_instant_queries_trip_the_slo(prometheus: RunningPrometheus) -> None:
    metric = MetricConfig(
        name="errors",
        source="prometheus",
        query=ERRORS,
        total_query=TOTAL,
        critical=True,
        min_samples=10,
        slo=SloLimit(statistic="rate", max=0.05),
    )
    source = PrometheusSource(prometheus.url)
    observation = source.fetch(metric, _window("v1", "v3"))
    assert isinstance(observation.canary, Counts) and isinstance(observation.baseline, Counts)
    assert observation.canary.total > 100
    assert 0.2 < observation.canary.events / observation.canary.total < 0.4
    verdict = analyze(_config(metric), {"prometheus": source}, _window("v1", "v3"))
    assert verdict.outcome is Outcome.FAIL
    assert verdict.rule is Rule.SLO_BREACH
    assert verdict.score == 0.0


def test_missing_series_is_inconclusive_never_pass(prometheus: RunningPrometheus) -> None:
    sources = {"prometheus": PrometheusSource(prometheus.url)}
    verdict = analyze(_config(_latency()), sources, _window("v1", "v9"))
    assert verdict.outcome is Outcome.INCONCLUSIVE
    metric = verdict.metrics[0]
    assert metric.outcome is MetricOutcome.INCONCLUSIVE
    assert metric.rule is Rule.NO_DATA
    assert "canary (v9)" in metric.reason and "no series" in metric.reason


def test_several_series_are_refused(prometheus: RunningPrometheus) -> None:
    metric = _latency(query='app_requests_total{version="$version"}')
    verdict = analyze(
        _config(metric), {"prometheus": PrometheusSource(prometheus.url)}, _window("v1", "v2")
    )
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert "returned 2 series" in verdict.metrics[0].reason


def test_rejected_promql_is_inconclusive_with_prometheus_reason(
    prometheus: RunningPrometheus,
) -> None:
    metric = _latency(query='sum(app_latency_ms{version="$version"}')
    verdict = analyze(
        _config(metric), {"prometheus": PrometheusSource(prometheus.url)}, _window("v1", "v2")
    )
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert "HTTP 400" in verdict.metrics[0].reason


# --- no server needed ------------------------------------------------------------------------


def test_unreachable_prometheus_is_inconclusive() -> None:
    source = PrometheusSource(f"http://127.0.0.1:{free_port()}", timeout=2)
    verdict = analyze(_config(_latency()), {"prometheus": source}, _window("v1", "v2"))
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert "not reachable" in verdict.metrics[0].reason


class _Huge(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"status":"success","data":' + b" " * 4096 + b"}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_oversized_response_is_refused() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Huge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = PrometheusSource(f"http://127.0.0.1:{server.server_address[1]}", max_bytes=1024)
        observation = source.fetch(_latency(), _window("v1", "v2"))
        assert observation.missing is not None and "larger than 1024 bytes" in observation.missing
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org", "localhost:9090"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(ConfigError, match="http"):
        PrometheusSource(url)


def test_version_labels_cannot_inject_promql() -> None:
    source = PrometheusSource("http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="not a safe Prometheus label value"):
        source.fetch(_latency(), _window('v1"} or vector(1) #', "v2"))
