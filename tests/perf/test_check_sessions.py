"""`check` evaluates a stream of documents in one guarded engine session (one per core for a
large stream) instead of one worker process per document.

What a user relies on: the same results, prints and counts as one call per document, and the
same fail-closed guard: a crash, a panic or a hang of the engine in any session is an engine
error (exit 3), never a partial or passing result.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.conftest import check as conftest_check
from gatekeeper.conftest.check import CheckRequest, run_check
from gatekeeper.errors import EngineError
from gatekeeper.policy.bundle import PolicyBundle, load_bundle
from gatekeeper.policy.engines import guard
from gatekeeper.policy.engines.interface import DocumentBatch, EvalResult
from gatekeeper.policy.engines.registry import get_engine
from tests.conftest import run_cli

ENGINES = pytest.mark.parametrize("engine_name", ["regorus", "opa", "regopy"])
QUERIES = ("data.main.deny", "data.main.warn", "data.main.exception")

POLICY = """package main

deny contains msg if {
	input.kind == "Deployment"
	not input.spec.replicas
	msg := sprintf("%s has no replicas in %s", [input.metadata.name, data.conftest.file.name])
}

warn contains msg if {
	input.kind == "Service"
	print("service", input.metadata.name)
	msg := sprintf("service %s (team %s)", [input.metadata.name, data.team])
}

