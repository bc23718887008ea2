"""The compliance report streams the ledger: one pass, plain rows, no decision models per
decision, and the same content whether or not the chain is intact."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from gatekeeper.audit.compliance import compliance_report
from gatekeeper.ledger.registry import open_store
from gatekeeper.model import Decision
from tests.ledger.ledger_helpers import history_copy


def _report(ledger: Path) -> dict:  # type: ignore[type-arg]
    from gatekeeper.ledger.report_render import get_renderer

    store = open_store(f"sqlite:///{ledger}", base=ledger.parent, create=False)
    try:
        return json.loads(
            get_renderer("json").render(compliance_report(store, start=None, end=None))
        )
    finally:
        store.close()


def test_no_decision_model_is_built_per_decision(
    sqlite_history: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, ids = sqlite_history
    built: list[object] = []
    original = Decision.model_validate

    def counting(*args: object, **kwargs: object) -> Decision:
        built.append(args)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Decision, "model_validate", counting)
    doc = _report(ledger)
    assert [r["decision_id"] for r in doc["releases"]] == ids
    assert built == []


def test_a_tampered_ledger_is_reported_broken_and_still_lists_the_period(
    sqlite_history: tuple[Path, list[str]], tmp_path: Path
) -> None:
    ledger = history_copy(sqlite_history[0], tmp_path)
    intact = _report(ledger)
    db = sqlite3.connect(ledger)
    body = db.execute("SELECT body FROM gk_ledger_records WHERE seq = 2").fetchone()[0]
    db.execute(
        "UPDATE gk_ledger_records SET body = ? WHERE seq = 2",
        (body.replace('"gatekeeper_version":"', '"gatekeeper_version":"9', 1),),
    )
    db.commit()
    db.close()
    broken = _report(ledger)
    assert intact["chain"]["intact"] is True
    assert broken["chain"]["intact"] is False
    assert "record #2" in broken["chain"]["problem"]
    assert len(broken["releases"]) == len(intact["releases"]) == 5


@pytest.mark.parametrize("period", [(None, None), ("2001-01-01", "2001-02-01")])
def test_the_streamed_json_report_is_the_json_document(
    sqlite_history: tuple[Path, list[str]], period: tuple[str | None, str | None]
) -> None:
    from gatekeeper.ledger.report_render import JsonRenderer, report_document

    ledger = sqlite_history[0]
    store = open_store(f"sqlite:///{ledger}", base=ledger.parent, create=False)
    try:
        report = compliance_report(store, start=period[0], end=period[1])
    finally:
        store.close()
    expected = json.dumps(report_document(report), indent=2, ensure_ascii=False)
    assert "".join(JsonRenderer().chunks(report)) == expected


@pytest.mark.parametrize("fmt", ["json", "html"])
def test_streamed_reports_read_the_same_on_stdout_and_in_a_file(
    sqlite_history: tuple[Path, list[str]], tmp_path: Path, fmt: str
) -> None:
    from tests.ledger.ledger_helpers import cli

    ledger = str(sqlite_history[0])
    shown = cli(
        "audit", "report", "--ledger", ledger, "--format", fmt, "--to", "2100-01-01", cwd=tmp_path
    )
    written = cli(
        "audit",
        "report",
        "--ledger",
        ledger,
        "--format",
        fmt,
        "--to",
        "2100-01-01",
        "-o",
        "r.out",
        cwd=tmp_path,
    )
    assert shown.code == written.code == 0, shown.stderr + written.stderr
    text = (tmp_path / "r.out").read_text(encoding="utf-8")
    strip = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z")  # generated_at differs between the two runs
    assert strip.sub("", text) == strip.sub("", shown.stdout)
    assert text.endswith("\n") and not text.endswith("\n\n")
    if fmt == "html":
        assert "<table" in text and "&lt;table" not in text
