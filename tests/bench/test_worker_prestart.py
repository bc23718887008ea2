"""The gate starts its engine worker before ingesting evidence; that must change no outcome.

A spare worker is used once, only for the engine and worker command it was started with, and
never outlives a gate run that failed before evaluating.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gatekeeper.errors import EngineError, InputError
from gatekeeper.gate.run import GateRequest, run_gate
from gatekeeper.policy.bundle import load_bundle
from gatekeeper.policy.engines import guard
from gatekeeper.policy.engines.registry import get_engine

POLICY = 'package t\n\ndeny contains msg if {\n\tinput.x > 1\n\tmsg := "x is big"\n}\n'
CRASH = [sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"]


@pytest.fixture(autouse=True)
def _no_spare_left() -> object:
    guard.discard_spare()
    yield None
    guard.discard_spare()


def _spare_child() -> subprocess.Popen[bytes]:
    spare = guard._spare
    assert spare is not None
    return spare.child


@pytest.mark.parametrize("engine_name", ["regorus", "regopy"])
def test_a_prestarted_worker_evaluates_and_is_used_once(engine_name: str, tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text(POLICY, encoding="utf-8")
    bundle = load_bundle([str(tmp_path)])
    guard.prestart_worker(engine_name)
    child = _spare_child()
    result = get_engine(engine_name).evaluate(bundle, json.dumps({"x": 5}), ("data.t.deny",))
    assert result.values == {"data.t.deny": ["x is big"]}
    assert guard._spare is None
    assert child.poll() == 0  # the spare answered and exited, it was not left waiting
    # The next evaluation spawns its own worker and still answers.
    again = get_engine(engine_name).evaluate(bundle, json.dumps({"x": 0}), ("data.t.deny",))
    assert again.values == {"data.t.deny": []}


def test_a_spare_started_with_another_command_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "p.rego").write_text(POLICY, encoding="utf-8")
    bundle = load_bundle([str(tmp_path)])
    guard.prestart_worker("regorus")  # a healthy worker ...
    monkeypatch.setattr(guard, "WORKER_COMMAND", CRASH)  # ... but the command is now this one
    with pytest.raises(EngineError, match="killed by signal SIGKILL"):
        get_engine("regorus").evaluate(bundle, "{}", ("data.t.deny",))


def test_a_crashing_spare_still_fails_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "p.rego").write_text(POLICY, encoding="utf-8")
    bundle = load_bundle([str(tmp_path)])
    monkeypatch.setattr(guard, "WORKER_COMMAND", CRASH)
    guard.prestart_worker("regorus")
    with pytest.raises(EngineError, match="killed by signal SIGKILL"):
        get_engine("regorus").evaluate(bundle, json.dumps({"x": 5}), ("data.t.deny",))


def test_engines_without_a_worker_get_no_spare() -> None:
    guard.prestart_worker("opa-server")
    assert guard._spare is None


def test_bad_input_is_reported_as_input_and_the_spare_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[bytes]] = []
    real_prestart = guard.prestart_worker

    def recording_prestart(engine: str) -> None:
        real_prestart(engine)
        started.append(_spare_child())

    monkeypatch.setattr("gatekeeper.gate.run.prestart_worker", recording_prestart)
    bad = tmp_path / "sbom.cdx.json"
    bad.write_text('{"bomFormat": "CycloneDX", "components": [', encoding="utf-8")
    with pytest.raises(InputError, match="truncated"):
        run_gate(GateRequest(evidence=(str(bad),), cwd=tmp_path))
    assert len(started) == 1
    assert started[0].poll() is not None  # killed, not left waiting for a request
    assert guard._spare is None
