"""API tokens: per project, scoped, hashed at rest, revocable — and the dashboard's login
sessions, kept beside them so that every replica sharing the token table (and a restarted
service) knows a session, and a revoked token ends its sessions at once.

A token is ``gkt_<id>_<secret>``; the store keeps the id, the project, the scope and
SHA-256 of the secret, never the secret itself, so a copy of the token database does not let
anyone call the API. Scopes:

- ``submit``: submit evidence for its project (``POST /v1/gate``), record its incidents
  (``POST /v1/incidents``) and read its decisions;
- ``read``: read its project's decisions;
- ``admin``: read every project's decisions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from gatekeeper.errors import ConfigError
from gatekeeper.server.errors import ServerError

TOKEN_PREFIX = "gkt_"  # noqa: S105 - the public prefix, not a secret
_TOKEN = re.compile(r"^gkt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_SESSION = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    scope TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked_at TEXT
)
"""


# A session id is as secret as a token: only its SHA-256 is stored. ``tokens_sessions``: the
# PostgreSQL backend names every table of this store with a ``gk_`` prefix.
_SESSIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens_sessions (
    id_sha256 TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
)
"""


class Scope(StrEnum):
    SUBMIT = "submit"
    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True)
class TokenInfo:
    id: str
    project: str
    scope: Scope
    description: str
    created_at: str
    revoked_at: str | None

    def may_submit(self, project: str) -> bool:
        return self.scope is Scope.SUBMIT and project == self.project

    def may_read(self, project: str | None) -> bool:
        return self.scope is Scope.ADMIN or (project is not None and project == self.project)


def _secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _SqliteTokens:
    """The token table in a SQLite file (the state folder's ``tokens.db``: one host)."""

    def __init__(self, path: Path) -> None:
        self.location = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute(_SCHEMA)
            self._db.execute(_SESSIONS_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ServerError(f"cannot open the token database: {exc}", path=str(path)) from None

    def execute(self, statement: str, params: tuple[object, ...]) -> tuple[list[Any], int]:
        try:
            cursor = self._db.execute(statement, params)
            return cursor.fetchall(), cursor.rowcount
        except sqlite3.Error as exc:
            raise ServerError(f"token database error: {exc}", path=self.location) from None

    def close(self) -> None:
        self._db.close()


class _PostgresTokens:
    """The token table in PostgreSQL (replicas on several hosts share it; it may be the
    ledger's database). A dropped connection is opened again once per statement."""

    def __init__(self, url: str) -> None:
        import psycopg

        from gatekeeper.ledger.postgres_store import CONNECT_TIMEOUT_S, mask_password

        self._psycopg = psycopg
        self._url = url
        self._timeout = CONNECT_TIMEOUT_S
        self.location = mask_password(url)
        self._conn: Any = None
        for schema in (_SCHEMA, _SESSIONS_SCHEMA):
            self.execute(schema.replace("TABLE IF NOT EXISTS ", "TABLE IF NOT EXISTS gk_"), ())

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self._url, connect_timeout=self._timeout, autocommit=True)
        except self._psycopg.Error as exc:
            line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ServerError(
                f"cannot open the token database: {line}", path=self.location
            ) from None

    def execute(self, statement: str, params: tuple[object, ...]) -> tuple[list[Any], int]:
        statement = statement.replace(" tokens", " gk_tokens").replace("?", "%s")
        for attempt in (1, 2):
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            try:
                with self._conn.cursor() as cursor:
                    cursor.execute(statement, params)
                    rows = cursor.fetchall() if cursor.description is not None else []
                    return rows, cursor.rowcount
            except self._psycopg.OperationalError as exc:
                self._conn = None
                if attempt == 2:
                    raise ServerError(f"token database error: {exc}", path=self.location) from None
            except self._psycopg.Error as exc:
                raise ServerError(f"token database error: {exc}", path=self.location) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def is_postgres_url(location: str | Path) -> bool:
    return str(location).startswith(("postgresql://", "postgres://"))


class TokenStore:
    """The token table: a SQLite file (default, ``STATE_DIR/tokens.db``) or, for replicas on
    several hosts, a ``postgresql://`` database."""

    def __init__(self, location: str | Path) -> None:
        self._backend: _SqliteTokens | _PostgresTokens = (
            _PostgresTokens(str(location))
            if is_postgres_url(location)
            else _SqliteTokens(Path(location))
        )
        self.location = self._backend.location
        self._lock = threading.Lock()  # one connection, used from the request threads

    def create(self, project: str, scope: Scope, description: str = "") -> tuple[str, TokenInfo]:
        """A new token: (the token text, shown once; what is stored)."""
        if not PROJECT_NAME.match(project):
            raise ConfigError(
                f"project name {project!r} must be 1-128 letters, digits or ._/- "
                "starting with a letter or digit"
            )
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        info = TokenInfo(token_id, project, scope, description, _now(), None)
        self._execute(
            "INSERT INTO tokens (id, project, scope, secret_sha256, description, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (token_id, project, scope.value, _secret_digest(secret), description, info.created_at),
        )
        return f"{TOKEN_PREFIX}{token_id}_{secret}", info

    def revoke(self, token_id: str) -> bool:
        """Revoke by id (the ``gkt_<id>_`` part, or the whole token); False if unknown."""
        match = _TOKEN.match(token_id)
        wanted = match.group(1) if match else token_id
        _, changed = self._execute(
            "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (_now(), wanted),
        )
        return changed == 1

    def all(self) -> list[TokenInfo]:
        rows, _ = self._execute(
            "SELECT id, project, scope, description, created_at, revoked_at FROM tokens "
            "ORDER BY created_at, id",
            (),
        )
        return [TokenInfo(r[0], r[1], Scope(r[2]), r[3], r[4], r[5]) for r in rows]

    def authenticate(self, token: str) -> TokenInfo | None:
        """The token's record when it is well-formed, known, not revoked and its secret
        matches; None otherwise (callers answer 401 without saying which)."""
        match = _TOKEN.match(token)
        if not match:
            return None
        rows, _ = self._execute(
            "SELECT id, project, scope, description, created_at, revoked_at, secret_sha256 "
            "FROM tokens WHERE id = ?",
            (match.group(1),),
        )
        row = rows[0] if rows else None
        if row is None or row[5] is not None:
            return None
        if not hmac.compare_digest(row[6], _secret_digest(match.group(2))):
            return None
        return TokenInfo(row[0], row[1], Scope(row[2]), row[3], row[4], row[5])

    # -- dashboard login sessions -----------------------------------------------------------

    def create_session(self, info: TokenInfo, seconds: float) -> str:
        """A new session for an authenticated token: the id for the cookie (shown once)."""
        session = secrets.token_urlsafe(32)
        now = time.time()
        self._execute("DELETE FROM tokens_sessions WHERE expires_at <= ?", (now,))
        self._execute(
            "INSERT INTO tokens_sessions (id_sha256, token_id, expires_at) VALUES (?, ?, ?)",
            (_secret_digest(session), info.id, now + seconds),
        )
        return session

    def session(self, session: str) -> TokenInfo | None:
        """The token a live session was opened with, while that token is not revoked."""
        if not _SESSION.match(session):
            return None
        rows, _ = self._execute(
            "SELECT t.id, t.project, t.scope, t.description, t.created_at, t.revoked_at "
            "FROM tokens_sessions s JOIN tokens t ON t.id = s.token_id "
            "WHERE s.id_sha256 = ? AND s.expires_at > ?",
            (_secret_digest(session), time.time()),
        )
        row = rows[0] if rows else None
        if row is None or row[5] is not None:
            return None
        return TokenInfo(row[0], row[1], Scope(row[2]), row[3], row[4], row[5])

    def drop_session(self, session: str) -> None:
        if _SESSION.match(session):
            self._execute(
                "DELETE FROM tokens_sessions WHERE id_sha256 = ?", (_secret_digest(session),)
            )

    def reachable(self) -> bool:
        try:
            self._execute("SELECT 1 FROM tokens LIMIT 1", ())
        except ServerError:
            return False
        return True

    def _execute(self, statement: str, params: tuple[object, ...]) -> tuple[list[Any], int]:
        """(rows, rows changed) of one statement."""
        with self._lock:
            return self._backend.execute(statement, params)

    def close(self) -> None:
        self._backend.close()
