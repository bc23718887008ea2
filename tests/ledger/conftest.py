from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ledger.ledger_helpers import PgServer, record_history, start_postgres


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server. Skips when PostgreSQL is not installed — except in CI
    (CI=true), where the tests must run against it."""
    server = start_postgres()
    if server is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PostgreSQL is not installed, but CI must run the PostgreSQL ledger tests")
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    try:
        yield server
    finally:
        server.stop()


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
