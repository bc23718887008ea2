"""regorus evaluates one gate run in two workers that claim the policy packages between them.

What a user relies on: the same violations as one worker, and fail-closed when any worker
crashes, answers garbage, skips a package or answers one twice. Each test runs both ways the
second worker can come about: forked by the first from its prepared engine (Linux), or
started by the gate as a process of its own.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest

from gatekeeper.errors import EngineError
from gatekeeper.policy.bundle import PolicyBundle, load_bundle
from gatekeeper.policy.engines import base, guard, worker
from gatekeeper.policy.engines.registry import get_engine

QUERIES = ("data.a.deny", "data.b.deny", "data.c.warn", "data.c.deny")


def _bundle(tmp_path: Path) -> PolicyBundle:
    (tmp_path / "a.rego").write_text(
        "package a\n\ndeny contains x.name if {\n\tsome x in input.items\n\tx.bad\n}\n"
    )
    (tmp_path / "b.rego").write_text(
        'package b\n\ndeny contains "too many" if count(input.items) > 2\n'
    )
    (tmp_path / "c.rego").write_text(
        "package c\n\nwarn contains n if {\n\tsome n in input.names\n}\n\n"
        'deny contains "empty" if count(input.names) == 0\n'
    )
    return load_bundle([str(tmp_path)])


INPUT = {
    "items": [{"name": "x", "bad": True}, {"name": "y", "bad": False}, {"name": "z"}],
    "names": ["n1", "n2"],
}


def _fake_worker(result: dict[str, object]) -> list[str]:
    """A worker command that reads the request and answers ``result``."""
    answer = json.dumps({"ok": True, "result": result})
    return [sys.executable, "-c", f"import sys; sys.stdin.buffer.read(); print({answer!r})"]


@pytest.fixture(autouse=True, params=["forked", "spawned"])
def forked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    # The machine running the tests may have one CPU; the behaviour under test needs two.
    monkeypatch.setattr(guard, "evaluation_workers", lambda engine: 2 if engine == "regorus" else 1)
    monkeypatch.setattr(base, "evaluation_workers", guard.evaluation_workers)
    fork = request.param == "forked"
    if fork and not worker.forking_supported():
        pytest.skip("os.fork is not available here")
    monkeypatch.setattr(guard, "forked_evaluation", lambda engine: fork and engine == "regorus")
    monkeypatch.setattr(base, "forked_evaluation", guard.forked_evaluation)
    guard.discard_spare()
    return fork


def test_two_workers_give_the_single_worker_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _bundle(tmp_path)
    shared = get_engine("regorus").evaluate(bundle, json.dumps(INPUT), QUERIES)
    monkeypatch.setattr(base, "evaluation_workers", lambda engine: 1)
    single = get_engine("regorus").evaluate(bundle, json.dumps(INPUT), QUERIES)
    assert (
        shared.values
        == single.values
        == {
            "data.a.deny": ["x"],
            "data.b.deny": ["too many"],
            "data.c.warn": ["n1", "n2"],
            "data.c.deny": [],
        }
    )


def test_a_large_input_goes_through_a_private_file_that_is_removed(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    names = [f"name-{i:07d}" for i in range(80_000)]  # > 1 MB of JSON
    document = json.dumps({**INPUT, "names": names})
    assert len(document) >= guard.INPUT_FILE_MIN_CHARS
    before = set(Path(tempfile.gettempdir()).glob("gatekeeper-input-*"))
    result = get_engine("regorus").evaluate(bundle, document, QUERIES)
    assert len(result.values["data.c.warn"]) == 80_000
    assert set(Path(tempfile.gettempdir()).glob("gatekeeper-input-*")) == before


def test_a_crashing_worker_fails_the_evaluation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        guard, "WORKER_COMMAND", [sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"]
    )
    with pytest.raises(EngineError, match="killed by signal SIGKILL"):
        get_engine("regorus").evaluate(_bundle(tmp_path), json.dumps(INPUT), QUERIES)


def test_workers_that_skip_packages_fail_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(guard, "WORKER_COMMAND", _fake_worker({"values": {}, "groups": []}))
    with pytest.raises(EngineError, match="left queries unevaluated"):
        get_engine("regorus").evaluate(_bundle(tmp_path), json.dumps(INPUT), QUERIES)


def test_a_package_answered_twice_fails_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    # Spawned: each of the two fake workers claims group 0; forked: the one worker does, twice.
    groups = [0, 0] if forked else [0]
    monkeypatch.setattr(guard, "WORKER_COMMAND", _fake_worker({"values": {}, "groups": groups}))
    with pytest.raises(EngineError, match="answered a query group twice"):
        get_engine("regorus").evaluate(_bundle(tmp_path), json.dumps(INPUT), QUERIES)


def test_values_for_queries_a_worker_did_not_claim_fail_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = {"values": {"data.a.deny": []}, "groups": []}
    monkeypatch.setattr(guard, "WORKER_COMMAND", _fake_worker(answer))
    with pytest.raises(EngineError, match="unusable result"):
        get_engine("regorus").evaluate(_bundle(tmp_path), json.dumps(INPUT), QUERIES)


def test_every_spare_is_started_and_used(tmp_path: Path, forked: bool) -> None:
    bundle = _bundle(tmp_path)
    guard.prestart_worker("regorus")
    spare = guard._spare
    # Forked: one process loads the input, the other worker is its fork.
    assert spare is not None and len(spare.children()) == (1 if forked else 2)
    result = get_engine("regorus").evaluate(bundle, json.dumps(INPUT), QUERIES)
    assert result.values["data.a.deny"] == ["x"]
    assert guard._spare is None
    assert all(child.poll() == 0 for child in spare.children())  # both answered and exited


def test_groups_keep_the_rules_of_a_package_together(tmp_path: Path) -> None:
    groups = base.query_groups(_bundle(tmp_path), QUERIES)
    assert sorted(map(sorted, groups)) == [
        ["data.a.deny"],
        ["data.b.deny"],
        ["data.c.deny", "data.c.warn"],
    ]


def test_a_large_input_the_engine_cannot_parse_is_an_engine_error(tmp_path: Path) -> None:
    # The worker hands a large input's file to regorus itself: what it cannot parse is still
    # one line naming the problem, never a result.
    document = json.dumps({**INPUT, "names": ["x" * 100] * 12_000})[:-1]  # truncated
    assert len(document) >= guard.INPUT_FILE_MIN_CHARS
    with pytest.raises(EngineError, match="regorus rejected the input document: EOF") as caught:
        get_engine("regorus").evaluate(_bundle(tmp_path), document, QUERIES)
    assert "\n" not in caught.value.one_line()
