"""SQLite store: the default, a file under ``.gatekeeper/``, safe for concurrent gate runs on
one machine.

Concurrency: WAL journal (readers never block the writer) and ``BEGIN IMMEDIATE`` for appends,
so two writers never both read the same head; a writer that finds the database locked waits
(busy timeout) and then retries the whole transaction a bounded number of times.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from gatekeeper.ledger import sql
from gatekeeper.ledger.canonical import GENESIS_HASH, sha256_hex
from gatekeeper.ledger.store import (
    Head,
    LedgerError,
    LedgerMissing,
    NewRecord,
    RecordBuilder,
    RecordDigest,
    StoredRecord,
    compress_blob,
    decompress,
)

_T = TypeVar("_T")
BUSY_TIMEOUT_S = 30.0
MAX_ATTEMPTS = 8


def _sha256_of_bytes(value: Any) -> str:
    return sha256_hex(value if isinstance(value, bytes) else str(value).encode("utf-8"))


def _is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


class SqliteStore:
    scheme: ClassVar[str] = "sqlite"

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = path
        if not create and not path.is_file():
            raise LedgerMissing("no ledger here (no decision recorded yet?)", path=str(path))
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"cannot open ledger: {exc}", path=str(path)) from None
        self._retrying(self._init_schema, create)

    @property
    def location(self) -> str:
        return str(self.path)

    def _init_schema(self, create: bool) -> None:
        # WAL is a property of the file; setting it needs the write lock, hence inside retries.
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a decision that was reported as recorded survives a power cut.
        self._db.execute("PRAGMA synchronous=FULL")
        if not create:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            # Statement by statement: executescript() would COMMIT our IMMEDIATE transaction.
            for statement in sql.SCHEMA.format(int_type="INTEGER", blob_type="BLOB").split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(sql.INIT_META, (sql.SCHEMA_VERSION,))
            self._db.execute(sql.INIT_HEAD, (GENESIS_HASH,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _retrying(self, action: Callable[..., _T], *args: object) -> _T:
        for attempt in range(MAX_ATTEMPTS):
            try:
                return action(*args)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == MAX_ATTEMPTS - 1:
                    raise LedgerError(f"ledger write failed: {exc}", path=str(self.path)) from None
                time.sleep(0.05 * (2**attempt) * (0.5 + random.random()))  # noqa: S311 - jitter
            except sqlite3.Error as exc:
                raise LedgerError(f"ledger error: {exc}", path=str(self.path)) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def append(self, build: RecordBuilder, blobs: Mapping[str, bytes]) -> NewRecord:
        return self._retrying(self._append_once, build, blobs)

    def _append_once(self, build: RecordBuilder, blobs: Mapping[str, bytes]) -> NewRecord:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for digest, content in blobs.items():
                if db.execute(sql.HAS_BLOB, (digest,)).fetchone() is None:
                    db.execute(sql.PUT_BLOB, (digest, len(content), compress_blob(digest, content)))
            head = sql.to_head(db.execute(sql.GET_HEAD).fetchone())
            if head is None:
                raise LedgerError("ledger has no head row: not a gatekeeper ledger or damaged")
            record = build(head)
            db.execute(sql.INSERT_RECORD, sql.record_params(record))
            db.execute(sql.UPDATE_HEAD, (record.seq, record.hash))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return record

    def head(self) -> Head | None:
        try:
            return sql.to_head(self._db.execute(sql.GET_HEAD).fetchone())
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read ledger: {exc}", path=str(self.path)) from None

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
            try:
                return self._db.execute(query, (after, *params, limit)).fetchall()
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot read ledger: {exc}", path=str(self.path)) from None

        return sql.paged(fetch, after_seq=after_seq)

    def record_digests(self) -> Iterator[RecordDigest]:
        # The body's UTF-8 bytes as stored (no text decoding), hashed here.
        query = sql.digest_page_query("CAST(body AS BLOB)")

        def fetch(after: int, limit: int) -> list[Any]:
            try:
                return self._db.execute(query, (after, limit)).fetchall()
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot read ledger: {exc}", path=str(self.path)) from None

        return sql.paged_digests(fetch, _sha256_of_bytes)

    def find(self, decision_id: str) -> StoredRecord | None:
        try:
            row = self._db.execute(sql.FIND_RECORD, (decision_id,)).fetchone()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read ledger: {exc}", path=str(self.path)) from None
        return None if row is None else sql.to_record(row)

    def blob(self, digest: str) -> bytes | None:
        try:
            row = self._db.execute(sql.GET_BLOB, (digest,)).fetchone()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read ledger: {exc}", path=str(self.path)) from None
        return None if row is None else decompress(bytes(row[0]), digest)

    def close(self) -> None:
        self._db.close()
