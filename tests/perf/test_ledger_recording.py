"""Recording a large decision pauses the cyclic collector, and only for the recording."""

from __future__ import annotations

import gc
import hashlib
import os
from pathlib import Path

import pytest

from gatekeeper.audit import recorder
from gatekeeper.config import load_config
from gatekeeper.gate.run import GateRequest, run_gate
from gatekeeper.ledger.registry import open_store
from tests.conftest import EXAMPLES


def test_recording_pauses_gc_and_restores_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evidence = tuple(str(p) for p in sorted((EXAMPLES / "evidence").glob("*.json")))
    result = run_gate(GateRequest(evidence=evidence, cwd=tmp_path))
    seen: list[bool] = []
    real = recorder.record_gate_result

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(recorder, "record_gate_result", spy)
    config = load_config(None, cwd=tmp_path, env={})
    url = str(tmp_path / "ledger.db")
    assert gc.isenabled()
    record = recorder.record_gate_run(
        result, ledger=url, config=config, env=dict(os.environ), cwd=tmp_path
    )
    assert seen == [False]
    assert gc.isenabled()
    store = open_store(url, base=tmp_path, create=False)
    try:
        stored = store.find(result.decision.decision_id)
        assert stored is not None and stored.hash == record.hash
        assert store.blob(result.decision.input_digest) == result.input_json.encode("utf-8")
    finally:
        store.close()


def test_gate_run_keeps_gc_paused_from_ingestion_to_output_and_restores_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Re-enabling the collector between the evaluation and the output made its next pass scan
    # the whole run's heap; the command keeps it paused throughout, then gives it back.
    from click.testing import CliRunner

    from gatekeeper.cli import gate as gate_cli
    from gatekeeper.cli import main

    seen: list[tuple[str, bool]] = []
    for name in ("record_gate_decision", "write_reports"):
        real = getattr(gate_cli, name)

        def spy(*args: object, _real: object = real, _name: str = name, **kwargs: object) -> object:
            seen.append((_name, gc.isenabled()))
            return _real(*args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(gate_cli, name, spy)
    evidence = [str(p) for p in sorted((EXAMPLES / "evidence").glob("*.json"))]
    monkeypatch.chdir(tmp_path)
    assert gc.isenabled()
    result = CliRunner().invoke(main, ["gate", "run", "--no-ledger", *evidence])
    assert result.exit_code in (0, 1), result.output
    assert seen == [("record_gate_decision", False), ("write_reports", False)]
    assert gc.isenabled()


def _record(result: object, tmp_path: Path) -> tuple[str, bytes | None]:
    config = load_config(None, cwd=tmp_path, env={})
    url = str(tmp_path / "ledger.db")
    recorder.record_gate_run(result, ledger=url, config=config, env={}, cwd=tmp_path)  # type: ignore[arg-type]
    store = open_store(url, base=tmp_path, create=False)
    try:
        return url, store.blob(result.decision.input_digest)  # type: ignore[attr-defined]
    finally:
        store.close()


def test_input_blob_compressed_during_evaluation_is_the_one_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gate run compresses its input on a thread while the engine evaluates; the ledger stores
    # that instead of compressing again, and the blob and digest are those of the input.
    from gatekeeper.ledger import store as ledger_store

    evidence = tuple(str(p) for p in sorted((EXAMPLES / "evidence").glob("*.json")))
    request = GateRequest(
        evidence=evidence, cwd=tmp_path, prepare_input=ledger_store.compress_ahead
    )
    result = run_gate(request)
    data = result.input_json.encode("utf-8")
    assert result.decision.input_digest == "sha256:" + hashlib.sha256(data).hexdigest()
    compressed: list[bytes] = []
    real = ledger_store.compress
    monkeypatch.setattr(ledger_store, "compress", lambda c: compressed.append(c) or real(c))
    _, blob = _record(result, tmp_path)
    assert blob == data
    assert data not in compressed  # taken from the thread's work, not compressed again


def test_a_failed_input_thread_still_gives_the_input_digest(tmp_path: Path) -> None:
    def broken(data: bytes) -> str:
        raise MemoryError

    evidence = tuple(str(p) for p in sorted((EXAMPLES / "evidence").glob("*.json")))
    result = run_gate(GateRequest(evidence=evidence, cwd=tmp_path, prepare_input=broken))
    data = result.input_json.encode("utf-8")
    assert result.decision.input_digest == "sha256:" + hashlib.sha256(data).hexdigest()
    _, blob = _record(result, tmp_path)
    assert blob == data
