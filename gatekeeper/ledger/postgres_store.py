"""PostgreSQL store: a team's shared ledger across CI runners (``GATEKEEPER_LEDGER_URL``).

Appends lock the single head row (``SELECT … FOR UPDATE``) inside one transaction, so writers on
different machines queue on it and each sees the hash its predecessor committed. Schema
creation takes a transaction-scoped advisory lock: ``CREATE TABLE IF NOT EXISTS`` alone races
when several runners start on an empty database at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from gatekeeper.ledger import sql
from gatekeeper.ledger.canonical import GENESIS_HASH
from gatekeeper.ledger.store import (
    Head,
    LedgerError,
    NewRecord,
    RecordBuilder,
    RecordDigest,
    StoredRecord,
    compress_blob,
    decompress,
)

_SCHEMA_LOCK_KEY = 0x67617465  # "gate": any constant shared by every gatekeeper
CONNECT_TIMEOUT_S = 10


def mask_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _pg(statement: str) -> str:
    return statement.replace("?", "%s")


class PostgresStore:
    scheme: ClassVar[str] = "postgresql"

    def __init__(self, url: str, *, create: bool) -> None:
        try:
            import psycopg
        except ImportError:  # pragma: no cover - psycopg is a declared dependency
            raise LedgerError("PostgreSQL ledger needs the psycopg package") from None
        self._psycopg = psycopg
        self._display = mask_password(url)
        try:
            self._conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=False)
        except psycopg.Error as exc:
            raise LedgerError(f"cannot connect: {_first_line(exc)}", path=self._display) from None
        if create:
            self._run(self._init_schema)
        elif self._run(self._exists) is False:
            self.close()
            raise LedgerError("no gatekeeper ledger in this database", path=self._display)

    @property
    def location(self) -> str:
        return self._display

    def _run(self, action: Any, *args: Any) -> Any:
        try:
            with self._conn.transaction():
                return action(*args)
        except self._psycopg.Error as exc:
            raise LedgerError(f"ledger error: {_first_line(exc)}", path=self._display) from None

    def _exists(self) -> bool:
        row = self._conn.execute("SELECT to_regclass('gk_ledger_head') IS NOT NULL").fetchone()
        return bool(row and row[0])

    def _init_schema(self) -> None:
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        for statement in sql.SCHEMA.format(int_type="BIGINT", blob_type="BYTEA").split(";"):
            if statement.strip():
                self._conn.execute(statement)
        self._conn.execute(_pg(sql.INIT_META), (sql.SCHEMA_VERSION,))
        self._conn.execute(_pg(sql.INIT_HEAD), (GENESIS_HASH,))

    def append(self, build: RecordBuilder, blobs: Mapping[str, bytes]) -> NewRecord:
        result: NewRecord = self._run(self._append_once, build, blobs)
        return result

    def _append_once(self, build: RecordBuilder, blobs: Mapping[str, bytes]) -> NewRecord:
        conn = self._conn
        for digest, content in blobs.items():
            if conn.execute(_pg(sql.HAS_BLOB), (digest,)).fetchone() is None:
                conn.execute(
                    _pg(sql.PUT_BLOB), (digest, len(content), compress_blob(digest, content))
                )
        head = sql.to_head(conn.execute(_pg(sql.GET_HEAD) + " FOR UPDATE").fetchone())
        if head is None:
            raise LedgerError("ledger has no head row: damaged", path=self._display)
        record = build(head)
        conn.execute(_pg(sql.INSERT_RECORD), sql.record_params(record))
        conn.execute(_pg(sql.UPDATE_HEAD), (record.seq, record.hash))
        return record

    def head(self) -> Head | None:
        head: Head | None = self._run(
            lambda: sql.to_head(self._conn.execute(sql.GET_HEAD).fetchone())
        )
        return head

    def records(
        self,
        *,
        start: str | None = None,
        end: str | None = None,
        service: str | None = None,
        after_seq: int = 0,
    ) -> Iterator[StoredRecord]:
        query, params = sql.page_query(start=start, end=end, service=service)

        def fetch(after: int, limit: int) -> list[Any]:
            rows: list[Any] = self._run(
                lambda: self._conn.execute(_pg(query), (after, *params, limit)).fetchall()
            )
            return rows

        return sql.paged(fetch, after_seq=after_seq)

    def record_digests(self) -> Iterator[RecordDigest]:
        # sha256 computed by the server: the bodies never cross the network.
        query = _pg(sql.digest_page_query("encode(sha256(convert_to(body, 'UTF8')), 'hex')"))

        def fetch(after: int, limit: int) -> list[Any]:
            rows: list[Any] = self._run(
                lambda: self._conn.execute(query, (after, limit)).fetchall()
            )
            return rows

        return sql.paged_digests(fetch, lambda value: f"sha256:{value}")

    def find(self, decision_id: str) -> StoredRecord | None:
        row = self._run(lambda: self._conn.execute(_pg(sql.FIND_RECORD), (decision_id,)).fetchone())
        return None if row is None else sql.to_record(row)

    def blob(self, digest: str) -> bytes | None:
        row = self._run(lambda: self._conn.execute(_pg(sql.GET_BLOB), (digest,)).fetchone())
        return None if row is None else decompress(bytes(row[0]), digest)

    def close(self) -> None:
        self._conn.close()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
