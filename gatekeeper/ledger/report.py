"""The compliance report: what was checked for each release in a period, and how it went.

``build_report`` streams the period's records once (plain JSON, one row kept per decision,
no decision models) and returns a frozen :class:`ComplianceReport`:
releases and their decisions, pass rate per day, top failing policies, waivers used and those
expiring soon, and a control matrix (control -> policies -> evidence -> result per release).
It also verifies the whole chain, so the report says whether the record it is built from is
intact. Renderers (``report_render.py``) turn it into HTML, Markdown, JSON or CSV.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gatekeeper.ledger.chain import VerifyResult, verify_chain
from gatekeeper.ledger.decisions import DECISION_RECORD_KIND, load_stored_decision
from gatekeeper.ledger.store import LedgerStore, StoredRecord
from gatekeeper.ledger.verified import VerifiedPrefix
from gatekeeper.model import Decision, Level, Outcome, Waiver

EXPIRING_SOON_DAYS = 14
REPORT_SCHEMA = "gatekeeper.compliance-report/v1"


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    kind: str
    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
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


# What a release's result for a control can be (the control matrix's columns).
CONTROL_RESULTS = ("pass", "fail", "warn", "waived", "not assessed", "n/a")


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

    def counts(self) -> dict[str, int]:
        """Releases per result (every result named, 0 when none), in one pass."""
        found = dict.fromkeys(CONTROL_RESULTS, 0)
        for result in self.results:
            found[result] = found.get(result, 0) + 1
        return found

    def satisfied_rate(self) -> float | None:
        """Share of the releases it was judged on (n/a left out) that satisfied it: passed
        or waived. Not assessed counts against it, never as satisfied. None: never judged."""
        counts = self.counts()
        judged = sum(n for result, n in counts.items() if result != "n/a")
        return None if judged == 0 else 100 * (counts["pass"] + counts["waived"]) / judged


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


# One pass over the period's records, each reduced at once to what the report shows: the
# decision documents are read as plain JSON (no models built per decision) and dropped, so
# memory holds one row per decision and one short result per control and decision.
_LEVELS = frozenset(level.value for level in Level)
_OUTCOMES = frozenset(outcome.value for outcome in Outcome)
_NOT_APPLICABLE = "n/a"
_MEMO = 10_000


def _text(value: Any) -> str:
    return sys.intern(str(value)) if value else ""


# A control's result for a decision is the strongest of what touched it: an active deny, an
# active warning, a policy checking it that had nothing to judge, a waived violation, a policy
# that checked it and passed (ranked 5 … 1).
_DENY = Level.DENY.value
_BY_RANK = (_NOT_APPLICABLE, "pass", "waived", "not assessed", "warn", "fail")


def _plain_control_results(decision: Mapping[str, Any]) -> dict[str, str]:
    """Control -> result for every control this decision touches (any other: "n/a").

    As judged before from the models: fail on an active deny, warn on an active warning,
    "not assessed" when a policy checking it had nothing to judge, "waived" when a waived
    violation carried it, else pass (the control's policies ran). One pass over the rules,
    waived and active violations, keeping the strongest result per control."""
    rank: dict[str, int] = {}
    get = rank.get
    for item in decision["rules"]:
        level = 1 if item.get("assessed", True) else 3
        for control in item["controls"]:
            if get(control, 0) < level:
                rank[control] = level
    for item in decision["waived"]:
        for control in item["violation"]["controls"]:
            if get(control, 0) < 2:
                rank[control] = 2
    for item in decision["violations"]:
        level = 5 if item["level"] == _DENY else 4
        for control in item["controls"]:
            if get(control, 0) < level:
                rank[control] = level
    return {control: _BY_RANK[level] for control, level in rank.items()}


def _control_result(decision: Decision, control: str) -> str:
    """One control's result for one decision model (the same judgement as the report's)."""
    return _plain_control_results(decision.to_document()).get(control, _NOT_APPLICABLE)


@dataclass
class _Tally:
    """What the report keeps while it streams the period's decisions."""

    rows: list[ReleaseRow] = field(default_factory=list)
    control_policies: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    control_kinds: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    control_results: dict[str, list[str]] = field(default_factory=dict)
    failing_decisions: Counter[str] = field(default_factory=Counter)
    failing_violations: Counter[str] = field(default_factory=Counter)
    policy_titles: dict[str, str] = field(default_factory=dict)
    waiver_uses: Counter[str] = field(default_factory=Counter)
    waivers: dict[str, dict[str, Any]] = field(default_factory=dict)
    _evidence_memo: dict[tuple[Any, ...], tuple[tuple[EvidenceFile, ...], frozenset[str]]] = field(
        default_factory=dict
    )

    def add(self, record: StoredRecord, doc: dict[str, Any]) -> None:
        decision = doc.get("decision")
        try:
            self._add(record, doc, decision)
        except (KeyError, TypeError, AttributeError, ValueError):
            # Not the shape the recorder writes: validate it as a Decision (a LedgerError
            # naming the record when it is not one) and read the validated document.
            validated = load_stored_decision(record, doc).decision.to_document()
            self._add(record, doc, validated)

    def _add(self, record: StoredRecord, doc: dict[str, Any], decision: Any) -> None:
        release = decision["release"]
        summary = decision["summary"]
        violations = decision["violations"]
        outcome = decision["outcome"]
        if outcome not in _OUTCOMES:
            raise ValueError("not a recorded decision")
        denied = []
        for v in violations:
            level = v["level"]
            if level == _DENY:
                denied.append(v)
            elif level not in _LEVELS:
                raise ValueError("not a recorded decision")
        evidence, kinds = self._evidence(decision["inputs"])
        results = _plain_control_results(decision)
        signer = doc.get("signer") or {}
        bundle = decision["policy_bundle"]
        engine = decision["engine"]
        row = ReleaseRow(
            seq=record.seq,
            decision_id=str(decision["decision_id"]),
            recorded_at=record.recorded_at,
            service=_text(release.get("service")),
            version=_text(release.get("version")),
            environment=_text(release.get("environment")),
            artifact_digest=_text(release.get("artifact_digest")),
            outcome=sys.intern(str(outcome)),
            failures=int(summary["failures"]),
            warnings=int(summary["warnings"]),
            waived=int(summary["waived"]),
            rules=int(summary["rules"]),
            failing_policies=tuple(sorted({_text(v["policy"]) for v in denied})),
            bundle_revision=_text(bundle["revision"]),
            bundle_digest=_text(bundle["digest"]),
            engine=_text(f"{engine['name']} {engine['version']}"),
            input_digest=str(decision["input_digest"]),
            evidence=evidence,
            signed_by=_text(signer.get("key_id", "")) if isinstance(signer, dict) else "",
        )
        # Everything read: only now change the tally (a fallback re-reads the record).
        index = len(self.rows)
        self.rows.append(row)
        control_policies = self.control_policies
        control_kinds = self.control_kinds
        for rule in decision["rules"]:
            policy = None
            for control in rule["controls"]:
                if policy is None:
                    policy = _text(rule["policy"])
                control_policies[control].add(policy)
                known = control_kinds[control]
                if not kinds <= known:
                    known |= kinds
        columns = self.control_results
        for control in results:
            if control not in columns:
                columns[control] = [_NOT_APPLICABLE] * index
        for control, column in columns.items():
            column.append(results.get(control, _NOT_APPLICABLE))
        for v in denied:
            self.failing_violations[v["policy"]] += 1
            self.policy_titles.setdefault(v["policy"], v.get("title") or "")
        for policy in {v["policy"] for v in denied}:
            self.failing_decisions[policy] += 1
        for waived in decision["waived"]:
            waiver = waived["waiver"]
            self.waiver_uses[waiver["id"]] += 1
            self.waivers[waiver["id"]] = waiver
        for waiver in (*decision["stale_waivers"], *decision["expired_waivers"]):
            self.waivers.setdefault(waiver["id"], waiver)

    def _evidence(self, inputs: list[Any]) -> tuple[tuple[EvidenceFile, ...], frozenset[str]]:
        """The evidence files of a decision and their kinds: the same files recur on many
        decisions (one shared tuple each, kept while fewer than _MEMO are known)."""
        key = tuple((i["kind"], i["path"], i["sha256"]) for i in inputs)
        found = self._evidence_memo.get(key)
        if found is None:
            files = tuple(EvidenceFile(_text(k), _text(p), str(h)) for k, p, h in key)
            found = (files, frozenset(f.kind for f in files))
            if len(self._evidence_memo) < _MEMO:
                self._evidence_memo[key] = found
        return found

    def controls(self, control_titles: ControlTitles) -> tuple[ControlRow, ...]:
        rows = []
        for control in sorted(self.control_policies):
            title, framework = control_titles(control)
            column = self.control_results.get(control)
            results = tuple(column) if column is not None else (_NOT_APPLICABLE,) * len(self.rows)
            rows.append(
                ControlRow(
                    control=control,
                    title=title,
                    framework=framework,
                    policies=tuple(sorted(self.control_policies[control])),
                    evidence_kinds=tuple(sorted(self.control_kinds[control])),
                    results=results,
                )
            )
        return tuple(rows)

    def top_failing(self) -> tuple[PolicyFailures, ...]:
        return tuple(
            PolicyFailures(
                policy, self.policy_titles[policy], count, self.failing_violations[policy]
            )
            for policy, count in sorted(
                self.failing_decisions.items(), key=lambda kv: (-kv[1], kv[0])
            )
        )

    def waiver_rows(self, now: datetime, expires_at: WaiverEnds) -> tuple[WaiverUse, ...]:
        rows = []
        for waiver_id in sorted(self.waivers):
            waiver = Waiver.model_validate(self.waivers[waiver_id])  # a handful, not per use
            ends = expires_at(waiver)
            rows.append(
                WaiverUse(
                    id=waiver.id,
                    policy=waiver.policy,
                    subject=waiver.subject or waiver.vulnerability or waiver.path or "",
                    reason=waiver.reason,
                    approved_by=waiver.approved_by,
                    expires=waiver.expires,
                    uses=self.waiver_uses[waiver_id],
                    expired=ends <= now,
                    expiring_soon=now < ends <= now + timedelta(days=EXPIRING_SOON_DAYS),
                )
            )
        return tuple(rows)


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
    parallel: bool = False,
    prefix: VerifiedPrefix | None = None,
    on_chain: Callable[[VerifyResult], None] | None = None,
) -> ComplianceReport:
    """``prefix``: what an earlier verify checked (its signatures are not checked again);
    ``on_chain``: called with the chain check's result (the CLI keeps the new prefix)."""
    moment = now or datetime.now(UTC)
    tally = _Tally()

    def wanted(record: StoredRecord) -> bool:
        # The same filter as the store's query (ISO timestamps compare as text).
        return (
            (start is None or record.recorded_at >= start)
            and (end is None or record.recorded_at < end)
            and (service is None or record.service == service)
        )

    def in_period(record: StoredRecord, doc: dict[str, Any]) -> None:
        if wanted(record) and doc.get("kind", DECISION_RECORD_KIND) == DECISION_RECORD_KIND:
            tally.add(record, doc)

    # One pass: the chain check parses every record, the report reads the period's from it.
    chain = verify_chain(
        store.records,
        head=store.head(),
        visit=in_period,
        parallel=parallel,
        prefix=prefix,
        wanted=wanted,
        records_after=lambda seq: store.records(after_seq=seq),
    )
    if on_chain is not None:
        on_chain(chain)
    if not chain.ok:
        # The walk stopped at the problem; the report still lists the whole period.
        tally = _Tally()
        for record in store.records(start=start, end=end, service=service):
            doc = record.document()
            if doc.get("kind", DECISION_RECORD_KIND) == DECISION_RECORD_KIND:
                tally.add(record, doc)
    rows = tally.rows
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
        top_failing=tally.top_failing(),
        waivers=tally.waiver_rows(moment, waiver_ends),
        controls=tally.controls(control_titles),
    )
