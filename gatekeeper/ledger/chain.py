"""The hash chain: how a record is built, and how a whole ledger is checked.

Each record's body is canonical JSON that includes its sequence number and the previous
record's hash; its hash is sha256 over exactly the stored body text; with a key configured the
hash is also signed (Ed25519), and the signer's public key is part of the hashed body.

``verify_chain`` walks the records in stored order and reports the first problem, naming the
record: modified (content no longer matches its hash, or its hash was rewritten and the next
record no longer links to it), deleted (a record links to a hash no record has, after a gap),
inserted (a record that the chain skips over), reordered (a record links to one stored after
it, or is stored at a position other than the one it was recorded at), a bad or untrusted
signature, or a head row that does not match the last record (the last record deleted).

What it cannot see without help: an attacker who rewrites every record from some point on
(including hashes and the head row). Signing with a key the attacker does not hold
(``--trusted-key``), or checking against a head hash kept elsewhere (``--anchor``), closes that.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import itertools
import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gatekeeper.ledger.canonical import GENESIS_HASH, canonical_json, digest_of_text
from gatekeeper.ledger.signing import (
    Signer,
    first_invalid_signature,
    key_id_of,
    signature_valid,
)
from gatekeeper.ledger.store import Head, NewRecord, RecordDigest, StoredRecord
from gatekeeper.ledger.verified import ColumnsDigest, VerifiedPrefix

RECORD_SCHEMA = "gatekeeper.ledger-record/v1"
_R = TypeVar("_R", StoredRecord, RecordDigest)


def record_builder(
    fields: Mapping[str, Any], *, recorded_at: str, signer: Signer | None
) -> Callable[[Head], NewRecord]:
    """A callback for :meth:`LedgerStore.append`: the record that follows ``head``."""

    def build(head: Head) -> NewRecord:
        body = {
            **fields,
            "schema": RECORD_SCHEMA,
            "seq": head.seq + 1,
            "prev_hash": head.hash,
            "recorded_at": recorded_at,
            "signer": (
                {"key_id": signer.key_id, "public_key": signer.public_b64} if signer else None
            ),
        }
        text = canonical_json(body)
        record_hash = digest_of_text(text)
        release = body.get("release") or {}
        return NewRecord(
            seq=head.seq + 1,
            decision_id=str(body["decision_id"]),
            recorded_at=recorded_at,
            service=release.get("service"),
            body=text,
            hash=record_hash,
            signature=signer.sign(record_hash) if signer else None,
        )

    return build


@dataclass(frozen=True)
class Problem:
    kind: str  # modified | deleted | inserted | reordered | signature | head | anchor
    seq: int | None
    decision_id: str | None
    message: str


@dataclass(frozen=True)
class VerifyResult:
    count: int
    head_hash: str
    signed: int
    key_ids: tuple[str, ...]
    problem: Problem | None = None
    # The verified prefix (verified.py): how many records it covered (their signatures were
    # not checked again), and what a new cache needs (the last record's seq, the columns
    # digest of the whole walk).
    covered: int = 0
    covered_signed: int = 0
    last_seq: int = 0
    columns: str = ""
    # Why a cached prefix was not used (it did not match the ledger), for a warning.
    warning: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def signatures_checked(self) -> int:
        return self.signed - min(self.signed, self.covered_signed)

    def verified_prefix(self) -> VerifiedPrefix | None:
        """What a cache keeps after this walk (None unless it found nothing wrong)."""
        if not self.ok or self.count == 0:
            return None
        return VerifiedPrefix(
            records=self.count,
            head_seq=self.last_seq,
            head_hash=self.head_hash,
            columns=self.columns,
            signed=self.signed,
            key_ids=self.key_ids,
        )


@dataclass
class _Seen:
    """A record as the walk saw it: only what later checks need (100,000 of these fit)."""

    seq: int
    decision_id: str
    body_seq: int


@dataclass
class _Walk:
    trusted: frozenset[str] | None
    require_signed: bool
    by_hash: dict[str, _Seen] = field(default_factory=dict)
    key_ids: set[str] = field(default_factory=set)
    signed: int = 0
    index: int = 0  # of the record being checked
    # Signatures checked in worker processes (see _ParallelSignatures), else inline.
    parallel: _ParallelSignatures | None = None

    def signature_ok(self, public: str, signature: str, record_hash: str) -> bool:
        if self.parallel is not None:
            self.parallel.add(self.index, public, signature, record_hash)
            return True  # judged when the walk ends, in record order
        return signature_valid(public, signature, record_hash)


# A signed record's Ed25519 check (~60 µs, holding the GIL) is the largest cost of a walk.
# From this many records on they are checked in worker processes, in batches, while the walk
# goes on; the first bad one is then reported exactly as the one-process walk reports it.
PARALLEL_SIGNATURES_FROM = 10_000
_SIGNATURE_BATCH = 2048


class _ParallelSignatures:
    def __init__(self, workers: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: a fresh interpreter, never a fork of a process holding database connections
        # and threads.
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
        self.workers = workers
        self.batch: list[tuple[int, str, str, str]] = []
        # Per batch, in order: a worker's future, or the answer of a batch checked here.
        self.futures: list[Any] = []
        self.running: deque[Any] = deque()  # the workers' batches not done yet

    def add(self, index: int, public: str, signature: str, record_hash: str) -> None:
        self.batch.append((index, public, signature, record_hash))
        if len(self.batch) >= _SIGNATURE_BATCH:
            if self.behind():
                # This process checks the batch itself rather than wait for the workers at
                # the end (one worker per core but this one: the walk needs a core too).
                self.futures.append(first_invalid_signature(self.batch))
            else:
                future = self.pool.submit(first_invalid_signature, self.batch)
                self.futures.append(future)
                self.running.append(future)
            self.batch = []

    def behind(self) -> bool:
        """Every worker is busy and a batch already waits for one."""
        running = self.running
        while running and running[0].done():
            running.popleft()
        return len(running) > self.workers

    def first_invalid(self) -> int | None:
        """The walk index of the first record whose signature does not verify, or None."""
        found = [first_invalid_signature(self.batch)]
        found.extend(f if isinstance(f, int) else f.result() for f in self.futures)
        bad = [index for index in found if index >= 0]
        return min(bad) if bad else None

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _name(seq: int | None, decision_id: str | None) -> str:
    return f"record #{seq} (decision {decision_id})"


def _parse(record: StoredRecord) -> dict[str, Any] | None:
    try:
        doc = json.loads(record.body)
    except json.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


def verify_chain(
    records: Callable[[], Iterable[StoredRecord]],
    *,
    head: Head | None,
    trusted_keys: Iterable[str] | None = None,
    require_signed: bool = False,
    anchor: str | None = None,
    start_hash: str = GENESIS_HASH,
    start_seq: int = 0,
    visit: Callable[[StoredRecord, dict[str, Any]], None] | None = None,
    parallel: bool = False,
    prefix: VerifiedPrefix | None = None,
    wanted: Callable[[StoredRecord], bool] | None = None,
    digests: Callable[[], Iterable[RecordDigest]] | None = None,
    records_after: Callable[[int], Iterable[StoredRecord]] | None = None,
) -> VerifyResult:
    """Check every record, link, signature and the head; stop at the first problem.

    ``records`` returns a fresh iterator in stored order each time it is called: the walk
    streams (a 100,000-record ledger is not held in memory), and only when a link is broken
    does it scan again to tell a reordered record from a deleted one.

    ``start_hash``/``start_seq``: the records continue a chain already verified up to record
    ``start_seq`` with hash ``start_hash`` (the decision service catching up with records its
    replicas appended).

    ``visit(record, document)`` is called for each record that passed every check, in
    order, with its parsed body: a caller reading every record (the compliance report) parses
    each once. After the first problem no more records are visited — except that with
    signatures checked in parallel, records after a bad signature may have been visited: the
    result is then not ok, and a caller keeping what it visited must read again. (The same
    holds for a verified prefix that turns out not to match: not ok, read again.)

    ``parallel``: with 10,000 records or more on several cores, check Ed25519 signatures in
    worker processes (started with ``spawn``, so only for a process whose main module is
    safe to import again: the ``gatekeeper`` command passes it; if the workers cannot run,
    the walk is done in this process).

    ``prefix``: what an earlier walk verified (verified.py). Its records are checked by
    their body hashes and the columns digest only, the records after it fully; if it does
    not match, the whole ledger is walked and the result is never ok (records an earlier
    verify saw are gone or rewritten). Ignored when it cannot vouch for what is asked
    (``require_signed``/``trusted_keys`` and records it saw unsigned or signed by another key).
    ``wanted(record)``: false for a prefix record the caller would not use, which is then
    neither parsed nor visited (a report over one period or service).
    ``digests``/``records_after`` (the store's ``record_digests`` and ``records(after_seq=)``):
    without ``visit``, the prefix is re-checked from the records' body hashes (computed by
    the database where it can) and the records after it read from there.
    """
    trusted = frozenset(trusted_keys) if trusted_keys is not None else None
    if prefix is not None and start_seq == 0 and _prefix_serves(prefix, trusted, require_signed):
        return _verify_after_prefix(
            records,
            head,
            trusted,
            require_signed,
            anchor,
            visit,
            parallel,
            prefix,
            wanted,
            digests if visit is None else None,  # a visit needs the bodies
            records_after,
        )
    return _walk(
        records, head, trusted, require_signed, anchor, start_hash, start_seq, visit, parallel
    )


def _prefix_serves(
    prefix: VerifiedPrefix, trusted: frozenset[str] | None, require_signed: bool
) -> bool:
    if require_signed or trusted is not None:
        if prefix.signed != prefix.records:
            return False
        if trusted is not None and not set(prefix.key_ids) <= trusted:
            return False
    return True


def _verify_after_prefix(
    records: Callable[[], Iterable[StoredRecord]],
    head: Head | None,
    trusted: frozenset[str] | None,
    require_signed: bool,
    anchor: str | None,
    visit: Callable[[StoredRecord, dict[str, Any]], None] | None,
    parallel: bool,
    prefix: VerifiedPrefix,
    wanted: Callable[[StoredRecord], bool] | None,
    digests: Callable[[], Iterable[RecordDigest]] | None = None,
    records_after: Callable[[int], Iterable[StoredRecord]] | None = None,
) -> VerifyResult:
    digest = ColumnsDigest()
    rows: Iterator[StoredRecord] | None = None
    if digests is not None and records_after is not None:
        matched = _read_prefix(iter(digests()), head, prefix, anchor, digest, _digest_intact)
    else:
        rows = iter(records())
        intact = _record_intact(visit, wanted)
        matched = _read_prefix(rows, head, prefix, anchor, digest, intact)
    # The records after the prefix (its N records are exactly seq 1..N when it matched):
    # read from the store after seq N, else the rest of the walk's own read (and, walked
    # again, a fresh read past the first N).
    continued = [rows] if rows is not None and records_after is None else []

    def rest() -> Iterable[StoredRecord]:
        if continued:
            return continued.pop()
        if records_after is not None:
            return records_after(prefix.head_seq)
        return itertools.islice(records(), prefix.records, None)

    if matched is None:
        # Not the records the earlier walk verified: walk everything; whatever it finds, the
        # ledger lost or rewrote verified records, so the result is not ok.
        full = _walk(
            records, head, trusted, require_signed, anchor, GENESIS_HASH, 0, None, parallel
        )
        warning = "the verified prefix does not match the ledger: every record was checked"
        if full.problem is not None:
            return dataclasses.replace(full, warning=warning)
        gone = Problem(
            "anchor",
            prefix.head_seq,
            None,
            f"record #{prefix.head_seq} with hash {prefix.head_hash}, verified before"
            f"{f' ({prefix.source})' if prefix.source else ''}, is no longer in the ledger: "
            f"records were removed or rewritten{f' ({prefix.hint})' if prefix.hint else ''}",
        )
        return dataclasses.replace(full, problem=gone, warning=warning)
    anchored = matched
    suffix = _walk(
        records,
        head,
        trusted,
        require_signed,
        None if anchored else anchor,
        prefix.head_hash,
        prefix.head_seq,
        visit,
        parallel,
        rows=rest,
        offset=prefix.records,
        columns=digest,
    )
    if suffix.problem is not None:
        # Named exactly as a walk from the start names it (the rare case: a damaged ledger).
        return _walk(
            records, head, trusted, require_signed, anchor, GENESIS_HASH, 0, None, parallel
        )
    return dataclasses.replace(
        suffix,
        signed=suffix.signed + prefix.signed,
        key_ids=tuple(sorted({*suffix.key_ids, *prefix.key_ids})),
        covered=prefix.records,
        covered_signed=prefix.signed,
    )


def _read_prefix(
    rows: Iterator[_R],
    head: Head | None,
    prefix: VerifiedPrefix,
    anchor: str | None,
    digest: ColumnsDigest,
    intact: Callable[[_R], bool],
) -> bool | None:
    """Check the prefix's records by body hash (``intact``: the body hashes to the stored
    hash, and whatever else the caller does with it went well) and the columns digest;
    whether the anchor is among them, or None when the prefix does not match."""
    if head is None or head.seq < prefix.head_seq:
        return None
    anchored = not anchor or anchor == GENESIS_HASH
    last: _R | None = None
    for _ in range(prefix.records):
        record = next(rows, None)
        if record is None or not intact(record):
            return None
        digest.add(record)
        if record.hash == anchor:
            anchored = True
        last = record
    if (
        last is None
        or digest.value() != prefix.columns
        or last.seq != prefix.head_seq
        or last.hash != prefix.head_hash
    ):
        return None
    return anchored


def _digest_intact(record: RecordDigest) -> bool:
    return record.body_hash == record.hash


def _record_intact(
    visit: Callable[[StoredRecord, dict[str, Any]], None] | None,
    wanted: Callable[[StoredRecord], bool] | None,
) -> Callable[[StoredRecord], bool]:
    """Its body hashes to its hash; then it is parsed and visited, if the caller wants it."""

    def intact(record: StoredRecord) -> bool:
        if digest_of_text(record.body) != record.hash:
            return False
        if visit is not None and (wanted is None or wanted(record)):
            doc = _parse(record)
            if doc is None:
                return False
            visit(record, doc)
        return True

    return intact


class _Visits:
    """A visit callback that counts what it delivered, or skips the first ``skip`` records
    (delivered already by a walk that is being done again)."""

    def __init__(
        self, visit: Callable[[StoredRecord, dict[str, Any]], None], skip: int = 0
    ) -> None:
        self.visit = visit
        self.skip = skip
        self.count = 0

    def __call__(self, record: StoredRecord, doc: dict[str, Any]) -> None:
        if self.skip:
            self.skip -= 1
            return
        self.count += 1
        self.visit(record, doc)


def _walk(
    records: Callable[[], Iterable[StoredRecord]],
    head: Head | None,
    trusted: frozenset[str] | None,
    require_signed: bool,
    anchor: str | None,
    start_hash: str,
    start_seq: int,
    visit: Callable[[StoredRecord, dict[str, Any]], None] | None,
    parallel: bool,
    *,
    rows: Callable[[], Iterable[StoredRecord]] | None = None,
    offset: int = 0,
    columns: ColumnsDigest | None = None,
) -> VerifyResult:
    """The walk from ``start_seq`` on, signatures in worker processes when worth it.
    ``rows``: returns the records to walk (default: ``records``), the first of them stored at
    position ``offset``; ``columns``: the columns digest of the records before them."""
    walked = rows if rows is not None else records
    # Every walk below checks the same records against the same expectations.
    verify = functools.partial(
        _verify, records, head, trusted, require_signed, anchor, start_hash, start_seq
    )
    expected = (head.seq - start_seq) if head is not None else 0
    if parallel and expected >= PARALLEL_SIGNATURES_FROM and (os.cpu_count() or 1) > 1:
        # Imported here: recording a gate run imports this module but never verifies in
        # parallel (multiprocessing and the process pool cost ~10 ms of its start-up).
        from concurrent.futures.process import BrokenProcessPool

        counting = _Visits(visit) if visit is not None else None
        before = columns.copy() if columns is not None else None
        try:
            # One core is this process's: it reads, parses and hashes, and checks a batch of
            # signatures itself when the workers fall behind.
            signatures = _ParallelSignatures(max(1, (os.cpu_count() or 1) - 1))
            try:
                result = verify(counting, signatures, walked(), offset, columns)
                bad = signatures.first_invalid()
            finally:
                signatures.close()
        except (BrokenProcessPool, OSError):
            bad = -1  # the workers could not run: check every signature here instead
        else:
            if bad is None or (result.problem is not None and result.count - offset < bad):
                return result
        # A bad signature at or before the first other problem (a tampered ledger), or no
        # workers: walk the same records again in one process, which stops at the first
        # problem and names it. The records visited already are not visited again (the
        # same records come first, in the same order); with a bad signature, records after
        # it may have been: the result is not ok, and the caller reads again.
        remaining = _Visits(visit, skip=counting.count) if visit is not None and counting else None
        return verify(remaining, None, walked(), offset, before)
    return verify(visit, None, walked(), offset, columns)


def _verify(
    records: Callable[[], Iterable[StoredRecord]],
    head: Head | None,
    trusted: frozenset[str] | None,
    require_signed: bool,
    anchor: str | None,
    start_hash: str,
    start_seq: int,
    visit: Callable[[StoredRecord, dict[str, Any]], None] | None,
    parallel: _ParallelSignatures | None,
    rows: Iterable[StoredRecord] | None = None,
    offset: int = 0,
    columns: ColumnsDigest | None = None,
) -> VerifyResult:
    walk = _Walk(
        trusted=trusted,
        require_signed=require_signed or trusted is not None,
        parallel=parallel,
    )

    def stored_after(wanted: str, index: int) -> bool:
        return any(r.hash == wanted for i, r in enumerate(records()) if i > index)

    prev_hash = start_hash
    prev: _Seen | None = _Seen(start_seq, "", start_seq) if start_seq else None
    if prev is not None:
        walk.by_hash[start_hash] = prev
    count = offset
    digest = columns if columns is not None else ColumnsDigest()
    for index, record in enumerate(records() if rows is None else rows, start=offset):
        walk.index = index - offset
        doc = _parse(record)
        problem = _check(record, doc, index, prev_hash, prev, stored_after, walk)
        if problem is not None:
            return _result(index, prev_hash, walk, problem, prev, digest)
        if visit is not None and doc is not None:
            visit(record, doc)
        prev = walk.by_hash[record.hash]
        prev_hash = record.hash
        digest.add(record)
        count = index + 1
    problem = _check_head(prev, head, prev_hash)
    if problem is None and anchor and anchor not in walk.by_hash and anchor != GENESIS_HASH:
        problem = Problem(
            "anchor",
            None,
            None,
            f"anchored hash {anchor} is not in the ledger: records up to it were removed "
            "or rewritten",
        )
    return _result(count, prev_hash, walk, problem, prev, digest)


def _result(
    count: int,
    head_hash: str,
    walk: _Walk,
    problem: Problem | None,
    last: _Seen | None,
    columns: ColumnsDigest,
) -> VerifyResult:
    return VerifyResult(
        count=count,
        head_hash=head_hash,
        signed=walk.signed,
        key_ids=tuple(sorted(walk.key_ids)),
        problem=problem,
        last_seq=last.seq if last is not None else 0,
        columns=columns.value(),
    )


def _check(
    record: StoredRecord,
    doc: dict[str, Any] | None,
    index: int,
    prev_hash: str,
    prev: _Seen | None,
    stored_after: Callable[[str, int], bool],
    walk: _Walk,
) -> Problem | None:
    name = _name(record.seq, record.decision_id)
    if doc is None or digest_of_text(record.body) != record.hash:
        return Problem(
            "modified",
            record.seq,
            record.decision_id,
            f"{name} was modified: its content no longer matches its hash",
        )
    body_seq = doc.get("seq")
    body_prev = doc.get("prev_hash")
    if not isinstance(body_seq, int) or not isinstance(body_prev, str):
        return Problem(
            "modified",
            record.seq,
            record.decision_id,
            f"{name} was modified: it has no sequence number or previous hash",
        )
    link = _check_link(record, body_seq, body_prev, prev_hash, prev, index, stored_after, walk)
    if link is not None:
        return link
    if body_seq != record.seq:
        return Problem(
            "reordered",
            record.seq,
            record.decision_id,
            f"{name} was reordered: it was recorded as #{body_seq}",
        )
    release = doc.get("release") or {}
    service = release.get("service") if isinstance(release, dict) else False  # matches none
    if (
        doc.get("decision_id") != record.decision_id
        or doc.get("recorded_at") != record.recorded_at
        or service != record.service
    ):
        return Problem(
            "modified",
            record.seq,
            record.decision_id,
            f"{name} was modified: its indexed columns differ from its content",
        )
    signature = _check_signature(record, doc, walk)
    if signature is not None:
        return signature
    walk.by_hash[record.hash] = _Seen(record.seq, record.decision_id, body_seq)
    return None


def _check_link(
    record: StoredRecord,
    body_seq: int,
    body_prev: str,
    prev_hash: str,
    prev: _Seen | None,
    index: int,
    stored_after: Callable[[str, int], bool],
    walk: _Walk,
) -> Problem | None:
    if body_prev == prev_hash:
        return None
    name = _name(record.seq, record.decision_id)
    if body_prev in walk.by_hash or body_prev == GENESIS_HASH:
        # It links to an earlier record, skipping what is stored in between. If the record
        # just before claims this record's position, that one is the intruder; otherwise this
        # one is (e.g. a copy of an old record appended at the end).
        # (prev is None only at the first record, whose link can only be GENESIS: no mismatch.)
        if prev is not None and prev.body_seq == body_seq:
            return Problem(
                "inserted",
                prev.seq,
                prev.decision_id,
                f"{_name(prev.seq, prev.decision_id)} was inserted: it is not part "
                f"of the chain ({name} follows the record before it)",
            )
        return Problem(
            "inserted",
            record.seq,
            record.decision_id,
            f"{name} was inserted: it links to an earlier record, not to the one before it",
        )
    if stored_after(body_prev, index):
        return Problem(
            "reordered",
            record.seq,
            record.decision_id,
            f"{name} was reordered: it follows a record that is stored after it",
        )
    if prev is not None and body_seq == prev.body_seq + 1:
        return Problem(
            "modified",
            prev.seq,
            prev.decision_id,
            f"{_name(prev.seq, prev.decision_id)} was modified: its hash was "
            f"rewritten and {name} no longer links to it",
        )
    expected = (prev.body_seq + 1) if prev is not None else 1
    missing = f"#{expected}" if body_seq - expected <= 1 else f"#{expected}–#{body_seq - 1}"
    return Problem(
        "deleted",
        expected,
        None,
        f"record {missing} was deleted: {name} links to a record the ledger no longer has",
    )


def _check_signature(record: StoredRecord, doc: dict[str, Any], walk: _Walk) -> Problem | None:
    name = _name(record.seq, record.decision_id)
    signer = doc.get("signer")
    if signer is None:
        if record.signature is not None:
            return Problem(
                "signature",
                record.seq,
                record.decision_id,
                f"{name} has a signature but no signer in its content",
            )
        if walk.require_signed:
            return Problem("signature", record.seq, record.decision_id, f"{name} is not signed")
        return None
    public = signer.get("public_key") if isinstance(signer, dict) else None
    key_id = signer.get("key_id") if isinstance(signer, dict) else None
    if not isinstance(public, str) or not isinstance(key_id, str) or record.signature is None:
        return Problem(
            "signature",
            record.seq,
            record.decision_id,
            f"{name} names a signer but its signature is missing",
        )
    if not walk.signature_ok(public, record.signature, record.hash):
        return Problem(
            "signature", record.seq, record.decision_id, f"{name} has an invalid signature"
        )
    actual_id = _key_id(public)
    if actual_id != key_id:
        return Problem(
            "signature",
            record.seq,
            record.decision_id,
            f"{name} names key {key_id} but was signed by {actual_id}",
        )
    if walk.trusted is not None and key_id not in walk.trusted:
        return Problem(
            "signature",
            record.seq,
            record.decision_id,
            f"{name} was signed by {key_id}, which is not a trusted key",
        )
    walk.signed += 1
    walk.key_ids.add(key_id)
    return None


@functools.lru_cache(maxsize=64)
def _key_id(public_b64: str) -> str:
    """The key id of a signer's public key (a ledger has a handful of keys, each on many
    records)."""
    try:
        return key_id_of(base64.b64decode(public_b64, validate=True))
    except (ValueError, binascii.Error):
        return ""


def _check_head(last: _Seen | None, head: Head | None, last_hash: str) -> Problem | None:
    if head is None:
        return Problem("head", None, None, "the ledger has no head row")
    last_seq = last.seq if last is not None else 0
    if head.seq == last_seq and head.hash == last_hash:
        return None
    if head.seq > last_seq:
        missing = f"#{last_seq + 1}" if head.seq == last_seq + 1 else f"#{last_seq + 1}–#{head.seq}"
        return Problem(
            "deleted",
            last_seq + 1,
            None,
            f"record {missing} was deleted: the ledger head says #{head.seq} is the "
            f"last record, the last one stored is #{last_seq}",
        )
    return Problem(
        "head",
        last_seq,
        last.decision_id if last is not None else None,
        f"the ledger head (#{head.seq}, {head.hash}) does not match the last record "
        f"#{last_seq}: records were added or rewritten outside gatekeeper",
    )
