"""The service's record: the ledger's hash chain, a Merkle tree over it, and the last signed
checkpoint kept in a file outside the database.

At start-up the whole ledger is verified (every record signed by the service's key), the tree
is rebuilt from the record hashes, and the checkpoint file must describe a prefix of it: a
database restored from an older backup, with its tail cut, or with a record modified,
removed or reordered no longer has the checkpoint's size and root, and the service refuses to
start. Records beyond the checkpoint are accepted only because each carries the service's own
signature and links into the chain: that is a crash between a commit and the checkpoint write.

Replicas: several service processes may share one database (PostgreSQL). The database's
head lock orders appends, so the chain cannot fork; before each append and each answer a
replica catches up with the records the others appended, accepting each only when it links
into the chain and carries a trusted service signature. Anything else in the database — a
record signed by another key or not at all, a rewritten or removed record, a head moved back —
makes the service refuse to append or answer (503), as a single process does.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from gatekeeper.audit.recorder import record_gate_result
from gatekeeper.gate.run import GateResult
from gatekeeper.ledger.canonical import GENESIS_HASH, timestamp
from gatekeeper.ledger.chain import record_builder, verify_chain
from gatekeeper.ledger.checkpoints import read_checkpoint, write_checkpoint
from gatekeeper.ledger.incidents import IncidentRecorded
from gatekeeper.ledger.merkle import (
    Checkpoint,
    MerkleTree,
    checkpoint_valid,
    record_leaf,
    sign_checkpoint,
)
from gatekeeper.ledger.signing import Signer, key_id_of
from gatekeeper.ledger.store import LedgerError, LedgerStore, NewRecord, StoredRecord
from gatekeeper.server.errors import LogMismatch

# Records the service itself writes about what judges: uploads and activations of policy
# bundles (``server/bundles.py``) and each project's waivers (``server/waivers.py``). The log
# keeps them at hand, as they decide every gate's outcome.
CATALOGUE_KIND_PREFIXES = ("bundle.", "waiver.")
# In the canonical body, before parsing.
_CATALOGUE_MARKS = tuple('"kind":"' + prefix for prefix in CATALOGUE_KIND_PREFIXES)
# Kinds of records appended by append_event; deployment events are reported by deployers.
EVENT_KIND_PREFIXES = (*CATALOGUE_KIND_PREFIXES, "deploy.")


@dataclass(frozen=True)
class LogEvent:
    """A catalogue record (kind ``bundle.*`` or ``waiver.*``) and its place in the log."""

    log_index: int
    recorded_at: str
    document: Mapping[str, Any]


def _catalogue_event(record: StoredRecord) -> LogEvent | None:
    if not any(mark in record.body for mark in _CATALOGUE_MARKS):
        return None
    doc = record.document()
    if not str(doc.get("kind", "")).startswith(CATALOGUE_KIND_PREFIXES):
        return None
    return LogEvent(record.seq - 1, record.recorded_at, doc)


R = TypeVar("R")


@dataclass(frozen=True)
class Appended:
    record: NewRecord
    log_index: int
    checkpoint: Checkpoint


class DecisionLog:
    """One service process's view of the log: the tree of every record in the database, kept
    current with what other replicas append (:meth:`sync`)."""

    def __init__(
        self,
        store: LedgerStore,
        signer: Signer,
        checkpoint_path: Path,
        *,
        origin: str,
        tree: MerkleTree,
        last_hash: str,
        checkpoint: Checkpoint,
        trusted_key_ids: Sequence[str] = (),
        events: Sequence[LogEvent] = (),
    ) -> None:
        self.store = store
        self.signer = signer
        self.checkpoint_path = checkpoint_path
        self.origin = origin
        self.tree = tree
        self._last_hash = last_hash
        self.checkpoint = checkpoint
        self._trusted = tuple(trusted_key_ids) or (signer.key_id,)
        self._events = list(events)
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        store: LedgerStore,
        signer: Signer,
        checkpoint_path: Path,
        *,
        origin: str,
        previous_keys: Sequence[bytes] = (),
    ) -> DecisionLog:
        """Verify the database against the checkpoint file; raise LogMismatch when it does not
        match (the one-line message says what happened). ``previous_keys`` (raw Ed25519 public
        keys) are the service's earlier keys: records and a checkpoint they signed are still
        trusted after a rotation; new ones are signed with ``signer`` only."""
        trusted = [signer.public_raw, *previous_keys]
        verified = verify_log(store, trusted, checkpoint_path, origin=origin)
        tree, saved = verified.tree, verified.checkpoint
        log = cls(
            store,
            signer,
            checkpoint_path,
            origin=origin,
            tree=tree,
            last_hash=verified.last_hash,
            checkpoint=saved or _sign(signer, origin, tree),
            trusted_key_ids=[key_id_of(key) for key in trusted],
            events=verified.events,
        )
        if saved is None or saved.tree_size != tree.size or saved.key_id != signer.key_id:
            log._save(_sign(signer, origin, tree))
        return log

    def append(self, result: GateResult, *, namespaces: tuple[str, ...]) -> Appended:
        with self._lock:
            self._sync()
            record = record_gate_result(
                self.store, result, namespaces=namespaces, signer=self.signer
            )
            return self._joined(record)

    def append_event(self, fields: Mapping[str, Any], blobs: Mapping[str, bytes]) -> Appended:
        """Append a record that is not a gate decision, signed by the service, with its
        ``blobs``: a catalogue record (``bundle.*``, ``waiver.*``, kept at hand in
        :meth:`events`) or a
        deployment event a deployer reported (``deploy.*``)."""
        if not str(fields.get("kind", "")).startswith(EVENT_KIND_PREFIXES):
            raise ValueError(f"not a service event kind: {fields.get('kind')!r}")
        build = record_builder(
            {**fields, "decision_id": str(uuid.uuid4())},
            recorded_at=timestamp(datetime.now(UTC)),
            signer=self.signer,
        )
        with self._lock:
            self._sync()
            return self._joined(self.store.append(build, blobs))

    def events(self) -> list[LogEvent]:
        """The catalogue records, in log order, including those replicas appended."""
        with self._lock:
            self._sync()
            return list(self._events)

    def _joined(self, record: NewRecord) -> Appended:
        # Our record, and any a replica committed just before it, join the tree in the
        # database's order (the head lock gave each record its place).
        self._sync()
        index = record.seq - 1
        if not 0 <= index < self.tree.size or self.tree.leaves[index] != record_leaf(record.hash):
            raise LogMismatch(
                f"record #{record.seq} just written is not the one the database holds",
                path=self.store.location,
            )
        return Appended(record=record, log_index=index, checkpoint=self.checkpoint)

    def append_written(
        self, write: Callable[[LedgerStore, Signer], IncidentRecorded]
    ) -> tuple[IncidentRecorded, int]:
        """Append a non-decision record (an incident) with ``write(store, signer)``, signed
        with the service's key and ordered like a decision; (what was written, its index)."""
        with self._lock:
            self._sync()
            written = write(self.store, self.signer)
            record = written.record
            self._sync()
            index = record.seq - 1
            if not 0 <= index < self.tree.size or self.tree.leaves[index] != record_leaf(
                record.hash
            ):
                raise LogMismatch(
                    f"record #{record.seq} just written is not the one the database holds",
                    path=self.store.location,
                )
            return written, index

    def read(self, query: Callable[[LedgerStore], R]) -> R:
        """``query(store)`` on the current database (after catching up with replicas), under
        the lock appends take: the store's connection is shared."""
        with self._lock:
            self._sync()
            return query(self.store)

    def sync(self) -> Checkpoint:
        """Catch up with the database (records other replicas appended) and return the
        current checkpoint. Raises LogMismatch when the database is not a continuation of
        the log this process holds."""
        with self._lock:
            self._sync()
            return self.checkpoint

    def _sync(self) -> None:
        head = self.store.head()
        size = self.tree.size
        where = self.store.location
        if head is None or head.seq < size:
            raise LogMismatch(
                f"the ledger's head is at {head.seq if head else 0} records but the log holds "
                f"{size}: its tail was removed or an older copy restored",
                path=where,
            )
        if head.seq == size:
            if head.hash != self._last_hash:
                raise LogMismatch(
                    "the ledger's head changed under the service (someone else wrote the "
                    "database): refusing to append",
                    path=where,
                )
            return
        newer = [r for r in self.store.records(after_seq=size) if r.seq <= head.seq]
        verified = verify_chain(
            lambda: newer,
            head=head,
            trusted_keys=self._trusted,
            start_hash=self._last_hash,
            start_seq=size,
        )
        if verified.problem is not None or len(newer) != head.seq - size:
            problem = verified.problem.message if verified.problem else "records are missing"
            raise LogMismatch(
                f"a record written behind the service does not verify: {problem}", path=where
            )
        for record in newer:
            self.tree.append(record_leaf(record.hash))
            event = _catalogue_event(record)
            if event is not None:
                self._events.append(event)
        self._last_hash = newer[-1].hash
        self._save(_sign(self.signer, self.origin, self.tree))

    def find(self, decision_id: str) -> tuple[StoredRecord, int] | None:
        with self._lock:
            self._sync()
            record = self.store.find(decision_id)
        if record is None:
            return None
        index = record.seq - 1
        if not 0 <= index < self.tree.size or self.tree.leaves[index] != record_leaf(record.hash):
            raise LogMismatch(
                f"record #{record.seq} in the database is not the one the log holds",
                path=self.store.location,
            )
        return record, index

    def records(self, service: str | None) -> list[StoredRecord]:
        """Every record (of ``service``), in log order. The store's connection is shared with
        appends, so reads take the same lock."""
        with self._lock:
            self._sync()
            return list(self.store.records(service=service))

    def entries(self, start: int, limit: int) -> tuple[int, list[StoredRecord]]:
        """The tree size and up to ``limit`` records from log index ``start`` (auditors
        fetch the whole log page by page and check it themselves)."""
        with self._lock:
            self._sync()
            size = self.tree.size
            wanted = max(0, min(limit, size - start))
            return size, list(itertools.islice(self.store.records(after_seq=start), wanted))

    def inclusion(self, index: int) -> tuple[Checkpoint, list[bytes]]:
        """The current checkpoint and the proof of leaf ``index`` against it."""
        with self._lock:
            self._sync()
            checkpoint = self.checkpoint
            return checkpoint, self.tree.inclusion_proof(index, checkpoint.tree_size)

    def consistency(self, first: int, second: int) -> list[bytes]:
        with self._lock:
            self._sync()
            return self.tree.consistency_proof(first, second)

    def ready(self) -> bool:
        """The database answers and continues the log this process holds (records replicas
        appended verify)."""
        try:
            with self._lock:
                self._sync()
                return True
        except Exception:  # readiness is a yes/no answer, whatever the store raised
            return False

    def _save(self, checkpoint: Checkpoint) -> None:
        # Replicas may share one checkpoint file: one that lags never writes back a smaller
        # tree over a larger one (each is a prefix of the same log; the larger protects more).
        try:
            saved = read_checkpoint(self.checkpoint_path)
        except LedgerError:
            saved = None  # unreadable: replaced by a good one
        if saved is None or saved.tree_size <= checkpoint.tree_size:
            write_checkpoint(self.checkpoint_path, checkpoint)
        self.checkpoint = checkpoint


