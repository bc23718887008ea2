"""Crash safety: a deployer killed mid-canary, then recovery leaves one version at 100 %."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gatekeeper.deploy.local import process
from gatekeeper.deploy.local.target import LocalTarget
from gatekeeper.deploy.recovery import recover
from gatekeeper.deploy.state import Phase, load_state, state_dir
from tests.conftest import REPO
from tests.deploy.local.helpers import LoadGenerator, get, service_config


def wait_for_canary_at_50(directory: Path, deployer: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert deployer.poll() is None, "the deployer exited on its own"
        state = load_state(directory, "svc")
        if state and state.canary_weight == 50 and state.step_index == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the canary never reached 50 %")


def test_killed_deployer_mid_canary_is_reverted_to_stable(tmp_path):
    deployer = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "deploy" / "local" / "deployer.py"), str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    directory = state_dir(tmp_path.resolve(), "svc")
    try:
        wait_for_canary_at_50(directory, deployer)
    finally:
        deployer.send_signal(signal.SIGKILL)
        deployer.wait(timeout=10)

    crashed = load_state(directory, "svc")
    assert crashed is not None and crashed.proxy is not None
    assert crashed.phase == Phase.PROGRESSING
    canary_pids = tuple(w.pid for w in crashed.canary_workers)
    stable_pids = tuple(w.pid for w in crashed.stable_workers)
    baseline_pids = tuple(w.pid for w in crashed.baseline_workers)  # the canary's fresh one
    assert len(baseline_pids) == len(canary_pids) >= 1
    # The proxy and both versions outlived the deployer, still splitting 50/50.
    assert {get(crashed.proxy.port)[1] for _ in range(10)} == {"hello v1", "hello v2"}

    target = LocalTarget("svc", service_config(), root=tmp_path)  # the lock was released
    try:
        with LoadGenerator(crashed.proxy.port) as load:
            load.wait_for(50)
            report = recover(target)
            load.wait_for(load.result.total + 50)
        assert report.action == "reverted" and report.version == "v1"
        assert "reverted to v1" in report.message
        assert load.result.failed == 0
        assert {get(crashed.proxy.port)[1] for _ in range(30)} == {"hello v1"}
        assert not any(process.is_alive(pid, None) for pid in (*canary_pids, *baseline_pids))
        assert target.state.baseline_workers == ()
        assert tuple(w.pid for w in target.state.stable_workers) == stable_pids
        marked = {pid for pid, _started, _role in process.find_marked(target.dir)}
        assert marked == {*stable_pids, crashed.proxy.pid}  # nothing else left running
        saved = load_state(directory, "svc")
        assert saved is not None and saved.phase == Phase.STABLE and saved.canary is None
        assert recover(target).action == "none"  # idempotent
    finally:
        target.teardown()
        target.close()


def test_recovery_restarts_a_dead_proxy_and_missing_workers(target, tmp_path):
    from gatekeeper.deploy.executor import RolloutExecutor
    from tests.deploy.local.test_rollouts import FIRST, release

    RolloutExecutor(target).run(release("v1", tmp_path), FIRST)
    old_proxy = target.state.proxy
    assert old_proxy is not None
    process.stop(old_proxy.pid, old_proxy.start_time, 1.0)
    victim = target.state.stable_workers[0]
    process.stop(victim.pid, victim.start_time, 1.0)

    report = recover(target)

    assert report.action == "reconciled" and report.version == "v1"
    assert target.state.proxy is not None and target.state.proxy.pid != old_proxy.pid
    assert len(target.state.stable_workers) == 2
    assert victim.pid not in {w.pid for w in target.state.stable_workers}
    assert {get(target.state.proxy.port)[1] for _ in range(10)} == {"hello v1"}


def test_a_promotion_whose_canary_workers_died_is_reverted_not_completed(target, tmp_path):
    from gatekeeper.deploy.executor import RolloutExecutor
    from gatekeeper.deploy.target import CANARY
    from tests.deploy.local.test_rollouts import FIRST, release

    RolloutExecutor(target).run(release("v1", tmp_path), FIRST)
    target.begin(release("v2", tmp_path), "canary")
    target.add_workers(CANARY, 1)
    target.set_progress(phase=Phase.PROMOTING)  # the verdict was pass, then the deployer died
    (canary,) = target.state.canary_workers
    process.stop(canary.pid, canary.start_time, 1.0)  # ... and so did its canary

    report = recover(target)

    assert report.action == "reverted" and report.version == "v1"
    assert canary.pid in report.stopped_pids
    assert target.state.phase == Phase.STABLE and target.state.canary is None
    assert {get(target.state.proxy.port)[1] for _ in range(10)} == {"hello v1"}
