"""`gatekeeper deploy` judged through a real Prometheus server (Debian package ``prometheus``).

The same deployed world as test_deploy_e2e (scaffolded python-service, real workers behind the
real proxy, the real CLI), but the service's ``deploy.verification`` names only a Prometheus
metric: the proxy's per-version 5xx share, computed in PromQL from the
``gatekeeper_proxy_requests_total`` counters that Prometheus scrapes from the proxy's admin
``/metrics`` every second. Log analysis is off, so the Prometheus metric alone decides.

The tests run in file order and share one deployment: v1 first deploy (then Prometheus starts
scraping the proxy, whose admin port is known only now); v2 healthy canary promoted; v3 (10 %
errors) rolled back, with the metric's numbers in `deploy status`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from gatekeeper.deploy.local import process
from gatekeeper.deploy.local.target import LocalTarget
from gatekeeper.deploy.service_config import load_service_deploy_config
from tests.deploy.e2e.helpers import (
    SERVICE,
    World,
    deploy_under_load,
    index_code,
    make_world,
    serving,
    settled_on,
)
from tests.deploy.verify.prom import exited_error, prometheus_binary, prometheus_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform != "linux", reason="the local target uses /proc"),
]

V1 = index_code("v1")
V2 = index_code("v2")
V3 = index_code("v3", extra='if n % 10 == 0:\n    return _json(500, {"error": "injected"})')

# `or vector(0)`: a version that never failed has no 5xx series at all, and an empty result is
# "no data" (inconclusive) to the Prometheus source, so a healthy canary could never pass.
ERRORS = (
    'sum(increase(gatekeeper_proxy_requests_total{version="$version",pool="$pool",status=~"5.."}[1m]))'
    " or vector(0)"
)
TOTAL = 'sum(increase(gatekeeper_proxy_requests_total{version="$version",pool="$pool"}[1m]))'


def verification_section(prometheus_url: str) -> str:
    """The example of docs/deployer.md ("Verification through Prometheus, local target")."""
    return (
        "  verification:\n"
        f"    prometheus: {{url: '{prometheus_url}', step: 1, timeout: 5}}\n"
        "    logs: {enabled: false}\n"
        "    judge:\n"
        "      metrics:\n"
        "        - name: prom-5xx\n"
        "          source: prometheus\n"
        f"          query: '{ERRORS}'\n"
        f"          total_query: '{TOTAL}'\n"
        "          critical: true\n"
        "          abs_tolerance: 0.02\n"
    )


def _query(url: str, promql: str) -> list[dict[str, object]]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    params = urllib.parse.urlencode({"query": promql})
    with opener.open(f"{url}/api/v1/query?{params}", timeout=5) as response:
        result: list[dict[str, object]] = json.loads(response.read())["data"]["result"]
        return result


@contextlib.contextmanager
def scraping_prometheus(binary: str, target: str) -> Iterator[str]:
    """Prometheus scraping ``target``'s /metrics every second; yields its URL once it has
    scraped the target successfully."""
    with prometheus_server(
        binary,
        job="gatekeeper-proxy",
        target=target,
        scrape_interval="1s",
        scrape_timeout="900ms",
    ) as running:
        deadline = time.monotonic() + 60
        while True:
            if running.process.poll() is not None:
                raise exited_error(running.process)
            with contextlib.suppress(OSError, ValueError, KeyError):
                up = _query(running.url, 'up{job="gatekeeper-proxy"}')
                if up and float(up[0]["value"][1]) == 1:  # type: ignore[index]
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus did not scrape the proxy within 60 s")
            time.sleep(0.25)
        yield running.url


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    binary = prometheus_binary()
    if binary is None:
        message = "prometheus binary not installed (apt-get install -y prometheus)"
        if os.environ.get("CI") == "true":  # CI installs it (.ci/run): absence is a failure
            pytest.fail(message)
        pytest.skip(message)
    built = make_world(tmp_path_factory.mktemp("deploy-prom"))
    try:
        # v1 is a first deploy (no analysis); it starts the proxy, whose admin port
        # Prometheus then scrapes.
        release = built.version("v1", "1.0.1", V1)
        first = built.deploy(str(release), "--env", "dev")
        assert first.code == 0, first.stdout + first.stderr
        admin_port = int(built.state()["proxy"]["admin_port"])
        with scraping_prometheus(binary, f"127.0.0.1:{admin_port}") as url:
            config = built.svc / "gatekeeper.yaml"
            config.write_text(config.read_text() + verification_section(url))
            yield built
    finally:
        state_dir = built.svc / ".gatekeeper" / "deploy" / SERVICE
        if state_dir.is_dir():
            stopped = built.deploy("stop")
            if stopped.code != 0:  # still leave nothing running, then report
                target = LocalTarget(
                    SERVICE,
                    load_service_deploy_config(built.svc / "gatekeeper.yaml"),
                    root=built.svc,
                )
                target.teardown()
                target.close()
            assert stopped.code == 0, stopped.stderr
            assert process.find_marked(state_dir.resolve()) == []


def test_plan_names_the_prometheus_metric(world: World) -> None:
    release = world.version("v2", "1.0.2", V2)
    dry = world.deploy(str(release), "--env", "dev", "--dry-run")
    assert dry.code == 0, dry.stdout + dry.stderr
    assert "prom-5xx" in dry.stdout and "prometheus" in dry.stdout


def test_v2_healthy_canary_promoted_on_prometheus_data(world: World) -> None:
    release = world.root / "releases" / "v2" / "release.yaml"
    result, load = deploy_under_load(world, release)
    assert result.code == 0, result.stdout + result.stderr
    assert "promoted" in result.stdout
    assert load.failed == 0, (load.statuses, load.errors[:3])
    status = settled_on(world, "1.0.2")
    verdict = status["deployment"]["verdicts"][-1]
    assert verdict["result"] == "pass"
    (metric,) = verdict["metrics"]["metrics"]
    # The counts came from Prometheus: the proxy's counters, scraped and summed per version.
    assert metric["name"] == "prom-5xx" and metric["outcome"] == "pass"
    assert metric["n_canary"] >= 50 and metric["canary_mean"] == 0
    # `pool="$pool"`: the baseline is the fresh one started with the canary, serving as large
    # a share (the long-running stable workers served several times more in the first step).
    assert abs(metric["n_baseline"] - metric["n_canary"]) <= 0.3 * metric["n_canary"] + 5
    assert serving(world) == "v2"


def test_v3_with_ten_percent_errors_rolled_back_on_prometheus_data(world: World) -> None:
    release = world.version("v3", "1.0.3", V3)
    result, _load = deploy_under_load(world, release)
    assert result.code == 1, result.stdout + result.stderr
    assert "rolled_back" in result.stdout
    status = settled_on(world, "1.0.2")
    assert status["deployment"]["outcome"] == "rolled_back"
    assert "prom-5xx" in status["deployment"]["reason"]
    (metric,) = status["deployment"]["verdicts"][-1]["metrics"]["metrics"]
    assert metric["outcome"] == "fail"
    assert 0.05 < metric["canary_mean"] < 0.2 and metric["baseline_mean"] < 0.01
    text = world.deploy("status")
    assert text.code == 0, text.stderr
    # one line per look; the last one is the verdict that rolled back
    line = [ln for ln in text.stdout.splitlines() if "prom-5xx: fail" in ln][-1]
    # every number is labelled with what it is (a rate for a proportion metric)
    assert f"n baseline/canary {metric['n_baseline']}/{metric['n_canary']}" in line
    assert f"canary rate {metric['canary_mean']:.4g}" in line
    assert serving(world) == "v2"
