from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.ledger.ledger_helpers import PgServer

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
# ../shared beside the repository; GATEKEEPER_SHARED_DIR overrides it (a clone elsewhere).
SHARED = Path(os.environ.get("GATEKEEPER_SHARED_DIR", REPO.parent / "shared"))
CORPUS = SHARED / "corpus"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
    """Run the real `gatekeeper` process, as CI would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "gatekeeper", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=300,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


# Tests against a real PostgreSQL server take seconds each: end-to-end, whichever module they
# are in (the fixture, or a store parametrized as "postgresql").
_E2E_FIXTURES = frozenset({"pg_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & _E2E_FIXTURES or "[postgresql" in item.nodeid:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def cli() -> Any:
    return run_cli


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A real PostgreSQL server (the shared ledger's and the service replicas' tests). Skips
    when PostgreSQL is not installed — except in CI (CI=true), where the tests must run."""
    from tests.ledger.ledger_helpers import start_postgres

    server = start_postgres()
    if server is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PostgreSQL is not installed, but CI must run the PostgreSQL ledger tests")
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    try:
        yield server
    finally:
        server.stop()
