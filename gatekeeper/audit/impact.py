"""Impact: what would this policy change do? Judge recorded releases with a candidate bundle.

The latest decision of each release in a period (or every decision) is judged again from its
stored input with the candidate instead of the recorded bundle, the way the recorded run did
(its waivers, time and fail-on level), and compared with the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gatekeeper.audit.replay import Comparison, compare, evaluate_stored, evaluated
from gatekeeper.ledger.decisions import (
    blob_text,
    latest_per_release,
    recorded_namespaces,
    stored_decisions,
)
from gatekeeper.ledger.store import LedgerStore
from gatekeeper.model import Outcome
from gatekeeper.policy.bundle import PolicyBundle
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S


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
        input_json = blob_text(store, stored.decision.input_digest, "input", tampered)
        if tampered:
            skipped.append(f"{stored.decision.decision_id}: {tampered[0]}")
            continue
        replayed = evaluate_stored(
            stored,
            candidate,
            input_json,
            engine_name=engine or stored.decision.engine.name,
            namespaces=recorded_namespaces(stored.document),
            timeout=timeout,
        )
        entry = ImpactEntry(
            decision_id=stored.decision.decision_id,
            recorded_at=stored.record.recorded_at,
            release=dict(stored.document.get("release") or {}),
            comparison=compare(evaluated(stored.decision), replayed),
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
