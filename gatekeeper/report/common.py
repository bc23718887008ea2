"""What every renderer needs to say the same thing the same way.

Ordering, wording of the status and summary, the "what to change" text and where a violation
points in the source tree live here once, so the terminal table, the PR comment, SARIF and the
workflow annotations never disagree about a decision.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from gatekeeper.model import (
    BundleInfo,
    Decision,
    Level,
    Outcome,
    Release,
    RuleResult,
    Severity,
    Violation,
)

# The documented verdict words; reports never use emoji so they read the same in logs.
STATUS_LABEL: dict[Outcome, str] = {
    Outcome.PASS: "PASS",
    Outcome.WARN: "WARN",
    Outcome.FAIL: "FAIL",
    Outcome.ERROR: "ERROR",
}

_LEVEL_ORDER: dict[Level, int] = {Level.DENY: 0, Level.WARN: 1}

# "src/app.py:42" — a finding's subject. Purls ("pkg:npm/x@1") and ids ("CVE-2024-1") are not.
_FILE_LINE = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>[1-9]\d*)$")


def status_label(outcome: Outcome) -> str:
    return STATUS_LABEL[outcome]


def violation_sort_key(v: Violation) -> tuple[int, int, str, str, str]:
    """Failures before warnings, then the most severe first, then a stable textual order."""
    return (_LEVEL_ORDER[v.level], -v.severity.rank, v.policy, v.subject or "", v.message)


def sort_violations(violations: Iterable[Violation]) -> list[Violation]:
    return sorted(violations, key=violation_sort_key)


def fix_text(violation: Violation) -> str:
    """What the developer should change; never empty, so every report tells them something."""
    if violation.remediation and violation.remediation.strip():
        return violation.remediation.strip()
    return (
        f"policy {violation.policy} gives no remediation: ask its owners, or see package "
        f"{violation.package}"
    )


def is_failing(violation: Violation, fail_on: Level) -> bool:
    """Whether this violation fails the gate under the decision's ``fail_on`` threshold."""
    return violation.level == Level.DENY or fail_on == Level.WARN


def plural(count: int, word: str) -> str:
    """conftest's counting words: "1 failure", "2 failures"."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary_line(decision: Decision) -> str:
    """conftest-style counts: "12 rules, 9 passed, 2 warnings, 1 failure, 1 waived"."""
    s = decision.summary
    text = (
        f"{plural(s.rules, 'rule')}, {s.passed} passed, {plural(s.warnings, 'warning')}, "
        f"{plural(s.failures, 'failure')}, {s.waived} waived"
    )
    if s.exceptions:
        text += f", {plural(s.exceptions, 'exception')}"
    if s.not_assessed:
        text += f", {s.not_assessed} not assessed (evidence missing)"
    return text


def bundle_label(bundle: BundleInfo) -> str:
    """The bundle's revision, with its digest when the revision is not already the digest."""
    short = bundle.digest[:19]
    return (
        bundle.revision
        if bundle.revision.startswith(short[:12])
        else f"{bundle.revision} ({short})"
    )


def release_identity(release: Release, *, short: bool = False) -> str:
    """One line naming what was judged, from whatever identity the release carries.

    ``short`` abbreviates the artifact digest for terminals; documents keep it whole.
    """
    name = release.service or "release"
    if release.version:
        name = f"{name} {release.version}"
    details: list[str] = []
    if release.environment:
        details.append(f"to {release.environment}")
    if release.commit:
        details.append(f"commit {release.commit[:12]}")
    if release.artifact_digest:
        digest = release.artifact_digest
        details.append(digest[: digest.find(":") + 13] if short and ":" in digest else digest)
    return f"{name} ({', '.join(details)})" if details else name


def one_line(text: str) -> str:
    """Collapse whitespace (newlines included) for places that must stay on one line."""
    return " ".join(text.split())


@dataclass(frozen=True)
class SourceLocation:
    """Where a violation points: the finding itself, the evidence file, or the policy source."""

    path: str
    line: int | None
    kind: str  # "finding" | "declared" | "evidence" | "policy" | "none"


def _as_line(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit():
        number = int(value)
        return number if number > 0 else None
    return None


def _evidence_sources(violation: Violation) -> list[str]:
    """Evidence file names the policy attached to the violation (source/sources/file keys)."""
    found: list[str] = []
    for key in ("source", "file", "evidence_file"):
        value = violation.evidence.get(key)
        if isinstance(value, str) and value:
            found.append(value)
    sources = violation.evidence.get("sources")
    if isinstance(sources, list | tuple):
        found.extend(s for s in sources if isinstance(s, str) and s)
    return found


def violation_location(decision: Decision, violation: Violation) -> SourceLocation:
    """The most precise place a violation can be shown at.

    Order: the finding's own ``file:line`` subject or ``path``/``line`` evidence; the evidence
    file (one of ``decision.inputs``) the violation came from; the single evidence file when
    there is only one; the policy's source file and line. Code scanning needs at least one.
    """
    subject = violation.subject or ""
    if not subject.startswith("pkg:"):
        match = _FILE_LINE.match(subject)
        if match:
            return SourceLocation(match["path"], int(match["line"]), "finding")
    path = violation.evidence.get("path")
    if isinstance(path, str) and path:
        return SourceLocation(path, _as_line(violation.evidence.get("line")), "finding")
    if violation.declared_in is not None:  # a committed manifest, or the release file
        return SourceLocation(violation.declared_in.file, violation.declared_in.line, "declared")

    input_paths = [ref.path for ref in decision.inputs]
    for source in _evidence_sources(violation):
        if source in input_paths:
            return SourceLocation(source, None, "evidence")
    if len(input_paths) == 1:
        return SourceLocation(input_paths[0], None, "evidence")

    if violation.location is not None:
        return SourceLocation(violation.location.file, violation.location.line, "policy")
    if decision.policy_bundle.sources:
        return SourceLocation(decision.policy_bundle.sources[0], None, "policy")
    return SourceLocation("", None, "none")


def violation_fingerprint(violation: Violation) -> str:
    """Stable identity of a violation across runs: what rule, about what, from which package.

    Deliberately leaves out the message text (it may embed versions or counts that change) and
    line numbers (they move when unrelated code changes).
    """
    parts = (
        violation.policy,
        violation.package,
        violation.rule,
        violation.subject or one_line(violation.message),
    )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def highest_severity(severities: Iterable[Severity]) -> Severity | None:
    ranked = sorted(severities, key=lambda s: s.rank, reverse=True)
    return ranked[0] if ranked else None


def rule_status(decision: Decision, rule: RuleResult) -> str:
    """What happened to one evaluated rule, in words: failed / warned / waived / ... / passed."""
    if rule.exempted:
        return "exempted"

    def same(v: Violation) -> bool:
        return (v.policy, v.rule, v.package) == (rule.policy, rule.rule, rule.package)

    active = [v for v in decision.violations if same(v)]
    waived = [w for w in decision.waived if same(w.violation)]
    if any(is_failing(v, decision.fail_on) for v in active):
        return f"failed ({len(active)})"
    if active:
        return f"warned ({len(active)})"
    if waived:
        return f"waived ({len(waived)})"
    if not rule.assessed:
        return f"not assessed (no {', '.join(rule.missing_evidence)} evidence)"
    return "passed" if rule.passed else f"{rule.violations} violations"
