"""What the SQL stores share: the schema and the queries, written once for both dialects.

Statements use ``?`` placeholders; the PostgreSQL store rewrites them to ``%s``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from gatekeeper.ledger.store import RECORD_PAGE, Head, NewRecord, RecordDigest, StoredRecord

SCHEMA_VERSION = "1"

# blob_type: BLOB (SQLite) or BYTEA (PostgreSQL); int_type: INTEGER or BIGINT.
SCHEMA = """
CREATE TABLE IF NOT EXISTS gk_ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gk_ledger_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq {int_type} NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gk_ledger_records (
    seq {int_type} PRIMARY KEY,
    decision_id TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    service TEXT,
    body TEXT NOT NULL,
    hash TEXT NOT NULL,
    signature TEXT
);
CREATE INDEX IF NOT EXISTS gk_ledger_records_decision ON gk_ledger_records (decision_id);
CREATE INDEX IF NOT EXISTS gk_ledger_records_time ON gk_ledger_records (recorded_at);
CREATE TABLE IF NOT EXISTS gk_ledger_blobs (
    digest TEXT PRIMARY KEY,
    size {int_type} NOT NULL,
    content {blob_type} NOT NULL
);
"""

INIT_META = (
    "INSERT INTO gk_ledger_meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO NOTHING"
)
INIT_HEAD = (
    "INSERT INTO gk_ledger_head (id, seq, hash) VALUES (1, 0, ?) ON CONFLICT (id) DO NOTHING"
)
PUT_BLOB = (
    "INSERT INTO gk_ledger_blobs (digest, size, content) VALUES (?, ?, ?) "
    "ON CONFLICT (digest) DO NOTHING"
)
HAS_BLOB = "SELECT 1 FROM gk_ledger_blobs WHERE digest = ?"
GET_BLOB = "SELECT content FROM gk_ledger_blobs WHERE digest = ?"
GET_HEAD = "SELECT seq, hash FROM gk_ledger_head WHERE id = 1"
INSERT_RECORD = (
    "INSERT INTO gk_ledger_records "
    "(seq, decision_id, recorded_at, service, body, hash, signature) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
UPDATE_HEAD = "UPDATE gk_ledger_head SET seq = ?, hash = ? WHERE id = 1"
_COLUMNS = "seq, decision_id, recorded_at, service, body, hash, signature"
# Constant column and table names only; values always go through placeholders.
FIND_RECORD = f"SELECT {_COLUMNS} FROM gk_ledger_records WHERE decision_id = ? ORDER BY seq LIMIT 1"  # noqa: S608


def page_query(*, start: str | None, end: str | None, service: str | None) -> tuple[str, list[Any]]:
    """Records after a sequence number (first parameter), in order, one page at a time."""
    where = ["seq > ?"]
    params: list[Any] = []
    if start is not None:
        where.append("recorded_at >= ?")
        params.append(start)
    if end is not None:
        where.append("recorded_at < ?")
        params.append(end)
    if service is not None:
        where.append("service = ?")
        params.append(service)
    sql = (
        f"SELECT {_COLUMNS} FROM gk_ledger_records WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY seq LIMIT ?"
    )
    return sql, params


def digest_page_query(body_digest: str) -> str:
    """Records after a sequence number without their bodies, ``body_digest`` (an SQL
    expression over ``body``) in their place, in order, one page at a time."""
    return (
        "SELECT seq, decision_id, recorded_at, service, hash, signature, "  # noqa: S608
        f"{body_digest} FROM gk_ledger_records WHERE seq > ? ORDER BY seq LIMIT ?"
    )


def paged_digests(
    fetch: Callable[[int, int], list[Any]], body_hash: Callable[[Any], str]
) -> Iterator[RecordDigest]:
    """``paged`` for :func:`digest_page_query` rows; ``body_hash(value)`` makes the
    "sha256:…" text of the last column."""
    after = -(2**62)
    while True:
        rows = fetch(after, RECORD_PAGE)
        for seq, decision_id, recorded_at, service, hash_, signature, body in rows:
            yield RecordDigest(
                int(seq),
                str(decision_id),
                str(recorded_at),
                None if service is None else str(service),
                str(hash_),
                None if signature is None else str(signature),
                body_hash(body),
            )
        if len(rows) < RECORD_PAGE:
            return
        after = int(rows[-1][0])


def record_params(record: NewRecord) -> tuple[Any, ...]:
    return (
        record.seq,
        record.decision_id,
        record.recorded_at,
        record.service,
        record.body,
        record.hash,
        record.signature,
    )


def to_record(row: Any) -> StoredRecord:
    return StoredRecord(
        seq=int(row[0]),
        decision_id=str(row[1]),
        recorded_at=str(row[2]),
        service=None if row[3] is None else str(row[3]),
        body=str(row[4]),
        hash=str(row[5]),
        signature=None if row[6] is None else str(row[6]),
    )


def to_head(row: Any) -> Head | None:
    return None if row is None else Head(seq=int(row[0]), hash=str(row[1]))


def paged(fetch: Callable[[int, int], list[Any]], *, after_seq: int = 0) -> Iterator[StoredRecord]:
    """Records page by page (keyset on seq): ``fetch(after_seq, limit)`` returns rows."""
    # Sequence numbers start at 1; a seq <= 0 stored by a tamperer is still read from 0 down.
    after = after_seq if after_seq > 0 else -(2**62)
    while True:
        rows = fetch(after, RECORD_PAGE)
        for row in rows:
            yield to_record(row)
        if len(rows) < RECORD_PAGE:
            return
        after = int(rows[-1][0])
