"""The verified prefix: what an earlier full ``audit verify`` established, so the next one only
checks signatures of the records appended since.

After a walk that found nothing wrong, ``.gatekeeper/verified/<key>.json`` (``key``: the first
32 hex digits of sha256 over the ledger's normalised location) keeps: how many records were
verified, the sequence number and hash of the last of them, the *columns digest* of that
prefix (a hash chain over every stored column of every record except the body: sequence
number, decision id, time, service, hash, signature), and how many of them were signed and by
which keys.

The next walk re-reads the prefix and, for each record, recomputes sha256 over the stored body
and compares it with the stored hash, and recomputes the columns digest; it parses no JSON and
checks no Ed25519 signature there. When both match, every byte of the prefix is what the full
walk checked (bodies through their hashes, everything else through the digest), so that
walk's verdict still holds; a changed body, hash, signature, column, a record inserted,
deleted or moved inside the prefix all change one of the two and the whole ledger is walked
again. A ledger that no longer holds the verified last record at its position (truncated, or
rewritten with recomputed hashes) fails, naming the cache file.

Trust: the cache file is the verifier's own state, as trusted as its working directory — the
ledger database is what is checked. Whoever can write both can make a later verify skip the
prefix's signatures; an auditor checking a ledger independently runs ``--no-cache``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gatekeeper.ledger.store import LedgerStore, RecordDigest, StoredRecord

CACHE_DIR = Path(".gatekeeper") / "verified"
CACHE_SCHEMA = "gatekeeper.verified-prefix/v1"
MAX_CACHE_BYTES = 16 * 1024  # a few numbers, hashes and key ids
MAX_KEY_IDS = 64
_HASH = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class VerifiedPrefix:
    """The first ``records`` records of a ledger, as a full walk verified them."""

    records: int
    head_seq: int  # sequence number of the last verified record
    head_hash: str  # its hash
    columns: str  # columns digest of the prefix (see columns_digest)
    signed: int
    key_ids: tuple[str, ...]
    source: str = field(default="", compare=False)  # the cache file, for messages
    # what to do when the ledger was changed on purpose (restored, recreated), for messages
    hint: str = field(default="", compare=False)


class ColumnsDigest:
    """sha256 over everything stored of the records walked but their bodies (which their own
    hashes cover), in stored order, each field length-prefixed so no two rows encode alike.
    The digest after N records is compared with the cache's, then the same running hash goes
    on over the records after them."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(self, record: StoredRecord | RecordDigest) -> None:
        d, t, h = record.decision_id, record.recorded_at, record.hash
        s = "-" if record.service is None else "s" + record.service
        g = "-" if record.signature is None else "s" + record.signature
        self._hash.update(
            f"{record.seq}:{len(d)}:{d}{len(t)}:{t}{len(s)}:{s}{len(h)}:{h}{len(g)}:{g};".encode()
        )

    def value(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def copy(self) -> ColumnsDigest:
        twin = ColumnsDigest()
        twin._hash = self._hash.copy()
        return twin


def store_identity(store: LedgerStore) -> str:
    """The ledger's location, normalised: a SQLite file's resolved absolute path; a
    PostgreSQL URL without its password."""
    path = getattr(store, "path", None)
    if isinstance(path, Path):
        return "sqlite:" + str(path.expanduser().resolve())
    return strip_password(store.location)


def strip_password(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        credentials, host = netloc.rsplit("@", 1)
        netloc = credentials.split(":", 1)[0] + "@" + host
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"])
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def cache_path(identity: str, cwd: Path) -> Path:
    key = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
    return cwd / CACHE_DIR / f"{key}.json"


class CacheUnusable(Exception):
    """The cache file exists but cannot be used (corrupt, too big, another ledger's)."""


def load_prefix(path: Path, identity: str) -> VerifiedPrefix | None:
    """The cached prefix, None when there is no cache file; CacheUnusable when there is one
    that is not a well-formed cache of this ledger."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CACHE_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CacheUnusable(f"cannot read it: {exc.strerror}") from None
    if len(data) > MAX_CACHE_BYTES:
        raise CacheUnusable(f"larger than {MAX_CACHE_BYTES} bytes")
    try:
        doc: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise CacheUnusable("not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("schema") != CACHE_SCHEMA:
        raise CacheUnusable(f"not a {CACHE_SCHEMA} document")
    if doc.get("ledger") != identity:
        raise CacheUnusable("it is the cache of another ledger")
    numbers = [doc.get(k) for k in ("records", "head_seq", "signed")]
    keys = doc.get("key_ids")
    if (
        not all(type(n) is int and n >= 0 for n in numbers)
        or not all(_is_hash(doc.get(k)) for k in ("head_hash", "columns"))
        or not isinstance(keys, list)
        or len(keys) > MAX_KEY_IDS
        or not all(isinstance(k, str) for k in keys)
        or doc["signed"] > doc["records"]
        or doc["records"] == 0
    ):
        raise CacheUnusable("its fields are missing or malformed")
    return VerifiedPrefix(
        records=doc["records"],
        head_seq=doc["head_seq"],
        head_hash=doc["head_hash"],
        columns=doc["columns"],
        signed=doc["signed"],
        key_ids=tuple(keys),
    )


def _is_hash(value: object) -> bool:
    return isinstance(value, str) and _HASH.fullmatch(value) is not None


def save_prefix(path: Path, identity: str, prefix: VerifiedPrefix) -> None:
    """Write the cache atomically (a reader sees the old file or the new one). A cache that
    cannot be written is no error: the next verify walks everything again."""
    if prefix.records == 0 or len(prefix.key_ids) > MAX_KEY_IDS:
        return
    doc = {
        "schema": CACHE_SCHEMA,
        "ledger": identity,
        "records": prefix.records,
        "head_seq": prefix.head_seq,
        "head_hash": prefix.head_hash,
        "columns": prefix.columns,
        "signed": prefix.signed,
        "key_ids": list(prefix.key_ids),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle, indent=2)
                handle.write("\n")
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        return


def genesis_identity(store: LedgerStore) -> str | None:
    """The ledger's location and the hash of its first record (None for an empty ledger): a
    ledger created again at the same place is another ledger, with a cache of its own."""
    first = next(iter(store.record_digests()), None)
    if first is None:
        return None
    return f"{store_identity(store)} genesis {first.hash}"


class PrefixCache:
    """The cache file of one ledger, for a command: ``read=False`` (``--no-cache``) walks
    everything and still writes a fresh cache after a walk that found nothing wrong.

    ``per_genesis``: key the cache by the first record's hash too (the deploy commands). A
    ledger deleted and created again at the same path (a demo, a test environment) then gets
    a full walk instead of failing on the old ledger's cache; a ledger truncated or rewritten
    after its first record still fails. ``audit verify`` keys by location only, so a ledger
    replaced as a whole is reported there."""

    def __init__(
        self, store: LedgerStore, cwd: Path, *, read: bool = True, per_genesis: bool = False
    ) -> None:
        identity = genesis_identity(store) if per_genesis else store_identity(store)
        self.hint = (
            "if the ledger was deliberately restored from an older copy, delete that file"
            if per_genesis
            else "if the ledger was deliberately recreated, verify with --no-cache"
        )
        self.identity = identity or ""
        self.path = cache_path(self.identity, cwd)
        self.read = read and identity is not None
        self.write = identity is not None
        self.warnings: list[str] = []

    def load(self) -> VerifiedPrefix | None:
        if not self.read:
            return None
        try:
            prefix = load_prefix(self.path, self.identity)
        except CacheUnusable as exc:
            self.warnings.append(
                f"{self.path}: verified-prefix cache ignored ({exc}): every record is checked"
            )
            return None
        if prefix is None:
            return None
        return dataclasses.replace(prefix, source=str(self.path), hint=self.hint)

    def save(self, prefix: VerifiedPrefix | None) -> None:
        if prefix is not None and self.write:
            save_prefix(self.path, self.identity, prefix)