@dataclass(frozen=True)
class VerifiedLog:
    tree: MerkleTree
    checkpoint: Checkpoint | None
    last_hash: str
    events: tuple[LogEvent, ...] = ()


def verify_log(
    store: LedgerStore, trusted: Sequence[bytes], checkpoint_path: Path, *, origin: str
) -> VerifiedLog:
    """What start-up checks, usable with public keys only (``serve verify``): every record
    signed by a ``trusted`` key and the chain intact, and the checkpoint file, signed by a
    trusted key, describing a prefix of the tree. Raises LogMismatch naming what happened;
    returns the tree, the checkpoint (None for an empty log without one) and the last hash."""
    where = store.location
    key_ids = [key_id_of(key) for key in trusted]
    verified = verify_chain(store.records, head=store.head(), trusted_keys=key_ids)
    if verified.problem is not None:
        raise LogMismatch(
            f"the ledger does not verify against the service key: {verified.problem.message}",
            path=where,
        )
    hashes: list[str] = []
    events: list[LogEvent] = []
    for record in store.records():
        hashes.append(record.hash)
        event = _catalogue_event(record)
        if event is not None:
            events.append(event)
    tree = MerkleTree.of_records(hashes)
    saved = read_checkpoint(checkpoint_path)
    if saved is None:
        if hashes:
            raise LogMismatch(
                f"the ledger holds {len(hashes)} records but the checkpoint file "
                f"{checkpoint_path} is missing: refusing to vouch for an unchecked log",
                path=where,
            )
    else:
        _check_against(saved, tree, trusted, origin, where)
    return VerifiedLog(tree, saved, hashes[-1] if hashes else GENESIS_HASH, tuple(events))


