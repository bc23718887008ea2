"""Reading the gate decisions a ledger holds: records, their decision documents and blobs.

The compliance views, the exports and the audit commands (replay, impact) read decisions
through these; judging them again is the business of :mod:`gatekeeper.audit`, above the gate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gatekeeper.errors import InputError
from gatekeeper.ledger.canonical import digest_of_text
from gatekeeper.ledger.store import LedgerError, LedgerStore, StoredRecord
from gatekeeper.model import Decision

# The ``kind`` of a record holding a gate decision; deployment records (``deploy.*``, see
# ledger/deployments.py) share the chain but hold no decision.
DECISION_RECORD_KIND = "gate.decision"


@dataclass(frozen=True)
class StoredDecision:
    record: StoredRecord
    document: dict[str, Any]
    decision: Decision


def load_stored_decision(record: StoredRecord, doc: dict[str, Any] | None = None) -> StoredDecision:
    doc = record.document() if doc is None else doc
    try:
        decision = Decision.model_validate(doc["decision"])
    except (KeyError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise LedgerError(
            f"record #{record.seq} ({record.decision_id}) holds no readable decision: {first}"
        ) from None
    return StoredDecision(record=record, document=doc, decision=decision)


def blob_text(store: LedgerStore, digest: str, what: str, tampered: list[str]) -> str:
    """The stored blob ``digest`` as text. A blob whose content no longer hashes to its digest
    is appended to ``tampered`` (and still returned, so the difference shows)."""
    content = store.blob(digest)
    if content is None:
        raise LedgerError(f"stored {what} {digest} is missing from the ledger")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise LedgerError(f"stored {what} {digest} is not UTF-8 text: it was altered") from None
    actual = digest_of_text(text)
    if actual != digest:
        tampered.append(f"stored {what} {digest} was altered: its content now hashes to {actual}")
    return text


def recorded_namespaces(doc: dict[str, Any]) -> tuple[str, ...]:
    value = doc.get("namespaces") or []
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def find_decision(store: LedgerStore, decision_id: str) -> StoredDecision:
    record = store.find(decision_id)
    if record is None:
        raise InputError(f"no decision {decision_id!r} in the ledger", path=store.location)
    return load_stored_decision(record)


def _release_identity(doc: dict[str, Any], decision_id: str) -> tuple[str, ...]:
    release = doc.get("release") or {}
    if not release.get("service"):
        return (decision_id,)
    return tuple(
        str(release.get(k) or "") for k in ("service", "version", "environment", "artifact_digest")
    )


def stored_decisions(records: Iterable[StoredRecord]) -> Iterator[StoredDecision]:
    """The gate decisions among ``records`` (deployment records are skipped)."""
    for record in records:
        doc = record.document()
        if doc.get("kind", DECISION_RECORD_KIND) == DECISION_RECORD_KIND:
            yield load_stored_decision(record, doc)


def latest_per_release(records: Iterable[StoredRecord]) -> list[StoredDecision]:
    """The newest decision of each release (service, version, environment, artifact)."""
    latest: dict[tuple[str, ...], StoredDecision] = {}
    for stored in stored_decisions(records):
        record = stored.record
        latest[_release_identity(stored.document, record.decision_id)] = stored
    return sorted(latest.values(), key=lambda s: s.record.seq)
