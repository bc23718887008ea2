from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.ledger import chain
from tests.ledger.ledger_helpers import PgServer, record_history


@pytest.fixture(scope="session")
def sqlite_history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The example history recorded once into a SQLite ledger (copy it before changing it)."""
    folder = tmp_path_factory.mktemp("history")
    ledger = folder / "ledger.db"
    ids = record_history(str(ledger), cwd=folder)
    return ledger, ids


@pytest.fixture(scope="session")
def pg_history(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[str]]:
    url = pg_server.new_database()
    ids = record_history(url, cwd=tmp_path_factory.mktemp("pg-history"))
    return url, ids


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty ledger location in each store."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()


@pytest.fixture
def in_parallel(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Signatures checked by worker processes even for a short chain (batches of 3)."""
    monkeypatch.setattr(chain, "PARALLEL_SIGNATURES_FROM", 1)
    monkeypatch.setattr(chain, "_SIGNATURE_BATCH", 3)
    monkeypatch.setattr(chain.os, "cpu_count", lambda: 2)
    pools: list[object] = []
    real = chain._ParallelSignatures

    def recording(workers: int) -> object:
        pool = real(workers)
        pools.append(pool)
        return pool

    monkeypatch.setattr(chain, "_ParallelSignatures", recording)
    return pools
