"""`gatekeeper deploy` end to end: a scaffolded python-service, real worker processes behind
the real proxy on loopback, a bounded load generator, the real CLI process.

The tests run in file order and share one deployment (module fixture): v1 first deploy; v2
healthy canary promoted under load with zero failed requests; v3 (10 % errors), v4 (doubled
latency) and v5 (a new exception in its logs) rolled back with v2 still serving; a deployer
killed mid-canary recovered by `deploy status`; `deploy abort` of a running rollout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    proxy_port,
    serving,
    settled_on,
)
from tests.deploy.local.helpers import get

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform != "linux", reason="the local target uses /proc"),
]

V1 = index_code("v1")
V2 = index_code("v2")
V3 = index_code("v3", extra='if n % 10 == 0:\n    return _json(500, {"error": "injected"})')
V4 = index_code("v4", delay=0.010)
V5 = index_code(
    "v5",
    extra='if n % 5 == 0:\n    log("error", "lookup failed", error="KeyError: \'customer_id\'")',
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = make_world(tmp_path_factory.mktemp("deploy-e2e"))
    try:
        yield built
    finally:
        state_dir = built.svc / ".gatekeeper" / "deploy" / SERVICE
        if state_dir.is_dir():
            stopped = built.deploy("stop")
            if stopped.code != 0:  # still leave nothing running, then report
                config = load_service_deploy_config(built.svc / "gatekeeper.yaml")
                target = LocalTarget(SERVICE, config, root=built.svc)
                target.teardown()
                target.close()
            assert stopped.code == 0, stopped.stderr
            assert process.find_marked(state_dir.resolve()) == []


def history_rows(world: World) -> list[dict[str, Any]]:
    result = world.deploy("history", "--format", "json")
    assert result.code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


# -- refusals (nothing is started) ---------------------------------------------------------------


def test_refused_without_a_gate_decision_for_the_artifact(world: World) -> None:
    release = world.version("v0", "0.9.0", V1, gate=False)
    result = world.deploy(str(release), "--env", "dev")
    assert result.code == 1
    assert "deploy refused: no ledger" in result.stderr or "no gate decision" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (world.svc / ".gatekeeper" / "deploy" / SERVICE / "state.json").exists()


def test_dry_run_prints_the_plan_and_deploy_time_policies_refuse_production(
    world: World,
) -> None:
    release = world.version("v1", "1.0.1", V1)
    dry = world.deploy(str(release), "--env", "dev", "--dry-run")
    assert dry.code == 0, dry.stderr
    assert "first deploy: start 2 workers" in dry.stdout
    assert "metric error-rate: error_rate" in dry.stdout
    assert "dry run: nothing was changed" in dry.stdout
    assert not (world.svc / ".gatekeeper" / "deploy" / SERVICE / "state.json").exists()

    # production needs approvals, a change reference and staging first (GK-REL-*).
    prod = world.deploy(str(release), "--env", "production")
    assert prod.code == 1
    assert "GK-REL-002" in prod.stderr and "GK-REL-004" in prod.stderr
    refused = [r for r in history_rows(world) if r["kind"] == "deploy.refused"]
    assert refused and refused[-1]["release"]["environment"] == "production"


def test_code_that_is_not_the_judged_artifact_is_refused(world: World) -> None:
    release = world.root / "releases" / "v1" / "release.yaml"
    app = release.parent / "src" / "shop" / "app.py"
    original = app.read_text()
    app.write_text(original + "\n# changed after the gate\n")
    try:
        result = world.deploy(str(release), "--env", "dev", "--dry-run")
    finally:
        app.write_text(original)
    assert result.code == 1
    assert "is not the artifact the release names" in result.stdout


# -- rollouts ------------------------------------------------------------------------------------


def test_v1_first_deploy(world: World) -> None:
    result = world.deploy(str(world.root / "releases" / "v1" / "release.yaml"), "--env", "dev")
    assert result.code == 0, result.stdout + result.stderr
    assert "promoted: first deploy" in result.stdout
    settled_on(world, "1.0.1")
    assert serving(world) == "v1"


def test_v2_healthy_canary_promoted_under_load_without_failed_requests(world: World) -> None:
    release = world.version("v2", "1.0.2", V2)
    result, load = deploy_under_load(world, release)
    assert result.code == 0, result.stdout + result.stderr
    assert "promoted" in result.stdout
    assert load.failed == 0, (load.statuses, load.errors[:3])
    seen = {key for key in load.versions if "v1" in key or "v2" in key}
    assert len(seen) == 2  # both versions really served during the rollout
    status = settled_on(world, "1.0.2")
    verdicts = status["deployment"]["verdicts"]
    assert verdicts[-1]["result"] == "pass"
    # the numbers behind the verdict are kept: samples, statistic, interval, rule
    metric = verdicts[-1]["metrics"]["metrics"][0]
    assert metric["n_canary"] > 50 and metric["p_value"] is not None and metric["rule"]
    assert serving(world) == "v2"


def test_v3_with_ten_percent_errors_rolled_back(world: World) -> None:
    release = world.version("v3", "1.0.3", V3)
    result, _load = deploy_under_load(world, release)
    assert result.code == 1, result.stdout + result.stderr
    assert "rolled_back" in result.stdout
    status = settled_on(world, "1.0.2")
    reason = status["deployment"]["reason"]
    assert "error-rate" in reason
    assert status["deployment"]["outcome"] == "rolled_back"
    text = world.deploy("status")
    assert "error-rate: fail" in text.stdout and "-> rolled_back" in text.stdout
    rolled = [r for r in history_rows(world) if r["kind"] == "deploy.rolled_back"]
    assert rolled[-1]["release"]["version"] == "1.0.3" and "error-rate" in rolled[-1]["reason"]
    assert serving(world) == "v2"


def test_v4_with_doubled_latency_rolled_back(world: World) -> None:
    release = world.version("v4", "1.0.4", V4)
    result, _load = deploy_under_load(world, release)
    assert result.code == 1, result.stdout + result.stderr
    status = settled_on(world, "1.0.2")
    reason = status["deployment"]["reason"]
    assert "latency" in reason or "slow-requests" in reason, reason
    assert serving(world) == "v2"


def test_v5_new_exception_in_logs_flagged_and_rolled_back(world: World) -> None:
    release = world.version("v5", "1.0.5", V5)
    result, _load = deploy_under_load(world, release)
    assert result.code == 1, result.stdout + result.stderr
    status = settled_on(world, "1.0.2")
    assert status["deployment"]["reason"].startswith("analysis 'default' failed: logs:")
    findings = status["deployment"]["verdicts"][-1]["logs"]["findings"]
    flagged = [f for f in findings if f["fails"]]
    assert flagged and "KeyError" in flagged[0]["template"]
    assert serving(world) == "v2"


def _slow_canary_config(world: World) -> None:
    config = world.svc / "gatekeeper.yaml"
    text = config.read_text().replace(
        "      - analysis: {interval: 3, max_inconclusive: 8}\n",
        "      - pause: {duration: 120}\n      - analysis: {interval: 3, max_inconclusive: 8}\n",
    )
    config.write_text(text)


def _start_deployer(world: World, release: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gatekeeper",
            "deploy",
            str(release),
            "--env",
            "dev",
            "-C",
            str(world.svc),
        ],
        cwd=world.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_canary_weight(world: World, weight: int, deployer: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = world.state()
        if state["canary_weight"] == weight and state["canary_workers"]:
            return
        assert deployer.poll() is None, deployer.communicate()
        time.sleep(0.1)
    raise AssertionError(f"the canary never reached {weight} %")


def test_deployer_killed_mid_canary_then_status_leaves_one_version(world: World) -> None:
    _slow_canary_config(world)
    release = world.version("v6", "1.0.6", index_code("v6"))
    deployer = _start_deployer(world, release)
    _wait_for_canary_weight(world, 50, deployer)
    canary_pids = [w["pid"] for w in world.state()["canary_workers"]]
    assert set(_labels(world, 40)) == {"v2", "v6"}
    os.kill(deployer.pid, signal.SIGKILL)
    deployer.wait(timeout=10)
    # No command run: the proxy's lease runs out (lease_seconds 3 in DEPLOY_SETTINGS) and it
    # returns all traffic to the stable version on its own, with 0 failed requests.
    killed_at = time.monotonic()
    while set(_labels(world, 20)) != {"v2"}:
        assert time.monotonic() - killed_at < 3 + 5, "the split never healed on its own"
        time.sleep(0.2)
    answers = [get(proxy_port(world)) for _ in range(60)]
    assert {status for status, _body in answers} == {200}

    result = world.deploy("status")
    assert result.code == 0, result.stderr
    assert "recovered: reverted" in result.stdout
    settled_on(world, "1.0.2")
    assert serving(world) == "v2"
    assert not any(process.is_alive(pid, None) for pid in canary_pids)
    recovered = [r for r in history_rows(world) if r["kind"] == "deploy.recovered"]
    assert recovered and recovered[-1]["release"]["version"] == "1.0.6"
    # Calling it again finds nothing to do.
    assert "recovered: reverted" not in world.deploy("status").stdout


def test_abort_reverts_a_running_rollout(world: World) -> None:
    release = world.root / "releases" / "v6" / "release.yaml"
    deployer = _start_deployer(world, release)
    _wait_for_canary_weight(world, 50, deployer)
    result = world.deploy("abort", "--wait", "60")
    assert result.code == 0, result.stdout + result.stderr
    assert "aborted: " in result.stdout and "aborted by the operator" in result.stdout
    out, _err = deployer.communicate(timeout=30)
    assert deployer.returncode == 1 and "rolled_back: aborted by the operator" in out
    settled_on(world, "1.0.2")


def _labels(world: World, count: int) -> list[str]:
    return [json.loads(get(proxy_port(world))[1])["version"] for _ in range(count)]


def test_rollback_brings_back_the_version_before_the_last_promotion(world: World) -> None:
    result = world.deploy("rollback", "--reason", "customer reports")
    assert result.code == 0, result.stdout + result.stderr
    assert "1.0.2 replaced by 1.0.1: customer reports" in result.stdout
    settled_on(world, "1.0.1")
    assert serving(world) == "v1"
    rolled = [r for r in history_rows(world) if r["kind"] == "deploy.rolled_back"]
    assert rolled[-1]["release"]["version"] == "1.0.1"
    # The history names both: the version rolled back and the one restored.
    assert rolled[-1]["rolled_back_version"] == "1.0.2"
    assert rolled[-1]["restored_version"] == "1.0.1"
    text = world.deploy("history").stdout
    assert "rolled back 1.0.2, restored 1.0.1" in text
    again = world.deploy("rollback")
    assert again.code == 2 and "nothing to roll back" in again.stderr