def _sign(signer: Signer, origin: str, tree: MerkleTree) -> Checkpoint:
    return sign_checkpoint(
        signer,
        origin=origin,
        tree_size=tree.size,
        root_hash=tree.root(),
        timestamp=timestamp(datetime.now(UTC)),
    )


def _check_against(
    saved: Checkpoint, tree: MerkleTree, trusted: Sequence[bytes], origin: str, where: str
) -> None:
    if not any(checkpoint_valid(saved, key) for key in trusted):
        raise LogMismatch(
            f"the checkpoint file is not signed by this service's key ({key_id_of(trusted[0])})",
            path=where,
        )
    if saved.origin != origin:
        raise LogMismatch(
            f"the checkpoint file is of log {saved.origin!r}, not {origin!r}", path=where
        )
    if tree.size < saved.tree_size:
        raise LogMismatch(
            f"the ledger holds {tree.size} records but the last checkpoint has "
            f"{saved.tree_size}: its tail was removed or it was restored from an older backup",
            path=where,
        )
    if tree.root(saved.tree_size) != saved.root_hash:
        raise LogMismatch(
            f"the first {saved.tree_size} records no longer match the last checkpoint: a "
            "record was modified, removed, inserted or reordered",
            path=where,
        )


def proof_document(checkpoint: Checkpoint, index: int, hashes: list[bytes]) -> dict[str, Any]:
    return {
        "leaf_index": index,
        "tree_size": checkpoint.tree_size,
        "hashes": [h.hex() for h in hashes],
    }


def record_summary(record: StoredRecord, doc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "decision_id": record.decision_id,
        "log_index": record.seq - 1,
        "recorded_at": record.recorded_at,
        "outcome": doc.get("outcome"),
        "release": doc.get("release"),
        "bundle": doc.get("bundle"),
        "key_id": (doc.get("signer") or {}).get("key_id"),
    }


__all__ = ["DecisionLog", "LogEvent", "read_checkpoint", "verify_log", "write_checkpoint"]
