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
import functools
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.ledger.canonical import GENESIS_HASH, canonical_json, digest_of_text
from gatekeeper.ledger.signing import (
    Signer,
    first_invalid_signature,
    key_id_of,
    signature_valid,
)
from gatekeeper.ledger.store import Head, NewRecord, StoredRecord

RECORD_SCHEMA = "gatekeeper.ledger-record/v1"


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

    @property
    def ok(self) -> bool:
        return self.problem is None


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
_SIGNATURE_BATCH = 4096


class _ParallelSignatures:
    def __init__(self, workers: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: a fresh interpreter, never a fork of a process holding database connections
        # and threads.
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
        self.batch: list[tuple[int, str, str, str]] = []
        self.futures: list[Any] = []

    def add(self, index: int, public: str, signature: str, record_hash: str) -> None:
        self.batch.append((index, public, signature, record_hash))
        if len(self.batch) >= _SIGNATURE_BATCH:
            self.futures.append(self.pool.submit(first_invalid_signature, self.batch))
            self.batch = []

    def first_invalid(self) -> int | None:
        """The walk index of the first record whose signature does not verify, or None."""
        found = [f.result() for f in self.futures]
        found.append(first_invalid_signature(self.batch))
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
    result is then not ok, and a caller keeping what it visited must read again.

    ``parallel``: with 10,000 records or more on several cores, check Ed25519 signatures in
    worker processes (started with ``spawn``, so only for a process whose main module is
    safe to import again: the ``gatekeeper`` command passes it; if the workers cannot run,
    the walk is done in this process).
    """
    trusted = frozenset(trusted_keys) if trusted_keys is not None else None
    expected = (head.seq - start_seq) if head is not None else 0
    if parallel and expected >= PARALLEL_SIGNATURES_FROM and (os.cpu_count() or 1) > 1:
        # Imported here: recording a gate run imports this module but never verifies in
        # parallel (multiprocessing and the process pool cost ~10 ms of its start-up).
        from concurrent.futures.process import BrokenProcessPool

        try:
            signatures = _ParallelSignatures(os.cpu_count() or 1)
            try:
                result = _verify(
                    records,
                    head,
                    trusted,
                    require_signed,
                    anchor,
                    start_hash,
                    start_seq,
                    visit,
                    signatures,
                )
                bad = signatures.first_invalid()
            finally:
                signatures.close()
        except (BrokenProcessPool, OSError):
            bad = -1  # the workers could not run: check every signature here instead
        else:
            if bad is None or (result.problem is not None and result.count < bad):
                return result
        # A bad signature at or before the first other problem (a tampered ledger), or no
        # workers: walk again in one process, which stops at the first problem and names it.
        # Records are not visited again: the caller learns from the result that they may be
        # incomplete (not ok) or already has every one (ok).
        return _verify(
            records, head, trusted, require_signed, anchor, start_hash, start_seq, None, None
        )
    return _verify(
        records, head, trusted, require_signed, anchor, start_hash, start_seq, visit, None
    )


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
    count = 0
    for index, record in enumerate(records()):
        walk.index = index
        doc = _parse(record)
        problem = _check(record, doc, index, prev_hash, prev, stored_after, walk)
        if problem is not None:
            return _result(index, prev_hash, walk, problem)
        if visit is not None and doc is not None:
            visit(record, doc)
        prev = walk.by_hash[record.hash]
        prev_hash = record.hash
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
    return _result(count, prev_hash, walk, problem)


def _result(count: int, head_hash: str, walk: _Walk, problem: Problem | None) -> VerifyResult:
    return VerifyResult(
        count=count,
        head_hash=head_hash,
        signed=walk.signed,
        key_ids=tuple(sorted(walk.key_ids)),
        problem=problem,
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
    if (
        doc.get("decision_id") != record.decision_id
        or doc.get("recorded_at") != record.recorded_at
        or release.get("service") != record.service
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