exception contains rules if {
	input.metadata.name == "legacy"
	rules := ["replicas"]
}
"""


def _bundle(tmp_path: Path) -> PolicyBundle:
    policy = tmp_path / "policy"
    policy.mkdir(exist_ok=True)
    (policy / "main.rego").write_text(POLICY)
    (tmp_path / "data.json").write_text('{"team": "shop"}')
    return load_bundle([str(policy)], data_paths=[str(tmp_path / "data.json")])


def _documents(count: int) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for n in range(count):
        if n % 2:
            docs.append({"kind": "Service", "metadata": {"name": f"svc-{n}"}})
        else:
            spec = {"replicas": 2} if n % 4 == 0 else {}
            docs.append({"kind": "Deployment", "metadata": {"name": f"web-{n}"}, "spec": spec})
    return docs


def _batch(docs: list[dict[str, Any]]) -> DocumentBatch:
    overrides = tuple({"conftest": {"file": {"name": name}}} for name in ("a.yaml", "b.yaml"))
    return DocumentBatch(
        inputs=tuple(json.dumps(d, separators=(",", ":")) for d in docs),
        data_index=tuple(0 if i < len(docs) // 2 else 1 for i in range(len(docs))),
        overrides=overrides,
    )


def _one_by_one(engine_name: str, bundle: PolicyBundle, batch: DocumentBatch) -> list[EvalResult]:
    engine = get_engine(engine_name)
    results = []
    for text, index in zip(batch.inputs, batch.data_index, strict=True):
        data = {**bundle.data, **batch.overrides[index]}
        results.append(engine.evaluate(replace(bundle, data=data), text, QUERIES))
    return results


@ENGINES
@pytest.mark.parametrize("sessions", [1, 2])
def test_a_batch_gives_each_documents_own_result(
    engine_name: str, sessions: int, tmp_path: Path
) -> None:
    bundle = _bundle(tmp_path)
    batch = _batch(_documents(8))
    found = get_engine(engine_name).evaluate_documents(  # type: ignore[attr-defined]
        bundle, batch, QUERIES, sessions=sessions
    )
    expected = _one_by_one(engine_name, bundle, batch)
    assert [r.values for r in found] == [r.values for r in expected]
    # The file each document came from reaches the policy (data.conftest.file differs).
    assert found[2].values["data.main.deny"] == ["web-2 has no replicas in a.yaml"]
    assert found[6].values["data.main.deny"] == ["web-6 has no replicas in b.yaml"]
    assert found[1].values["data.main.warn"] == ["service svc-1 (team shop)"]
    if engine_name != "regopy":  # regopy has no print() capture
        assert [r.prints for r in found] == [r.prints for r in expected]
        assert any("svc-1" in p for p in found[1].prints)
        assert not found[0].prints


def test_a_killed_session_fails_the_whole_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        guard, "WORKER_COMMAND", [sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"]
    )
    guard.discard_spare()
    with pytest.raises(EngineError, match="killed by signal SIGKILL"):
        get_engine("regorus").evaluate_documents(  # type: ignore[attr-defined]
            _bundle(tmp_path), _batch(_documents(4)), QUERIES, sessions=2
        )


def test_a_session_answering_too_few_documents_is_an_engine_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = json.dumps({"ok": True, "result": {"results": [{"values": {}}]}})
    monkeypatch.setattr(
        guard,
        "WORKER_COMMAND",
        [sys.executable, "-c", f"import sys; sys.stdin.buffer.read(); print({answer!r})"],
    )
    guard.discard_spare()
    with pytest.raises(EngineError, match="unusable result"):
        get_engine("regorus").evaluate_documents(  # type: ignore[attr-defined]
            _bundle(tmp_path), _batch(_documents(4)), QUERIES
        )


def test_a_panic_on_one_document_is_an_engine_error(tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "p.rego").write_text(
        'package main\n\ndeny contains "n" if {\n\tinput.x == "boom"\n'
        '\tstrings.count(input.x, "") > 0\n}\n'
    )
    docs = [{"x": "fine"}] * 3 + [{"x": "boom"}] + [{"x": "fine"}] * 3
    batch = DocumentBatch(tuple(json.dumps(d) for d in docs), (0,) * len(docs))
    with pytest.raises(EngineError):
        get_engine("regorus").evaluate_documents(  # type: ignore[attr-defined]
            load_bundle([str(policy)]), batch, ("data.main.deny",)
        )


@pytest.mark.parametrize("engine_name", ["regorus", "opa"])
def test_a_hanging_session_times_out(engine_name: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "p.rego").write_text(
        "package main\n\ndeny contains n if {\n\tinput.slow\n"
        "\tn := count([x | some a in numbers.range(1, 100000); "
        "some b in numbers.range(1, 100000); x := a * b])\n}\n"
    )
    docs = [{"slow": False}] * 5 + [{"slow": True}]
    batch = DocumentBatch(tuple(json.dumps(d) for d in docs), (0,) * len(docs))
    with pytest.raises(EngineError, match=r"timed out after 1\.5s"):
        get_engine(engine_name).evaluate_documents(  # type: ignore[attr-defined]
            load_bundle([str(policy)]), batch, ("data.main.deny",), timeout=1.5
        )


class _OneByOne:
    """The engine without its batch call: ``check`` then makes one call per document."""

    def __init__(self, name: str) -> None:
        self._engine = get_engine(name)

    def __getattr__(self, attr: str) -> Any:
        if attr == "evaluate_documents":
            raise AttributeError(attr)
        return getattr(self._engine, attr)


@pytest.mark.parametrize("engine_name", ["regorus", "opa"])
def test_check_over_a_stream_in_two_sessions_counts_as_one_call_per_document(
    engine_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _bundle(tmp_path)
    first = tmp_path / "a.yaml"
    second = tmp_path / "b.yaml"
    first.write_text("\n---\n".join(json.dumps(d) for d in _documents(24)))
    second.write_text("\n---\n".join(json.dumps(d) for d in _documents(16)))
    request = CheckRequest(
        files=(str(first), str(second)),
        policies=(str(tmp_path / "policy"),),
        data=(str(tmp_path / "data.json"),),
        engine=engine_name,
    )
    monkeypatch.setattr(conftest_check.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(conftest_check, "MIN_DOCUMENTS_PER_SESSION", 10)
    assert conftest_check.check_sessions(40) == 2
    batched = run_check(request)
    one_by_one = run_check(request, engine_factory=_OneByOne)
    assert batched == one_by_one
    assert batched.failures == 6 + 4 and batched.warnings == 12 + 8
    assert [r.filename for r in batched.results] == [str(first), str(second)]
    assert any("svc-15" in line for line in batched.results[1].outputs)


def test_check_exits_3_when_the_engine_panics_on_one_document(tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "p.rego").write_text(
        'package main\n\ndeny contains "n" if {\n\tinput.x == "boom"\n'
        '\tstrings.count(input.x, "") > 0\n}\n'
    )
    manifest = tmp_path / "m.yaml"
    docs = [{"x": "fine"}] * 3 + [{"x": "boom"}] + [{"x": "fine"}]
    manifest.write_text("\n---\n".join(json.dumps(d) for d in docs))
    result = run_cli("check", "--engine", "regorus", "-p", str(policy), str(manifest))
    assert result.code == 3, (result.stdout, result.stderr)
    assert result.stderr.startswith("gatekeeper: error:") and "Traceback" not in result.stderr
    assert "passed" not in result.stdout
