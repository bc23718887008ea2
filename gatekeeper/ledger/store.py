"""The ledger store axis: one small interface, a registry by URL scheme (``registry.py``).

A store keeps three things: records (append-only, one row per decision, in chain order), the
chain head (sequence number and hash of the last record, the row concurrent writers lock), and
content-addressed blobs (normalized inputs and policy bundles, stored once per digest).

Stores know nothing about hashing or signing: :meth:`LedgerStore.append` hands the locked head
to a builder callback that produces the record, so the chain rules live in one place
(``chain.py``) whatever the database.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol

from gatekeeper.errors import GatekeeperError

# A blob is a normalized gate input or a policy bundle snapshot; refuse to inflate anything
# bigger (a tampered database could hold a zip bomb).
MAX_BLOB_BYTES = 512 * 1024 * 1024
RECORD_PAGE = 2000


class LedgerError(GatekeeperError):
    """The ledger cannot be opened, read or written (exit 3: the gate cannot vouch for itself)."""


class LedgerMissing(LedgerError):
    """Opened without ``create`` where no ledger exists yet: nothing was ever recorded there.
    Callers that treat "no record" as an answer (the deployer: no approval) catch this type."""


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


@dataclass(frozen=True)
class NewRecord:
    """What the builder returns for the store to insert."""

    seq: int
    decision_id: str
    recorded_at: str
    service: str | None
    body: str  # canonical JSON text; the hash is taken over exactly these bytes
    hash: str
    signature: str | None


@dataclass(frozen=True)
class StoredRecord:
    seq: int
    decision_id: str
    recorded_at: str
    service: str | None
    body: str
    hash: str
    signature: str | None

    def document(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body)
        except json.JSONDecodeError as exc:
            raise LedgerError(
                f"record #{self.seq} ({self.decision_id}) is not valid JSON: {exc.msg}"
            ) from None
        if not isinstance(value, dict):
            raise LedgerError(f"record #{self.seq} ({self.decision_id}) is not a JSON object")
        return value


class RecordDigest(NamedTuple):
    """A stored record without its body, with sha256 over the body as stored ("sha256:…",
    computed by the database where it can): what re-checking a verified prefix reads."""

    seq: int
    decision_id: str
    recorded_at: str
    service: str | None
    hash: str
    signature: str | None
    body_hash: str


RecordBuilder = Callable[[Head], NewRecord]


class LedgerStore(Protocol):
    scheme: ClassVar[str]

    @property
    def location(self) -> str:
        """Where the ledger is, for messages (passwords masked)."""
        ...

    def append(self, build: RecordBuilder, blobs: Mapping[str, bytes]) -> NewRecord:
        """Store ``blobs`` (digest -> content, kept once per digest), lock the head, call
        ``build`` with it and insert the record it returns, atomically."""
        ...

    def head(self) -> Head | None:
        """The head row as stored (None for an empty ledger)."""
        ...

    def records(
        self,
        *,
        start: str | None = None,
        end: str | None = None,
        service: str | None = None,
        after_seq: int = 0,
    ) -> Iterator[StoredRecord]:
        """Records in chain order, optionally filtered by recorded_at range [start, end) and
        service; ``after_seq``: only records with a greater sequence number."""
        ...

    def record_digests(self) -> Iterator[RecordDigest]:
        """Every record in chain order, its body replaced by the body's sha256."""
        ...

    def find(self, decision_id: str) -> StoredRecord | None: ...

    def blob(self, digest: str) -> bytes | None:
        """The stored content for ``digest`` as stored — callers verify the digest."""
        ...

    def close(self) -> None: ...


def compress(content: bytes) -> bytes:
    return zlib.compress(content, 1)  # speed over size: a gate run waits on it


# Blobs compressed before they are stored: digest (sha256 of the content, taken here) -> the
# compressed content. A gate run compresses its input on a thread while the engine evaluates
# (the gate itself only waits then), and the store's append takes the result instead of
# compressing again. Keyed by the content's own digest, so an entry is always that content.
_COMPRESSED_AHEAD: dict[str, bytes] = {}


def compress_ahead(content: bytes) -> str:
    """Compress ``content`` now for a later append; returns its digest (``sha256:<hex>``)."""
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    _COMPRESSED_AHEAD[digest] = compress(content)
    return digest


def compress_blob(digest: str, content: bytes) -> bytes:
    """``content`` compressed: what :func:`compress_ahead` prepared for it, else now."""
    ready = _COMPRESSED_AHEAD.pop(digest, None)
    return ready if ready is not None else compress(content)


def decompress(data: bytes, digest: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        content = inflater.decompress(data, MAX_BLOB_BYTES)
    except zlib.error as exc:
        raise LedgerError(f"stored blob {digest} is corrupt: {exc}") from None
    if inflater.unconsumed_tail:
        raise LedgerError(f"stored blob {digest} inflates beyond {MAX_BLOB_BYTES} bytes")
    return content
