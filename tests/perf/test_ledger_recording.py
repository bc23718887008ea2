"""Recording a large decision pauses the cyclic collector, and only for the recording."""

from __future__ import annotations

import gc
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
