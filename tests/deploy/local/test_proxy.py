"""The reverse proxy on its own: weighted split, measurements, draining, retries, auth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatekeeper.deploy.errors import DeployError
from gatekeeper.deploy.local import process
from gatekeeper.deploy.proxy import PoolRoute, ProxyClient, ProxyServer, Sample, SampleFeed
from tests.deploy.local.helpers import SERVICE, get


class Worker:
    def __init__(self, version: str, tmp: Path, **env: str) -> None:
        self.version = version
        self.port = process.free_port()
        self.pid, self.started = process.spawn(
            [sys.executable, str(SERVICE)],
            cwd=tmp,
            env={**os.environ, "PORT": str(self.port), "VERSION": version, **env},
            stdout=tmp / f"{version}-{self.port}.out",
            stderr=tmp / f"{version}-{self.port}.err",
        )
        assert process.wait_ready(self.pid, self.started, self.port, "/healthz", 10) is None

    def route(self) -> PoolRoute:
        return PoolRoute(self.version, ((f"{self.version}-{self.port}", self.port),))

    def stop(self) -> None:
        process.stop(self.pid, self.started, 3.0)


def wait_in_flight(client: ProxyClient) -> None:
    deadline = time.monotonic() + 5
    while client.state()["pools"]["stable"]["backends"][0]["inflight"] == 0:
        assert time.monotonic() < deadline, "the slow request never reached the worker"
        time.sleep(0.01)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def proxy(workers: list[Worker]) -> Iterator[tuple[ProxyServer, ProxyClient, list[Sample]]]:
    # Depends on ``workers`` so that the proxy stops (closing its keep-alive connections)
    # before the workers are asked to stop gracefully.
    seen: list[Sample] = []
    server = ProxyServer(token="s3cret", sinks=(seen.append,)).start()
    try:
        yield server, ProxyClient(server.admin_port, "s3cret"), seen
    finally:
        server.stop(drain_timeout=1)


def test_weight_split_is_honoured_and_every_request_is_measured(proxy, workers, tmp_path):
    server, client, seen = proxy
    v1, v2 = Worker("v1", tmp_path), Worker("v2", tmp_path)
    workers += [v1, v2]
    client.put_routes(v1.route(), v2.route(), canary_weight=20, drain_timeout=1)
    feed = SampleFeed(client)

    bodies = Counter(get(server.port)[1] for _ in range(300))

    assert bodies == {"hello v1": 240, "hello v2": 60}  # smooth weighting: exact per 100
    assert len(seen) == 300
    assert {s.version for s in seen} == {"v1", "v2"}
    assert all(s.status == 200 and s.latency_ms > 0 for s in seen)
    samples, dropped = feed.take()
    assert (len(samples), dropped) == (300, 0)
    assert feed.take() == ([], 0)  # the next interval starts empty
    text = client.metrics_text()
    assert 'gatekeeper_proxy_requests_total{pool="canary",version="v2",status="200"} 60' in text
    assert 'gatekeeper_proxy_request_duration_seconds_count{pool="stable",version="v1"} 240' in text
    assert "gatekeeper_proxy_canary_weight 20" in text


def test_weight_change_at_run_time(proxy, workers, tmp_path):
    server, client, _ = proxy
    v1, v2 = Worker("v1", tmp_path), Worker("v2", tmp_path)
    workers += [v1, v2]
    client.put_routes(v1.route(), v2.route(), canary_weight=0, drain_timeout=1)
    assert {get(server.port)[1] for _ in range(20)} == {"hello v1"}
    client.set_weight(100)
    assert {get(server.port)[1] for _ in range(20)} == {"hello v2"}


def test_draining_lets_an_in_flight_request_finish(proxy, workers, tmp_path):
    server, client, _ = proxy
    old, new = Worker("v1", tmp_path), Worker("v2", tmp_path)
    workers += [old, new]
    client.put_routes(old.route(), None, 0, drain_timeout=1)
    slow: list[tuple[int, str]] = []
    thread = threading.Thread(target=lambda: slow.append(get(server.port, "/slow?ms=1500")))
    thread.start()
    wait_in_flight(client)

    result = client.put_routes(new.route(), None, 0, drain_timeout=10)

    # The call returned only once the old worker had no request in flight, and new requests
    # went to the new worker meanwhile.
    assert result.drained == (f"v1-{old.port}",) and result.timed_out == ()
    thread.join(timeout=10)
    assert slow == [(200, "slow v1")]
    assert get(server.port) == (200, "hello v2")
    old.stop()
    assert not process.is_alive(old.pid, old.started)


def test_drain_is_bounded(proxy, workers, tmp_path):
    server, client, _ = proxy
    old, new = Worker("v1", tmp_path), Worker("v2", tmp_path)
    workers += [old, new]
    client.put_routes(old.route(), None, 0, drain_timeout=1)
    thread = threading.Thread(target=lambda: get(server.port, "/slow?ms=3000"))
    thread.start()
    wait_in_flight(client)
    result = client.put_routes(new.route(), None, 0, drain_timeout=0.3)
    assert result.timed_out == (f"v1-{old.port}",)
    thread.join(timeout=10)


def test_a_dead_worker_is_retried_on_another_and_no_worker_is_503(proxy, workers, tmp_path):
    server, client, seen = proxy
    alive = Worker("v1", tmp_path)
    workers.append(alive)
    dead_port = process.free_port()  # nothing listens here
    route = PoolRoute("v1", (("dead", dead_port), (f"v1-{alive.port}", alive.port)))
    client.put_routes(route, None, 0, drain_timeout=1)
    assert [get(server.port)[0] for _ in range(10)] == [200] * 10

    client.put_routes(None, None, 0, drain_timeout=1)
    status, _ = get(server.port)
    assert status == 503
    assert seen[-1].status == 503 and seen[-1].upstream_error


def test_admin_changes_need_the_token(proxy):
    server, _client, _ = proxy
    intruder = ProxyClient(server.admin_port, "wrong")
    with pytest.raises(DeployError, match="401"):
        intruder.set_weight(100)
    assert intruder.state()["canary_weight"] == 0  # reading is open (Prometheus scrapes it)


def test_proxy_daemon_writes_ready_file_and_stops_on_sigterm(tmp_path):
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gatekeeper.deploy.proxy", "--ready-file", str(ready)],
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(200):
            if ready.exists() or proc.poll() is not None:
                break
            threading.Event().wait(0.05)
        info = json.loads(ready.read_text())
        assert info["pid"] == proc.pid
        assert get(info["port"])[0] == 503  # up, nothing to route to yet
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_expired_lease_returns_all_traffic_to_stable_and_says_why(proxy, workers, tmp_path):
    server, client, _ = proxy
    v1, v2 = Worker("v1", tmp_path), Worker("v2", tmp_path)
    workers += [v1, v2]
    client.put_routes(v1.route(), v2.route(), canary_weight=50, drain_timeout=1, lease_seconds=1)
    assert client.state()["lease"]["seconds"] == 1
    # Heartbeats hold the split past the lease time...
    for _ in range(4):
        time.sleep(0.4)
        client.heartbeat(1)
    assert client.state()["canary_weight"] == 50
    assert {get(server.port)[1] for _ in range(10)} == {"hello v1", "hello v2"}
    # ...and without them the proxy heals on its own within about one lease.
    deadline = time.monotonic() + 3
    while client.state()["canary_weight"] != 0:
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.05)
    expired = client.state()["lease"]["expired"]
    assert expired["canary_weight_before"] == 50 and expired["stable_version"] == "v1"
    assert "lease of 1 s expired" in expired["reason"] and "v1" in expired["reason"]
    assert {get(server.port)[1] for _ in range(20)} == {"hello v1"}


def test_no_lease_without_a_split_or_without_asking(proxy, workers, tmp_path):
    _server, client, _ = proxy
    v1, v2 = Worker("v1", tmp_path), Worker("v2", tmp_path)
    workers += [v1, v2]
    # A paused rollout holds its split without a lease: it outlives the deployer on purpose.
    client.put_routes(v1.route(), v2.route(), canary_weight=50, drain_timeout=1)
    # Stable alone (weight 0): nothing to heal, a lease is not even armed.
    client.set_weight(0, lease_seconds=1)
    client.heartbeat(1)  # a late heartbeat changes nothing
    assert client.state()["lease"]["seconds"] is None
    client.set_weight(50)
    time.sleep(1.5)
    assert client.state()["canary_weight"] == 50
    with pytest.raises(DeployError, match="lease_seconds"):
        client.set_weight(50, lease_seconds=-1)


def test_heartbeat_renews_until_stopped():
    from gatekeeper.deploy.proxy.client import Heartbeat

    beats: list[float] = []
    beat = Heartbeat(beats.append, 0.3).start()
    time.sleep(0.55)
    beat.stop()
    count = len(beats)
    assert count >= 2 and set(beats) == {0.3}
    time.sleep(0.3)
    assert len(beats) == count  # stopped means stopped: a dead deployer sends nothing


def _wait_for(condition, what: str, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_mirroring_copies_safe_stable_requests_to_the_canary_and_only_measures_them(
    proxy, workers, tmp_path
):
    import http.client

    server, client, seen = proxy
    v1, v2 = Worker("v1", tmp_path), Worker("v2", tmp_path)
    workers += [v1, v2]
    client.put_routes(v1.route(), v2.route(), canary_weight=0, drain_timeout=1, mirror=100)
    assert client.state()["mirror"] == 100
    # Every client gets blue's answer; green answered a copy of each GET, measured as v2.
    assert {get(server.port)[1] for _ in range(40)} == {"hello v1"}
    _wait_for(lambda: sum(s.version == "v2" for s in seen) == 40, "40 copies measured")
    assert sum(s.version == "v1" for s in seen) == 40
    # An unsafe method is never copied.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/", body=b"x")
    conn.getresponse().read()
    conn.close()
    time.sleep(0.3)
    assert sum(s.version == "v2" for s in seen) == 40
    # Half the share: half the copies; 0 stops.
    client.put_routes(v1.route(), v2.route(), canary_weight=0, drain_timeout=1, mirror=50)
    for _ in range(20):
        get(server.port)
    _wait_for(lambda: sum(s.version == "v2" for s in seen) == 50, "10 more copies")
    client.put_routes(v1.route(), v2.route(), canary_weight=0, drain_timeout=1)
    for _ in range(10):
        get(server.port)
    time.sleep(0.3)
    assert sum(s.version == "v2" for s in seen) == 50


def test_after_the_switch_the_old_pool_answers_copies_of_the_new_pools_requests(
    proxy, workers, tmp_path
):
    server, client, seen = proxy
    v1, v2 = Worker("v1", tmp_path), Worker("v2", tmp_path)
    workers += [v1, v2]
    client.put_routes(v1.route(), v2.route(), canary_weight=100, drain_timeout=1, mirror=100)
    # Clients get green's answers; blue answered a copy of each, measured as v1.
    assert {get(server.port)[1] for _ in range(30)} == {"hello v2"}
    _wait_for(lambda: sum(s.version == "v1" for s in seen) == 30, "30 copies measured on v1")
    assert sum(s.version == "v2" for s in seen) == 30
    # At a split neither pool is idle: copies only go to the canary, of stable's requests.
    client.put_routes(v1.route(), v2.route(), canary_weight=50, drain_timeout=1, mirror=100)
    for _ in range(20):
        get(server.port)
    _wait_for(lambda: sum(s.version == "v2" for s in seen) == 30 + 10 + 10, "copies to v2")
    time.sleep(0.3)
    assert sum(s.version == "v1" for s in seen) == 30 + 10


def test_mirroring_is_leased_like_a_split(proxy, workers, tmp_path):
    _server, client, _ = proxy
    v1, v2 = Worker("v1", tmp_path), Worker("v2", tmp_path)
    workers += [v1, v2]
    client.put_routes(
        v1.route(), v2.route(), canary_weight=0, drain_timeout=1, lease_seconds=1, mirror=100
    )
    assert client.state()["lease"]["seconds"] == 1  # a dead deployer's mirror stops too
    _wait_for(lambda: client.state()["mirror"] == 0, "the lease never stopped mirroring", 4)
    assert "lease of 1 s expired" in client.state()["lease"]["expired"]["reason"]


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        (10, {"canary": 100, "baseline": 100, "stable": 800}),
        (50, {"canary": 500, "baseline": 500}),
        (80, {"canary": 800, "baseline": 200}),  # at most what the canary leaves
        (0, {"stable": 1000}),
    ],
)
def test_a_fresh_baseline_takes_as_large_a_share_as_the_canary(weight, expected):
    from gatekeeper.deploy.proxy.router import Router

    router = Router()
    router.apply(
        ("v1", [("s1", 1001), ("s2", 1002)]),
        ("v2", [("c1", 1003)]),
        weight,
        0,
        baseline=("v1", [("b1", 1004)]),
    )
    picks = Counter()
    for _ in range(1000):
        pick = router.pick()
        assert pick is not None
        picks[pick.pool] += 1
        assert pick.version == ("v2" if pick.pool == "canary" else "v1")
        router.release(pick.backend)
    assert dict(picks) == expected
    assert router.snapshot()["baseline_weight"] == expected.get("baseline", 0) // 10


def test_fresh_baseline_requests_are_labelled_and_a_lost_lease_returns_them_to_stable(
    proxy, workers, tmp_path
):
    server, client, seen = proxy
    v1, v2, fresh = Worker("v1", tmp_path), Worker("v2", tmp_path), Worker("v1", tmp_path)
    workers += [v1, v2, fresh]
    baseline = PoolRoute("v1", ((f"fresh-{fresh.port}", fresh.port),))
    client.put_routes(v1.route(), v2.route(), canary_weight=20, drain_timeout=1, baseline=baseline)
    for _ in range(100):
        get(server.port)
    assert Counter(s.pool for s in seen) == {"stable": 60, "canary": 20, "baseline": 20}
    text = client.metrics_text()
    assert 'gatekeeper_proxy_requests_total{pool="baseline",version="v1",status="200"} 20' in text
    client.set_weight(20, lease_seconds=0.5)
    deadline = time.monotonic() + 10
    while client.state()["canary_weight"] != 0:
        assert time.monotonic() < deadline, "the lease never expired"
        time.sleep(0.05)
    assert client.state()["baseline_weight"] == 0
    seen.clear()
    for _ in range(20):
        get(server.port)
    assert {s.pool for s in seen} == {"stable"}
