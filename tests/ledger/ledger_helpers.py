"""Helpers for the ledger tests: the example history, direct database access, PostgreSQL."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLES, REPO, CliResult, run_cli

HISTORY = EXAMPLES / "history"
# A frozen copy of the built-in vulnerability and licence policies: the ledger tests judge
# the history with these, so they do not move when the built-in library changes.
POLICIES = Path(__file__).resolve().parent / "fixtures" / "policies"
STRICTER = HISTORY / "stricter.yaml"
RELEASES = (
    "orders-api-2.0.0",
    "orders-api-2.1.0",
    "billing-worker-0.9.0",
    "search-ui-3.2.1",
    "search-ui-3.2.2",
)


def gate_args(release: str, ledger: str, *extra: str) -> list[str]:
    folder = HISTORY / release
    return [
        "gate",
        "run",
        "--ledger",
        ledger,
        "-p",
        str(POLICIES),
        "--release",
        str(folder / "release.yaml"),
        "--format",
        "json",
        *extra,
        str(folder / "sbom.cdx.json"),
        str(folder / "grype.json"),
    ]


def record_history(ledger: str, cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """Run the gate on every example release into ``ledger``; the decision ids in order."""
    ids = []
    for release in RELEASES:
        result = run_cli(*gate_args(release, ledger), cwd=cwd, env=env)
        assert result.code in (0, 1), result.stderr
        ids.append(result.json()["decision_id"])
    return ids


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> CliResult:
    return run_cli(*args, cwd=cwd, env=env)


# ---------------------------------------------------------------------------------------------
# Direct database access, as an attacker with write access to the database would have
# ---------------------------------------------------------------------------------------------


class Db:
    """The same few statements on SQLite or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = url.startswith("postgresql://")
        if self.pg:
            import psycopg

            self.conn: Any = psycopg.connect(url, autocommit=True)
        else:
            self.conn = sqlite3.connect(url, isolation_level=None)

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        if self.pg:
            statement = statement.replace("?", "%s")
        cursor = self.conn.execute(statement, params)
        try:
            return list(cursor.fetchall())
        except Exception:  # statements without rows
            return []

    def close(self) -> None:
        self.conn.close()


# ---------------------------------------------------------------------------------------------
# A real PostgreSQL server for the tests, on a free port, in a temporary folder
# ---------------------------------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if (bindir / "pg_ctl").exists() and (bindir / "initdb").exists():
            return bindir
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for bindir in candidates:
        if (bindir / "pg_ctl").exists():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int
    as_user: list[str]
    counter: int = 0

    @property
    def admin_url(self) -> str:
        return f"postgresql://gk@127.0.0.1:{self.port}/postgres"

    def new_database(self) -> str:
        import psycopg

        self.counter += 1
        name = f"ledger_{self.counter}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://gk@127.0.0.1:{self.port}/{name}"

    def copy_database(self, url: str) -> str:
        """A fresh copy of the database at ``url`` (to tamper with)."""
        import psycopg

        self.counter += 1
        name = f"ledger_{self.counter}"
        source = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {source}")
        return f"postgresql://gk@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(
            [
                *self.as_user,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PgServer | None:
    """Start a throwaway server (initdb + pg_ctl); None when PostgreSQL is not installed."""
    bindir = _pg_bindir()
    if bindir is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="gk-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root: run the server as the postgres user.
        shutil.chown(root, user="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = root / "data"
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "gk", "--no-sync"],
        capture_output=True,
        check=True,
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
    )
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(root / "log"),
            "start",
        ],
        capture_output=True,
        check=True,
    )
    return PgServer(bindir=bindir, root=root, port=port, as_user=as_user)


def history_copy(source: Path, target_dir: Path) -> Path:
    target = target_dir / "ledger.db"
    shutil.copyfile(source, target)
    return target


def repo_root() -> Path:
    return REPO


def iter_lines(text: str) -> Iterator[str]:
    return iter(text.splitlines())
