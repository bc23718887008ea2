"""DORA's four keys against a small history computed by hand (tests/ledger/dora_history.py).

shop, production, 2026-11-01 .. 2026-11-10 (10 days):
  dep1 v1 promoted; commit 08:00 -> promoted 12:00 = 4 h
  dep2 v2 rolled back in its canary after 30 min                  -> failed, restored in 1800 s
  dep3 v2 promoted; commit 11-02 10:00 -> 11-03 11:00 = 25 h; incident 14:00-16:00 -> 7200 s
  dep4 v3 promoted; commit 11-04 00:00 -> 11-05 06:00 = 30 h; undone by `deploy rollback`
        (no incident: when it began failing is unknown -> missing, not a number)
  undo  the rollback itself: remediation, not a change
  dep5 v4 promoted; its decision has no commit_time -> missing lead time
  dep7 staging (other environment), dep8 still in progress (not finished)
cart: dep6 promoted; commit 11-08 00:30 -> 11-09 00:30 = 24 h
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatekeeper.ledger.dora import dora_report
from gatekeeper.ledger.registry import open_store
from tests.conftest import run_cli
from tests.ledger.dora_history import small_history

START, END = "2026-11-01T00:00:00.000000Z", "2026-11-11T00:00:00.000000Z"


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    store = open_store(str(path), base=tmp_path, create=True)
    try:
        small_history(store)
    finally:
        store.close()
    return path


def _report(path: Path, **kwargs: str) -> dict:  # type: ignore[type-arg]
    store = open_store(str(path), base=path.parent)
    try:
        return dora_report(store, start=START, end=END, **kwargs)
    finally:
        store.close()


def test_the_four_keys_of_one_service_equal_the_hand_computed_ones(ledger: Path) -> None:
    shop = _report(ledger)["services"]["shop"]
    frequency = shop["deployment_frequency"]
    assert (frequency["deployments"], frequency["value"], frequency["band"]) == (4, 0.4, "high")
    assert frequency["deployment_ids"] == ["dep1", "dep3", "dep4", "dep5"]
    lead = shop["lead_time_for_changes"]
    assert (lead["samples"], lead["value"], lead["band"]) == (3, 25 * 3600, "high")
    assert any("dep5" in line and "commit_time" in line for line in lead["missing"])
    rate = shop["change_failure_rate"]
    assert (rate["failed"], rate["deployments"], rate["value"], rate["band"]) == (3, 5, 0.6, "low")
    assert rate["failed_deployment_ids"] == ["dep2", "dep3", "dep4"]
    assert any("dep8" in line for line in rate["missing"])
    restore = shop["time_to_restore"]
    assert (restore["samples"], restore["value"], restore["band"]) == (2, 4500, "high")
    assert any("dep4" in line and "undo" in line for line in restore["missing"])


def test_overall_keys_pool_every_service(ledger: Path) -> None:
    overall = _report(ledger)["overall"]
    assert overall["deployment_frequency"]["value"] == 0.5
    assert overall["lead_time_for_changes"]["value"] == 24.5 * 3600
    assert overall["change_failure_rate"]["value"] == 0.5
    assert overall["time_to_restore"]["value"] == 4500


def test_each_number_names_the_records_it_came_from(ledger: Path) -> None:
    store = open_store(str(ledger), base=ledger.parent)
    try:
        kinds = {r.seq: (r.document().get("kind"), r.decision_id) for r in store.records()}
        report = dora_report(store, start=START, end=END, service="cart")
    finally:
        store.close()
    lead = report["services"]["cart"]["lead_time_for_changes"]
    assert {kinds[seq][0] for seq in lead["records"]} == {"gate.decision", "deploy.promoted"}
    assert "C1" in {kinds[seq][1] for seq in lead["records"]}
    assert list(report["services"]) == ["cart"]


def test_a_key_without_data_is_null_with_the_reason_never_a_number(ledger: Path) -> None:
    staging = _report(ledger, environment="staging")["services"]["shop"]
    assert staging["time_to_restore"]["value"] is None
    assert staging["time_to_restore"]["band"] is None
    assert staging["time_to_restore"]["missing"] == ["no failed deployment of shop in the period"]
    empty = _report(ledger, environment="qa")["overall"]
    for key in empty.values():
        assert key["value"] is None and key["missing"]


def test_audit_dora_prints_json_text_and_csv_with_the_same_numbers(ledger: Path) -> None:
    args = ["audit", "dora", "--ledger", str(ledger), "--from", "2026-11-01", "--to", "2026-11-10"]
    result = run_cli(*args, "--format", "json")
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["services"]["shop"]["change_failure_rate"]["value"] == 0.6
    text = run_cli(*args, "--service", "shop")
    assert text.code == 0, text.stderr
    assert "change failure rate" in text.stdout and "60.0 %" in text.stdout and "low" in text.stdout
    assert "25.0 h" in text.stdout
    csv = run_cli(*args, "--format", "csv")
    assert csv.code == 0, csv.stderr
    assert "shop,change_failure_rate,0.6,fraction of deployments,low" in csv.stdout


def test_audit_dora_refuses_a_bad_date_in_one_line(ledger: Path) -> None:
    result = run_cli("audit", "dora", "--ledger", str(ledger), "--from", "last week")
    assert result.code == 2
    assert "--from" in result.stderr and "Traceback" not in result.stderr
