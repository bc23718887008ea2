"""`gatekeeper deploy incident open|resolve` on a local ledger: linked to the deployment that
caused it, one-line errors (exit 2) for what cannot be recorded, and DORA sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatekeeper.ledger.registry import open_store
from tests.conftest import run_cli
from tests.ledger.dora_history import small_history


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    store = open_store(str(path), base=tmp_path, create=True)
    try:
        small_history(store)
    finally:
        store.close()
    return path


def _dora(ledger: Path) -> dict:  # type: ignore[type-arg]
    result = run_cli(
        "audit",
        "dora",
        "--ledger",
        str(ledger),
        "--format",
        "json",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-10",
        "--service",
        "shop",
    )
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)["services"]["shop"]  # type: ignore[no-any-return]


def test_open_then_resolve_counts_as_a_failure_and_a_restore(ledger: Path, tmp_path: Path) -> None:
    before = _dora(ledger)["change_failure_rate"]["failed"]
    opened = run_cli(
        "deploy",
        "incident",
        "open",
        "--service",
        "shop",
        "--summary",
        "500s on /pay",
        "--at",
        "2026-11-08T03:00:00Z",
        "--ledger",
        str(ledger),
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert opened.code == 0, opened.stderr
    incident = json.loads(opened.stdout)
    assert incident["deployment_id"] == "dep5"  # the newest promoted deployment to production
    resolved = run_cli(
        "deploy",
        "incident",
        "resolve",
        incident["incident_id"],
        "--at",
        "2026-11-08T03:20:00+00:00",
        "--ledger",
        str(ledger),
        cwd=tmp_path,
    )
    assert resolved.code == 0, resolved.stderr
    assert f"incident {incident['incident_id']} resolved at 2026-11-08T03:20:00" in resolved.stdout
    keys = _dora(ledger)
    assert keys["change_failure_rate"]["failed"] == before + 1
    assert keys["time_to_restore"]["samples"] == 3  # 1800, 7200 and the new 1200 s
    assert keys["time_to_restore"]["value"] == 1800
    store = open_store(str(ledger), base=tmp_path)
    try:
        kinds = [r.document()["kind"] for r in store.records(service="shop")]
    finally:
        store.close()
    assert kinds[-2:] == ["deploy.incident_opened", "deploy.incident_resolved"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["open", "--service", "shop", "--deployment", "nope"], "no deployment nope of shop"),
        (["open", "--service", "ghost"], "no promoted deployment of ghost to production"),
        (["open", "--service", "shop", "--at", "tomorrow"], "--at expects an RFC 3339 time"),
        (["open", "--service", "shop", "--at", "2026-11-08T03:00:00"], "has no UTC offset"),
        (["resolve", "inc-0000000000000000"], "no incident inc-0000000000000000"),
        (["resolve", "../etc"], "not an incident id"),
    ],
)
def test_what_cannot_be_recorded_is_one_line_exit_2(
    ledger: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli("deploy", "incident", *args, "--ledger", str(ledger), cwd=tmp_path)
    assert result.code == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
