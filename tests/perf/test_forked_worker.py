"""The forked copy of an engine worker (worker.ForkedHelper) fails closed and dies with it.

A shared evaluation's second worker is a fork of the first (Linux): whatever goes wrong in
the copy must fail the evaluation (exit 3 for the gate), never drop its share of the rules,
and the copy must not outlive the worker the gate's timeout kills.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gatekeeper.errors import EngineError, PolicyError
from gatekeeper.policy.engines import worker

pytestmark = pytest.mark.skipif(not worker.forking_supported(), reason="needs os.fork")


def test_the_copy_answers_what_its_work_returns() -> None:
    helper = worker.ForkedHelper(lambda: {"values": {"data.a.deny": ["x"]}, "groups": [1]})
    assert helper.result() == {"values": {"data.a.deny": ["x"]}, "groups": [1]}


def test_a_copy_killed_by_a_signal_fails() -> None:
    helper = worker.ForkedHelper(lambda: os.kill(os.getpid(), signal.SIGKILL) or {})
    with pytest.raises(EngineError, match="forked engine worker was killed by signal SIGKILL"):
        helper.result()


def test_a_copy_exiting_without_an_answer_fails() -> None:
    helper = worker.ForkedHelper(lambda: os._exit(0))
    with pytest.raises(EngineError, match="answer is garbled"):
        helper.result()


def test_a_copy_exiting_non_zero_fails() -> None:
    helper = worker.ForkedHelper(lambda: os._exit(4))
    with pytest.raises(EngineError, match="exited with code 4"):
        helper.result()


def test_errors_in_the_copy_keep_their_kind() -> None:
    def policy_error() -> dict[str, object]:
        raise PolicyError("rego_parse_error: bad", path="p.rego", where="3")

    with pytest.raises(PolicyError, match="bad") as caught:
        worker.ForkedHelper(policy_error).result()
    assert (caught.value.path, caught.value.where) == ("p.rego", "3")

    def crash() -> dict[str, object]:
        raise RuntimeError("native panic")

    with pytest.raises(EngineError, match="crashed: RuntimeError: native panic"):
        worker.ForkedHelper(crash).result()


def test_a_copy_without_a_result_fails() -> None:
    with pytest.raises(EngineError, match="has no result"):
        worker.ForkedHelper(lambda: "nothing").result()  # type: ignore[arg-type,return-value]


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" in status  # exited, waiting to be reaped by init


def test_the_copy_dies_with_its_worker(tmp_path: Path) -> None:
    # The gate's timeout kills the worker (SIGKILL): its hanging copy must go too.
    script = (
        "import sys, time\n"
        "from gatekeeper.policy.engines import worker\n"
        "helper = worker.ForkedHelper(lambda: time.sleep(120) or {})\n"
        "print(helper.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        copy = int(proc.stdout.readline())
        assert not _gone(copy)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 5
    while not _gone(copy) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(copy)
