"""Replay: re-evaluate a recorded decision from its stored input and bundle.

``replay_decision`` answers "can I reproduce this decision?": it reads the stored normalized
input and bundle snapshot (checking both against their digests — a changed blob is reported as
tampering, and still evaluated so the difference shows), evaluates them with the recorded engine,
applies the waivers the decision recorded at the time it was made, and compares outcome and
violations (policy, rule, subject, message, level).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gatekeeper.audit.snapshot import restore_bundle
from gatekeeper.gate.decide import DecideOptions, decide
from gatekeeper.ledger.decisions import (
    StoredDecision,
    blob_text,
    find_decision,
    recorded_namespaces,
)
from gatekeeper.ledger.store import LedgerStore
from gatekeeper.model import Decision, Outcome, Violation, Waiver
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


def evaluated(decision: Decision) -> Evaluated:
    """What an auditor compares of a decision: outcome, active and waived violations."""
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
    recorded = stored.decision
    now = datetime.fromisoformat(recorded.created_at.replace("Z", "+00:00"))
    decision = decide(
        input_json,
        bundle,
        _recorded_waivers(recorded),
        DecideOptions(
            engine=engine_name,
            namespaces=tuple(namespaces),
            fail_on=recorded.fail_on,
            timeout=timeout,
            now=now,
            required_evidence=recorded.required_evidence,
        ),
        release=recorded.release,
        present_evidence=_recorded_evidence_kinds(input_json),
    )
    return evaluated(decision)


def _recorded_evidence_kinds(input_json: str) -> tuple[str, ...] | None:
    """The evidence kinds the recorded input held (None for inputs recorded before the field
    existed: then no rule is marked not assessed, as when they were recorded)."""
    try:
        kinds = json.loads(input_json).get("evidence_kinds")
    except (ValueError, AttributeError):
        return None
    return tuple(str(k) for k in kinds) if isinstance(kinds, list) else None


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


def replay_decision(
    store: LedgerStore, decision_id: str, *, timeout: float = DEFAULT_TIMEOUT_S
) -> ReplayResult:
    stored = find_decision(store, decision_id)
    doc = stored.document
    tampered: list[str] = []
    bundle_info = doc.get("bundle") or {}
    snapshot_digest = str(bundle_info.get("snapshot", ""))
    input_json = blob_text(store, stored.decision.input_digest, "input", tampered)
    bundle = restore_bundle(
        blob_text(store, snapshot_digest, "policy bundle", tampered), digest=snapshot_digest
    )
    engine_name = stored.decision.engine.name
    replayed = evaluate_stored(
        stored,
        bundle,
        input_json,
        engine_name=engine_name,
        namespaces=recorded_namespaces(doc),
        timeout=timeout,
    )
    return ReplayResult(
        decision_id=stored.decision.decision_id,
        seq=stored.record.seq,
        release=dict(doc.get("release") or {}),
        engine=engine_name,
        recorded_engine_version=stored.decision.engine.version,
        engine_version=get_engine(engine_name).version(),
        comparison=compare(evaluated(stored.decision), replayed),
        tampered=tuple(tampered),
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
