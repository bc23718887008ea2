"""16 gate runs started at once against one ledger: 16 records, chain intact, none lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ledger.ledger_helpers import RELEASES, Db, PgServer, cli, gate_args

pytestmark = pytest.mark.e2e  # seconds per test: real processes or servers (README, Development)

RUNS = 16


def _run_concurrently(ledger: str, cwd: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gatekeeper", *gate_args(RELEASES[i % len(RELEASES)], ledger)],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(RUNS)
    ]
    ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode in (0, 1), err
        ids.append(json.loads(out)["decision_id"])
    return ids


def _check(ledger: str, ids: list[str], cwd: Path) -> None:
    result = cli("audit", "verify", "--ledger", ledger, "--format", "json", cwd=cwd)
    assert result.code == 0, result.stdout + result.stderr
    assert result.json()["records"] == RUNS
    db = Db(ledger)
    stored = [row[0] for row in db.execute("SELECT decision_id FROM gk_ledger_records")]
    seqs = sorted(row[0] for row in db.execute("SELECT seq FROM gk_ledger_records"))
    db.close()
    assert sorted(stored) == sorted(ids)
    assert seqs == list(range(1, RUNS + 1))


def test_sixteen_concurrent_runs_on_sqlite(tmp_path: Path) -> None:
    ledger = str(tmp_path / ".gatekeeper" / "ledger.db")
    ids = _run_concurrently(ledger, tmp_path)
    _check(ledger, ids, tmp_path)


def test_sixteen_concurrent_runs_on_postgres(pg_server: PgServer, tmp_path: Path) -> None:
    # An empty database: the runs also race to create the schema.
    url = pg_server.new_database()
    ids = _run_concurrently(url, tmp_path)
    _check(url, ids, tmp_path)
