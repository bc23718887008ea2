"""Replay: re-evaluate a recorded decision from its stored input and bundle.

``replay_decision`` answers "can I reproduce this decision?": it reads the stored normalized
input and bundle snapshot (checking both against their digests — a changed blob is reported as
tampering, and still evaluated so the difference shows), evaluates them with the recorded engine,
applies the waivers the decision recorded at the time it was made, and compares outcome and
violations (policy, rule, subject, message, level).

``impact`` answers "what would this policy change do?": the same, with a candidate bundle
instead of the recorded one, over the latest decision of each release in a period.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from gatekeeper.errors import InputError
from gatekeeper.gate.evaluate import evaluate_rules, select_rules
from gatekeeper.gate.run import decide_outcome
from gatekeeper.gate.waivers import apply_waivers
from gatekeeper.ledger.canonical import digest_of_text
from gatekeeper.ledger.snapshot import restore_bundle
from gatekeeper.ledger.store import LedgerError, LedgerStore, StoredRecord
from gatekeeper.model import Decision, Level, Outcome, Violation, Waiver
from gatekeeper.policy.bundle import PolicyBundle
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S
from gatekeeper.policy.engines.registry import get_engine

# What makes two violations "the same" for an auditor.
ViolationKey = tuple[str, str, str, str, str]


def violation_key(v: Violation) -> ViolationKey:
    return (v.policy, v.rule, v.subject or "", v.message, v.level.value)


@dataclass(frozen=True)
class Evaluated:
    outcome: Outcome
    violations: tuple[ViolationKey, ...]
    waived: tuple[ViolationKey, ...]


@dataclass(frozen=True)
class Comparison:
    recorded: Evaluated
    replayed: Evaluated
    added: tuple[ViolationKey, ...]  # in the replay, not in the record
    removed: tuple[ViolationKey, ...]  # in the record, not in the replay
    waived_added: tuple[ViolationKey, ...]
    waived_removed: tuple[ViolationKey, ...]

    @property
    def identical(self) -> bool:
        return (
            self.recorded.outcome is self.replayed.outcome
            and not self.added
            and not self.removed
            and not self.waived_added
            and not self.waived_removed
        )


@dataclass(frozen=True)
class ReplayResult:
    decision_id: str
    seq: int
    release: dict[str, Any]
    engine: str
    recorded_engine_version: str
    engine_version: str
    comparison: Comparison
    tampered: tuple[str, ...]  # one line per stored blob whose content no longer matches

    @property
    def identical(self) -> bool:
        return self.comparison.identical and not self.tampered


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


def _blob_text(store: LedgerStore, digest: str, what: str, tampered: list[str]) -> str:
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


def _recorded_waivers(decision: Decision) -> tuple[Waiver, ...]:
    """Every waiver the run had: applied ones, stale ones and expired ones (by id, once)."""
    found: dict[str, Waiver] = {}
    for waiver in (
        *(w.waiver for w in decision.waived),
        *decision.stale_waivers,
        *decision.expired_waivers,
    ):
        found.setdefault(waiver.id, waiver)
    return tuple(found.values())


def _recorded(decision: Decision) -> Evaluated:
    return Evaluated(
        outcome=decision.outcome,
        violations=tuple(sorted(violation_key(v) for v in decision.violations)),
        waived=tuple(sorted(violation_key(w.violation) for w in decision.waived)),
    )


def evaluate_stored(
    stored: StoredDecision,
    bundle: PolicyBundle,
    input_json: str,
    *,
    engine_name: str,
    namespaces: Sequence[str],
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Evaluated:
    """Judge ``input_json`` with ``bundle`` the way the recorded run did (its waivers, its
    time, its fail-on level). Engine and policy errors propagate (exit 3), never a result."""
    decision = stored.decision
    engine = get_engine(engine_name)
    rules = select_rules(bundle, namespaces)
    evaluation = evaluate_rules(bundle, engine, rules, input_json, timeout=timeout)
    now = datetime.fromisoformat(decision.created_at.replace("Z", "+00:00"))
    waived = apply_waivers(evaluation.violations, _recorded_waivers(decision), now=now)
    failures = sum(1 for v in waived.active if v.level is Level.DENY)
    warnings = sum(1 for v in waived.active if v.level is Level.WARN)
    return Evaluated(
        outcome=decide_outcome(failures, warnings, decision.fail_on),
        violations=tuple(sorted(violation_key(v) for v in waived.active)),
        waived=tuple(sorted(violation_key(w.violation) for w in waived.waived)),
    )


def _difference(
    left: Iterable[ViolationKey], right: Iterable[ViolationKey]
) -> tuple[ViolationKey, ...]:
    """Multiset difference: a violation reported twice and replayed once is a difference."""
    return tuple(sorted((Counter(left) - Counter(right)).elements()))


def compare(recorded: Evaluated, replayed: Evaluated) -> Comparison:
    return Comparison(
        recorded=recorded,
        replayed=replayed,
        added=_difference(replayed.violations, recorded.violations),
        removed=_difference(recorded.violations, replayed.violations),
        waived_added=_difference(replayed.waived, recorded.waived),
        waived_removed=_difference(recorded.waived, replayed.waived),
    )


def _namespaces(doc: dict[str, Any]) -> tuple[str, ...]:
    value = doc.get("namespaces") or []
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def find_decision(store: LedgerStore, decision_id: str) -> StoredDecision:
    record = store.find(decision_id)
    if record is None:
        raise InputError(f"no decision {decision_id!r} in the ledger", path=store.location)
    return load_stored_decision(record)


def replay_decision(
    store: LedgerStore, decision_id: str, *, timeout: float = DEFAULT_TIMEOUT_S
) -> ReplayResult:
    stored = find_decision(store, decision_id)
    doc = stored.document
    tampered: list[str] = []
    bundle_info = doc.get("bundle") or {}
    snapshot_digest = str(bundle_info.get("snapshot", ""))
    input_json = _blob_text(store, stored.decision.input_digest, "input", tampered)
    bundle = restore_bundle(
        _blob_text(store, snapshot_digest, "policy bundle", tampered), digest=snapshot_digest
    )
    engine_name = stored.decision.engine.name
    replayed = evaluate_stored(
        stored,
        bundle,
        input_json,
        engine_name=engine_name,
        namespaces=_namespaces(doc),
        timeout=timeout,
    )
    return ReplayResult(
        decision_id=stored.decision.decision_id,
        seq=stored.record.seq,
        release=dict(doc.get("release") or {}),
        engine=engine_name,
        recorded_engine_version=stored.decision.engine.version,
        engine_version=get_engine(engine_name).version(),
        comparison=compare(_recorded(stored.decision), replayed),
        tampered=tuple(tampered),
    )


# ---------------------------------------------------------------------------------------------
# Impact of a candidate bundle
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImpactEntry:
    decision_id: str
    recorded_at: str
    release: dict[str, Any]
    comparison: Comparison

    @property
    def change(self) -> str:
        before = self.comparison.recorded.outcome
        after = self.comparison.replayed.outcome
        if before is not Outcome.FAIL and after is Outcome.FAIL:
            return "new failure"
        if before is Outcome.FAIL and after is not Outcome.FAIL:
            return "fixed failure"
        if before is not after:
            return "outcome changed"
        if not self.comparison.identical:
            return "violations changed"
        return "unchanged"


@dataclass(frozen=True)
class ImpactResult:
    candidate: str
    candidate_digest: str
    examined: int
    entries: tuple[ImpactEntry, ...]  # changed decisions only
    skipped: tuple[str, ...]  # one line per decision that could not be replayed

    @property
    def new_failures(self) -> tuple[ImpactEntry, ...]:
        return tuple(e for e in self.entries if e.change == "new failure")

    @property
    def fixed_failures(self) -> tuple[ImpactEntry, ...]:
        return tuple(e for e in self.entries if e.change == "fixed failure")


def _release_identity(doc: dict[str, Any], decision_id: str) -> tuple[str, ...]:
    release = doc.get("release") or {}
    if not release.get("service"):
        return (decision_id,)
    return tuple(
        str(release.get(k) or "") for k in ("service", "version", "environment", "artifact_digest")
    )


def stored_decisions(records: Iterable[StoredRecord]) -> Iterator[StoredDecision]:
    """The gate decisions among ``records``: deployment records (``kind: deploy.*``, see
    ledger/deployments.py) share the chain but hold no decision."""
    for record in records:
        doc = record.document()
        if doc.get("kind", "gate.decision") == "gate.decision":
            yield load_stored_decision(record, doc)


def latest_per_release(records: Iterable[StoredRecord]) -> list[StoredDecision]:
    """The newest decision of each release (service, version, environment, artifact)."""
    latest: dict[tuple[str, ...], StoredDecision] = {}
    for stored in stored_decisions(records):
        record = stored.record
        latest[_release_identity(stored.document, record.decision_id)] = stored
    return sorted(latest.values(), key=lambda s: s.record.seq)


def impact(
    store: LedgerStore,
    candidate: PolicyBundle,
    *,
    since: str | None,
    service: str | None = None,
    engine: str | None = None,
    every_decision: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> ImpactResult:
    records = store.records(start=since, service=service)
    decisions = list(stored_decisions(records)) if every_decision else latest_per_release(records)
    entries: list[ImpactEntry] = []
    skipped: list[str] = []
    for stored in decisions:
        tampered: list[str] = []
        input_json = _blob_text(store, stored.decision.input_digest, "input", tampered)
        if tampered:
            skipped.append(f"{stored.decision.decision_id}: {tampered[0]}")
            continue
        replayed = evaluate_stored(
            stored,
            candidate,
            input_json,
            engine_name=engine or stored.decision.engine.name,
            namespaces=_namespaces(stored.document),
            timeout=timeout,
        )
        entry = ImpactEntry(
            decision_id=stored.decision.decision_id,
            recorded_at=stored.record.recorded_at,
            release=dict(stored.document.get("release") or {}),
            comparison=compare(_recorded(stored.decision), replayed),
        )
        if entry.change != "unchanged":
            entries.append(entry)
    return ImpactResult(
        candidate=", ".join(candidate.sources),
        candidate_digest=candidate.digest,
        examined=len(decisions),
        entries=tuple(entries),
        skipped=tuple(skipped),
    )


def comparison_document(comparison: Comparison) -> dict[str, Any]:
    def rows(keys: Iterable[ViolationKey]) -> list[dict[str, str]]:
        return [
            {"policy": p, "rule": r, "subject": s, "message": m, "level": lv}
            for p, r, s, m, lv in keys
        ]

    return {
        "identical": comparison.identical,
        "recorded_outcome": comparison.recorded.outcome.value,
        "replayed_outcome": comparison.replayed.outcome.value,
        "added": rows(comparison.added),
        "removed": rows(comparison.removed),
        "waived_added": rows(comparison.waived_added),
        "waived_removed": rows(comparison.waived_removed),
    }


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False)
