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
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from gatekeeper.ledger.canonical import GENESIS_HASH, canonical_json, digest_of_text
from gatekeeper.ledger.signing import Signer, key_id_of, signature_valid
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


Visit = Callable[[StoredRecord, dict[str, Any]], None]


@dataclass(frozen=True)
class SplitVisit:
    """A visit in two halves, so that worker processes can do the first: ``read(record,
    document)`` makes a small value of a record's parsed body (it is pickled to the workers:
    a module-level function, or an instance of a module-level class), ``keep(record, value)``
    takes the values in this process, in record order. As a visit it is ``keep(record,
    read(record, document))``."""

    read: Callable[[StoredRecord, dict[str, Any]], Any]
    keep: Callable[[StoredRecord, Any], None]

    def __call__(self, record: StoredRecord, doc: dict[str, Any]) -> None:
        self.keep(record, self.read(record, doc))


def _whole_document(record: StoredRecord, doc: dict[str, Any]) -> dict[str, Any]:
    """The ``read`` of a plain visit walked by workers: the document itself."""
    return doc


class _Body(NamedTuple):
    """What the checks need of a record's body (read here, or in a worker process)."""

    seq: Any
    prev_hash: Any
    columns: bool  # its decision id, time and service are the record's indexed columns
    signer: bool  # it names a signer (anything but null)
    public_key: Any
    key_id: Any
    valid: bool | None  # its signature verified (checked by a worker); None: not checked yet
    doc: dict[str, Any] | None  # the parsed body (read here)
    value: Any  # the visit's read of it (read by a worker)


def _body_of(
    record: StoredRecord,
    read: Callable[[StoredRecord, dict[str, Any]], Any] | None = None,
) -> _Body | None:
    """The body's facts, None when it does not parse to an object or does not hash to the
    record's hash. ``read`` (in a worker process): the signature is checked and the visit's
    read done here, the document itself is not kept."""
    doc = _parse(record)
    if doc is None or digest_of_text(record.body) != record.hash:
        return None
    release = doc.get("release") or {}
    service = release.get("service") if isinstance(release, dict) else False  # matches none
    signer = doc.get("signer")
    public = signer.get("public_key") if isinstance(signer, dict) else None
    key_id = signer.get("key_id") if isinstance(signer, dict) else None
    valid = None
    if read is not None and isinstance(public, str) and record.signature is not None:
        valid = signature_valid(public, record.signature, record.hash)
        public = sys.intern(public)  # one key on many records: sent back once per batch
    return _Body(
        doc.get("seq"),
        doc.get("prev_hash"),
        doc.get("decision_id") == record.decision_id
        and doc.get("recorded_at") == record.recorded_at
        and service == record.service,
        signer is not None,
        public,
        key_id,
        valid,
        None if read is not None else doc,
        read(record, doc) if read is not None else None,
    )


# A record's Ed25519 check (~60 µs, holding the GIL), its json.loads (~25 µs for a 5.5 KB
# body) and what a visit reads of it are most of a walk. From this many records on, worker
# processes do them for batches of records while this process reads the next ones, checks
# the links and keeps the visits' values, in record order: the first problem is the one the
# one-process walk names.
PARALLEL_FROM = 10_000
_BATCH = 1024
_REDO = 0  # a worker's answer for a record it could not read: read here, in order


def _read_batch(
    batch: list[tuple[int, str, str, str | None, str, str, str | None]],
    read: Callable[[StoredRecord, dict[str, Any]], Any],
) -> list[_Body | int | None]:
    """A batch of records' bodies, in a worker process (see _Workers)."""
    found: list[_Body | int | None] = []
    for row in batch:
        try:
            found.append(_body_of(StoredRecord(*row), read))
        except Exception:  # whatever it is, this process meets it again in record order
            found.append(_REDO)
    return found


