"""The compliance report: what was checked for each release in a period, and how it went.

``build_report`` reads the ledger once and returns a frozen :class:`ComplianceReport`:
releases and their decisions, pass rate per day, top failing policies, waivers used and those
expiring soon, and a control matrix (control -> policies -> evidence -> result per release).
It also verifies the whole chain, so the report says whether the record it is built from is
intact. Renderers (``report_render.py``) turn it into HTML, Markdown, JSON or CSV.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gatekeeper.ledger.chain import verify_chain
from gatekeeper.ledger.decisions import StoredDecision, stored_decisions
from gatekeeper.ledger.store import LedgerStore
from gatekeeper.model import Decision, Level, Outcome, Waiver

EXPIRING_SOON_DAYS = 14
REPORT_SCHEMA = "gatekeeper.compliance-report/v1"


@dataclass(frozen=True)
class EvidenceFile:
    kind: str
    path: str
    sha256: str


@dataclass(frozen=True)
class ReleaseRow:
    seq: int
    decision_id: str
    recorded_at: str
    service: str
    version: str
    environment: str
    artifact_digest: str
    outcome: str
    failures: int
    warnings: int
    waived: int
    rules: int
    failing_policies: tuple[str, ...]
    bundle_revision: str
    bundle_digest: str
    engine: str
    input_digest: str
    evidence: tuple[EvidenceFile, ...]
    signed_by: str


@dataclass(frozen=True)
class DayBucket:
    day: str
    total: int
    passed: int  # pass or warn
    failed: int

    @property
    def pass_rate(self) -> float:
        return 100.0 * self.passed / self.total if self.total else 0.0


@dataclass(frozen=True)
class PolicyFailures:
    policy: str
    title: str
    decisions: int  # decisions in which the policy had an active deny violation
    violations: int


@dataclass(frozen=True)
class WaiverUse:
    id: str
    policy: str
    subject: str
    reason: str
    approved_by: str
    expires: str
    uses: int
    expired: bool
    expiring_soon: bool


@dataclass(frozen=True)
class ControlRow:
    control: str
    title: str
    framework: str
    policies: tuple[str, ...]
    evidence_kinds: tuple[str, ...]
    results: tuple[str, ...]  # per release, aligned with ComplianceReport.releases

    def count(self, result: str) -> int:
        return sum(1 for r in self.results if r == result)


@dataclass(frozen=True)
class ChainStatus:
    intact: bool
    records: int
    head: str
    problem: str | None


@dataclass(frozen=True)
class ComplianceReport:
    period_from: str | None
    period_to: str | None
    service: str | None
    generated_at: str
    ledger: str
    chain: ChainStatus
    releases: tuple[ReleaseRow, ...]
    days: tuple[DayBucket, ...]
    top_failing: tuple[PolicyFailures, ...]
    waivers: tuple[WaiverUse, ...]
    controls: tuple[ControlRow, ...]

    @property
    def passed(self) -> int:
        return sum(1 for r in self.releases if r.outcome in ("pass", "warn"))

    @property
    def failed(self) -> int:
        return sum(1 for r in self.releases if r.outcome not in ("pass", "warn"))

    @property
    def pass_rate(self) -> float:
        return 100.0 * self.passed / len(self.releases) if self.releases else 0.0

    @property
    def expiring_waivers(self) -> tuple[WaiverUse, ...]:
        return tuple(w for w in self.waivers if w.expiring_soon)


# Control id -> (title, framework); ("", "") for an unknown id. The catalogue lives in policy/,
# above the ledger's reach: the caller (audit.compliance) passes a lookup.
ControlTitles = Callable[[str], tuple[str, str]]
# Waiver -> the first instant it no longer applies (gate/waivers.py decides, passed in likewise).
WaiverEnds = Callable[[Waiver], datetime]


def no_control_titles(control: str) -> tuple[str, str]:
    return ("", "")


def _release_row(stored: StoredDecision) -> ReleaseRow:
    decision = stored.decision
    release = decision.release
    signer = stored.document.get("signer") or {}
    return ReleaseRow(
        seq=stored.record.seq,
        decision_id=decision.decision_id,
        recorded_at=stored.record.recorded_at,
        service=release.service or "",
        version=release.version or "",
        environment=release.environment or "",
        artifact_digest=release.artifact_digest or "",
        outcome=decision.outcome.value,
        failures=decision.summary.failures,
        warnings=decision.summary.warnings,
        waived=decision.summary.waived,
        rules=decision.summary.rules,
        failing_policies=tuple(
            sorted({v.policy for v in decision.violations if v.level is Level.DENY})
        ),
        bundle_revision=decision.policy_bundle.revision,
        bundle_digest=decision.policy_bundle.digest,
        engine=f"{decision.engine.name} {decision.engine.version}",
        input_digest=decision.input_digest,
        evidence=tuple(EvidenceFile(i.kind, i.path, i.sha256) for i in decision.inputs),
        signed_by=str(signer.get("key_id", "")) if isinstance(signer, dict) else "",
    )


def _control_result(decision: Decision, control: str) -> str:
    rules = [r for r in decision.rules if control in r.controls]
    active = [v for v in decision.violations if control in v.controls]
    if any(v.level is Level.DENY for v in active):
        return "fail"
    if active:
        return "warn"
    # A control is satisfied only when every policy checking it judged something.
    if any(not r.assessed for r in rules):
        return "not assessed"
    if any(control in w.violation.controls for w in decision.waived):
        return "waived"
    return "pass" if rules else "n/a"


def _controls(
    decisions: list[StoredDecision], control_titles: ControlTitles
) -> tuple[ControlRow, ...]:
    policies: dict[str, set[str]] = defaultdict(set)
    kinds: dict[str, set[str]] = defaultdict(set)
    for stored in decisions:
        decision = stored.decision
        evidence = {i.kind for i in decision.inputs}
        for rule in decision.rules:
            for control in rule.controls:
                policies[control].add(rule.policy)
                kinds[control] |= evidence
    lookup = control_titles
    rows = []
    for control in sorted(policies):
        title, framework = lookup(control)
        rows.append(
            ControlRow(
                control=control,
                title=title,
                framework=framework,
                policies=tuple(sorted(policies[control])),
                evidence_kinds=tuple(sorted(kinds[control])),
                results=tuple(_control_result(s.decision, control) for s in decisions),
            )
        )
    return tuple(rows)


def _waivers(
    decisions: list[StoredDecision], now: datetime, expires_at: WaiverEnds
) -> tuple[WaiverUse, ...]:
    uses: Counter[str] = Counter()
    found: dict[str, Any] = {}
    for stored in decisions:
        for waived in stored.decision.waived:
            uses[waived.waiver.id] += 1
            found[waived.waiver.id] = waived.waiver
        for waiver in (*stored.decision.stale_waivers, *stored.decision.expired_waivers):
            found.setdefault(waiver.id, waiver)
    rows = []
    for waiver_id in sorted(found):
        waiver = found[waiver_id]
        ends = expires_at(waiver)
        rows.append(
            WaiverUse(
                id=waiver.id,
                policy=waiver.policy,
                subject=waiver.subject or waiver.vulnerability or waiver.path or "",
                reason=waiver.reason,
                approved_by=waiver.approved_by,
                expires=waiver.expires,
                uses=uses[waiver_id],
                expired=ends <= now,
                expiring_soon=now < ends <= now + timedelta(days=EXPIRING_SOON_DAYS),
            )
        )
    return tuple(rows)


def _top_failing(decisions: list[StoredDecision]) -> tuple[PolicyFailures, ...]:
    per_decision: Counter[str] = Counter()
    per_violation: Counter[str] = Counter()
    titles: dict[str, str] = {}
    for stored in decisions:
        denied = [v for v in stored.decision.violations if v.level is Level.DENY]
        for v in denied:
            per_violation[v.policy] += 1
            titles.setdefault(v.policy, v.title or "")
        for policy in {v.policy for v in denied}:
            per_decision[policy] += 1
    return tuple(
        PolicyFailures(policy, titles[policy], count, per_violation[policy])
        for policy, count in sorted(per_decision.items(), key=lambda kv: (-kv[1], kv[0]))
    )


def _days(rows: list[ReleaseRow]) -> tuple[DayBucket, ...]:
    totals: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    for row in rows:
        day = row.recorded_at[:10]
        totals[day] += 1
        if row.outcome in (Outcome.PASS.value, Outcome.WARN.value):
            passed[day] += 1
    return tuple(
        DayBucket(day, totals[day], passed[day], totals[day] - passed[day])
        for day in sorted(totals)
    )


def build_report(
    store: LedgerStore,
    *,
    start: str | None,
    end: str | None,
    service: str | None = None,
    now: datetime | None = None,
    waiver_ends: WaiverEnds,
    control_titles: ControlTitles = no_control_titles,
) -> ComplianceReport:
    moment = now or datetime.now(UTC)
    chain = verify_chain(store.records, head=store.head())
    decisions = list(stored_decisions(store.records(start=start, end=end, service=service)))
    rows = [_release_row(s) for s in decisions]
    return ComplianceReport(
        period_from=start,
        period_to=end,
        service=service,
        generated_at=moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ledger=store.location,
        chain=ChainStatus(
            intact=chain.ok,
            records=chain.count,
            head=chain.head_hash,
            problem=chain.problem.message if chain.problem else None,
        ),
        releases=tuple(rows),
        days=_days(rows),
        top_failing=_top_failing(decisions),
        waivers=_waivers(decisions, moment, waiver_ends),
        controls=_controls(decisions, control_titles),
    )
