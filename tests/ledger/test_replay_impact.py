"""`audit replay` reproduces the example history and reports a changed input; `policy impact`
lists exactly the releases a stricter threshold would fail."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from tests.ledger.ledger_helpers import POLICIES, STRICTER, Db, PgServer, cli, history_copy


@pytest.fixture(params=["sqlite", "postgresql"])
def history(request: pytest.FixtureRequest) -> tuple[str, list[str]]:
    if request.param == "sqlite":
        source, ids = request.getfixturevalue("sqlite_history")
        return str(source), ids
    url, ids = request.getfixturevalue("pg_history")
    return str(url), ids


def test_replay_reproduces_every_decision(history: tuple[str, list[str]], tmp_path: Path) -> None:
    ledger, ids = history
    for decision_id in ids:
        result = cli(
            "audit", "replay", decision_id, "--ledger", ledger, "--format", "json", cwd=tmp_path
        )
        assert result.code == 0, result.stdout + result.stderr
        report = result.json()
        assert report["identical"] is True
        assert report["recorded_outcome"] == report["replayed_outcome"]


def test_replay_reports_a_changed_stored_input(
    sqlite_history: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """Tamper with the stored input of the passing orders-api 2.1.0 decision: raise its medium
    vulnerability to critical. Replay names the altered blob and shows the new failure."""
    ledger = str(history_copy(sqlite_history[0], tmp_path))
    decision_id = sqlite_history[1][1]
    db = Db(ledger)
    body = json.loads(
        db.execute("SELECT body FROM gk_ledger_records WHERE decision_id = ?", (decision_id,))[0][0]
    )
    digest = body["input_digest"]
    stored = zlib.decompress(
        db.execute("SELECT content FROM gk_ledger_blobs WHERE digest = ?", (digest,))[0][0]
    )
    assert b'"severity":"medium"' in stored
    altered = stored.replace(b'"severity":"medium"', b'"severity":"critical"')
    db.execute(
        "UPDATE gk_ledger_blobs SET content = ? WHERE digest = ?", (zlib.compress(altered), digest)
    )
    db.close()

    result = cli("audit", "replay", decision_id, "--ledger", ledger, cwd=tmp_path)
    assert result.code == 1
    assert f"TAMPERED: stored input {digest} was altered" in result.stdout
    assert "outcome: recorded pass, replayed fail" in result.stdout
    assert "+ only in replay: [deny] GK-VULN-001" in result.stdout


def test_replay_of_unknown_decision_is_bad_input(
    sqlite_history: tuple[Path, list[str]], tmp_path: Path
) -> None:
    result = cli("audit", "replay", "no-such-id", "--ledger", str(sqlite_history[0]), cwd=tmp_path)
    assert result.code == 2
    assert "no decision 'no-such-id'" in result.stderr


def test_impact_lists_exactly_the_releases_a_stricter_threshold_fails(
    history: tuple[str, list[str]], tmp_path: Path
) -> None:
    ledger, ids = history
    result = cli(
        "policy",
        "impact",
        "--candidate",
        str(POLICIES),
        "-d",
        str(STRICTER),
        "--since",
        "30d",
        "--ledger",
        ledger,
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert result.code == 1, result.stderr  # some release would newly fail
    changes = result.json()["changes"]
    assert {(c["change"], c["release"]["service"], c["release"]["version"]) for c in changes} == {
        ("new failure", "orders-api", "2.1.0"),
        ("new failure", "search-ui", "3.2.1"),
    }
    assert {c["decision_id"] for c in changes} == {ids[1], ids[3]}


def test_impact_of_the_recorded_policy_changes_nothing(
    sqlite_history: tuple[Path, list[str]], tmp_path: Path
) -> None:
    result = cli(
        "policy",
        "impact",
        "--candidate",
        str(POLICIES),
        "--ledger",
        str(sqlite_history[0]),
        cwd=tmp_path,
    )
    assert result.code == 0, result.stdout + result.stderr
    assert "5 recorded releases replayed: 0 would newly fail, 0 would be fixed" in result.stdout


def test_impact_lists_fixed_failures(
    sqlite_history: tuple[Path, list[str]], tmp_path: Path
) -> None:
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("settings:\n  vulnerabilities:\n    fail_severity: critical\n")
    result = cli(
        "policy",
        "impact",
        "--candidate",
        str(POLICIES),
        "-d",
        str(lenient),
        "--ledger",
        str(sqlite_history[0]),
        cwd=tmp_path,
    )
    assert result.code == 0
    assert "FIXED FAILURE: billing-worker 0.9.0 staging — fail -> pass" in result.stdout


def test_pg_server_fixture_is_real(pg_server: PgServer) -> None:
    db = Db(pg_server.admin_url)
    assert "PostgreSQL" in db.execute("SELECT version()")[0][0]
    db.close()