class _Workers:
    def __init__(self, workers: int, read: Callable[[StoredRecord, dict[str, Any]], Any]) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: a fresh interpreter, never a fork of a process holding database connections
        # and threads.
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
        self.read = read
        self.ahead = 2 * workers + 1  # batches in flight: bounds the bodies held (~6 MB each)

    def bodies(self, rows: Iterable[StoredRecord]) -> Iterator[tuple[StoredRecord, _Body | None]]:
        """Each record with its body's facts, in order, read by the workers."""
        source = iter(rows)
        pending: deque[tuple[list[StoredRecord], Any]] = deque()
        while True:
            while len(pending) < self.ahead:
                batch = list(itertools.islice(source, _BATCH))
                if not batch:
                    break
                sent = [
                    (r.seq, r.decision_id, r.recorded_at, r.service, r.body, r.hash, r.signature)
                    for r in batch
                ]
                pending.append((batch, self.pool.submit(_read_batch, sent, self.read)))
            if not pending:
                return
            batch, future = pending.popleft()
            for record, body in zip(batch, future.result(), strict=True):
                yield record, (_body_of(record) if type(body) is int else body)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _local_bodies(rows: Iterable[StoredRecord]) -> Iterator[tuple[StoredRecord, _Body | None]]:
    for record in rows:
        yield record, _body_of(record)


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
            "records were removed or rewritten (if the ledger was deliberately recreated, "
            "verify with --no-cache)",
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
    (delivered already by a walk that is being done again). Its ``keep`` takes a value a
    worker read (``read``: what the workers do of each record's document)."""

    def __init__(self, visit: Visit, skip: int = 0) -> None:
        self.split = visit if isinstance(visit, SplitVisit) else SplitVisit(_whole_document, visit)
        self.read = self.split.read
        self.skip = skip
        self.count = 0

    def __call__(self, record: StoredRecord, doc: dict[str, Any]) -> None:
        if not self._skipped():
            self.split(record, doc)

    def keep(self, record: StoredRecord, value: Any) -> None:
        if not self._skipped():
            self.split.keep(record, value)

    def _skipped(self) -> bool:
        if self.skip:
            self.skip -= 1
            return True
        self.count += 1
        return False


def _walk(
    records: Callable[[], Iterable[StoredRecord]],
    head: Head | None,
    trusted: frozenset[str] | None,
    require_signed: bool,
    anchor: str | None,
    start_hash: str,
    start_seq: int,
    visit: Visit | None,
    parallel: bool,
    *,
    rows: Callable[[], Iterable[StoredRecord]] | None = None,
    offset: int = 0,
    columns: ColumnsDigest | None = None,
) -> VerifyResult:
    """The walk from ``start_seq`` on, bodies read in worker processes when worth it.
    ``rows``: returns the records to walk (default: ``records``), the first of them stored at
    position ``offset``; ``columns``: the columns digest of the records before them."""
    walked = rows if rows is not None else records
    # Every walk below checks the same records against the same expectations.
    verify = functools.partial(
        _verify, records, head, trusted, require_signed, anchor, start_hash, start_seq
    )
    expected = (head.seq - start_seq) if head is not None else 0
    if parallel and expected >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
        # Imported here: recording a gate run imports this module but never verifies in
        # parallel (multiprocessing and the process pool cost ~10 ms of its start-up).
        from concurrent.futures.process import BrokenProcessPool

        counting = _Visits(visit) if visit is not None else None
        before = columns.copy() if columns is not None else None
        try:
            workers = _Workers(
                os.cpu_count() or 1, counting.read if counting is not None else _no_read
            )
            try:
                return verify(counting, workers.bodies(walked()), offset, columns)
            finally:
                workers.close()
        except (BrokenProcessPool, OSError):
            pass
        # The workers could not run, or died: walk the same records again in this process.
        # The records visited already are not visited again (the same records come first, in
        # the same order).
        remaining = _Visits(visit, skip=counting.count) if visit is not None and counting else None
        return verify(remaining, _local_bodies(walked()), offset, before)
    return verify(visit, _local_bodies(walked()), offset, columns)


def _no_read(record: StoredRecord, doc: dict[str, Any]) -> None:
    """The ``read`` of a walk without a visit: nothing."""
    return None


def _verify(
    records: Callable[[], Iterable[StoredRecord]],
    head: Head | None,
    trusted: frozenset[str] | None,
    require_signed: bool,
    anchor: str | None,
    start_hash: str,
    start_seq: int,
    visit: Visit | _Visits | None,
    bodies: Iterable[tuple[StoredRecord, _Body | None]],
    offset: int = 0,
    columns: ColumnsDigest | None = None,
) -> VerifyResult:
    walk = _Walk(trusted=trusted, require_signed=require_signed or trusted is not None)

    def stored_after(wanted: str, index: int) -> bool:
        return any(r.hash == wanted for i, r in enumerate(records()) if i > index)

    prev_hash = start_hash
    prev: _Seen | None = _Seen(start_seq, "", start_seq) if start_seq else None
    if prev is not None:
        walk.by_hash[start_hash] = prev
    count = offset
    digest = columns if columns is not None else ColumnsDigest()
    for index, (record, body) in enumerate(bodies, start=offset):
        problem = _check(record, body, index, prev_hash, prev, stored_after, walk)
        if problem is not None:
            return _result(index, prev_hash, walk, problem, prev, digest)
        if visit is not None and body is not None:
            if body.doc is not None:
                visit(record, body.doc)
            elif isinstance(visit, _Visits):
                visit.keep(record, body.value)
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
    body: _Body | None,
    index: int,
    prev_hash: str,
    prev: _Seen | None,
    stored_after: Callable[[str, int], bool],
    walk: _Walk,
) -> Problem | None:
    name = _name(record.seq, record.decision_id)
    if body is None:
        return Problem(
            "modified",
            record.seq,
            record.decision_id,
            f"{name} was modified: its content no longer matches its hash",
        )
    body_seq = body.seq
    body_prev = body.prev_hash
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
    if not body.columns:
        return Problem(
            "modified",
            record.seq,
            record.decision_id,
            f"{name} was modified: its indexed columns differ from its content",
        )
    signature = _check_signature(record, body, walk)
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


def _check_signature(record: StoredRecord, body: _Body, walk: _Walk) -> Problem | None:
    name = _name(record.seq, record.decision_id)
    if not body.signer:
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
    public = body.public_key
    key_id = body.key_id
    if not isinstance(public, str) or not isinstance(key_id, str) or record.signature is None:
        return Problem(
            "signature",
            record.seq,
            record.decision_id,
            f"{name} names a signer but its signature is missing",
        )
    valid = body.valid
    if valid is None:
        valid = signature_valid(public, record.signature, record.hash)
    if not valid:
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
