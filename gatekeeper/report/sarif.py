"""SARIF 2.1.0 for GitHub code scanning (and any other SARIF viewer).

One run; one reporting descriptor per policy id; one result per violation, waived ones included
as suppressed results so the record of what was waived travels with the scan.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, ClassVar
from urllib.parse import quote

import gatekeeper
from gatekeeper.model import Decision, Level, Outcome, RuleResult, Severity, Violation, Waiver
from gatekeeper.report.common import (
    SourceLocation,
    fix_text,
    highest_severity,
    release_identity,
    sort_violations,
    summary_line,
    violation_fingerprint,
    violation_location,
    violation_sort_key,
)

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "gatekeeperViolation/v1"

# GitHub maps security-severity > 9.0 critical, >= 7.0 high, >= 4.0 medium, > 0 low. It reads
# the value as a number given as a string, as CodeQL writes it.
SECURITY_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
}


def _uri(path: str) -> str:
    """A uri-reference for a file path: relative paths stay relative (GitHub resolves them
    against the repository root); absolute ones become file URIs."""
    if PureWindowsPath(path).drive:
        return PureWindowsPath(path).as_uri()
    if path.startswith("/"):
        return PurePosixPath(path).as_uri()
    return quote(path.replace("\\", "/"), safe="/@:+,;=-._~")


SRCROOT = "SRCROOT"


def _physical_location(location: SourceLocation, working_directory: str | None) -> dict[str, Any]:
    path = location.path
    if working_directory and path.startswith(working_directory.rstrip("/") + "/"):
        path = path[len(working_directory.rstrip("/")) + 1 :]  # inside the checkout: relative
    uri = _uri(path) if path else "."
    artifact: dict[str, Any] = {"uri": uri}
    if working_directory and not uri.startswith("file:"):
        artifact["uriBaseId"] = SRCROOT  # relative to the checkout (originalUriBaseIds)
    # Code scanning anchors every alert on a region; line 1 stands for "the whole file".
    return {
        "physicalLocation": {
            "artifactLocation": artifact,
            "region": {"startLine": location.line or 1},
        }
    }


class _Rules:
    """The run's reporting descriptors, one per policy id, in first-seen order."""

    def __init__(self, decision: Decision) -> None:
        self.index: dict[str, int] = {}
        self._rules: dict[str, list[RuleResult]] = {}
        self._violations: dict[str, list[Violation]] = {}
        for rule in decision.rules:
            self._add(rule.policy)
            self._rules[rule.policy].append(rule)
        every = [*decision.violations, *(w.violation for w in decision.waived)]
        for v in sort_violations(every):
            self._add(v.policy)
            self._violations[v.policy].append(v)

    def _add(self, policy: str) -> None:
        if policy not in self.index:
            self.index[policy] = len(self.index)
            self._rules[policy] = []
            self._violations[policy] = []

    def descriptors(self) -> list[dict[str, Any]]:
        return [self._descriptor(policy) for policy in self.index]

    def _descriptor(self, policy: str) -> dict[str, Any]:
        rules, violations = self._rules[policy], self._violations[policy]
        title = next((r.title for r in rules if r.title), None) or next(
            (v.title for v in violations if v.title), None
        )
        packages = sorted({r.package for r in rules} | {v.package for v in violations})
        rule_names = sorted({r.rule for r in rules} | {v.rule for v in violations})
        controls = sorted(
            {c for r in rules for c in r.controls} | {c for v in violations for c in v.controls}
        )
        remediation = next((v.remediation for v in violations if v.remediation), None)
        full = (
            f"{title or policy}. Rego package {', '.join(packages)}, rules {', '.join(rule_names)}."
        )
        if controls:
            full += f" Controls: {', '.join(controls)}."
        help_text = remediation or f"Policy {policy} gives no remediation: ask its owners."
        properties: dict[str, Any] = {"tags": ["security", "policy", *controls]}
        severity = highest_severity(v.severity for v in violations)
        if severity is not None and severity in SECURITY_SEVERITY:
            properties["security-severity"] = SECURITY_SEVERITY[severity]
        level = (
            "error"
            if any(v.level == Level.DENY for v in violations)
            or any(r.level == Level.DENY for r in rules)
            else "warning"
        )
        return {
            "id": policy,
            "name": policy,
            "shortDescription": {"text": title or policy},
            "fullDescription": {"text": full},
            "help": {"text": help_text},
            "defaultConfiguration": {"level": level},
            "properties": properties,
        }


def _result(
    decision: Decision, rules: _Rules, violation: Violation, waiver: Waiver | None
) -> dict[str, Any]:
    location = violation_location(decision, violation)
    subject = f" [{violation.subject}]" if violation.subject else ""
    result: dict[str, Any] = {
        "ruleId": violation.policy,
        "ruleIndex": rules.index[violation.policy],
        "level": "error" if violation.level == Level.DENY else "warning",
        "message": {"text": f"{violation.message}{subject}\nFix: {fix_text(violation)}"},
        "locations": [_physical_location(location, decision.working_directory)],
        "partialFingerprints": {FINGERPRINT_KEY: violation_fingerprint(violation)},
        "properties": {
            "severity": violation.severity.value,
            "rule": violation.rule,
            "package": violation.package,
            "subject": violation.subject,
            "controls": list(violation.controls),
            "locationKind": location.kind,
        },
    }
    if waiver is not None:
        result["suppressions"] = [
            {
                "kind": "external",
                # No "state"/"status": the 2.1.0 committee text and its errata name it
                # differently, and it is optional in both.
                "justification": waiver.reason,
                "properties": {
                    "waiver": waiver.id,
                    "expires": waiver.expires,
                    "approvedBy": waiver.approved_by,
                },
            }
        ]
    return result


ERROR_RULE_ID = "gatekeeper/error"
_ERROR_RULE: dict[str, Any] = {
    "id": ERROR_RULE_ID,
    "name": "GateError",
    "shortDescription": {"text": "The gate could not decide (bad input, policy or engine error)"},
    "defaultConfiguration": {"level": "error"},
}


def _notifications(decision: Decision) -> list[dict[str, Any]]:
    """Waiver hygiene problems and rules that judged nothing are configuration notifications,
    not results."""
    notes: list[dict[str, Any]] = [
        {
            "level": "warning",
            "message": {
                "text": f"{r.policy} ({r.package}.{r.rule}) was not assessed: no "
                f"{', '.join(r.missing_evidence) or 'required'} evidence was given"
            },
            "descriptor": {"id": "not-assessed"},
        }
        for r in decision.rules
        if not r.assessed
    ]
    for w in decision.expired_waivers:
        notes.append(
            {
                "level": "warning",
                "message": {
                    "text": f"waiver {w.id} for {w.policy} expired on {w.expires}: the "
                    f"violations it covered count again; fix them or renew the waiver"
                },
                "descriptor": {"id": "expired-waiver"},
            }
        )
    for w in decision.stale_waivers:
        notes.append(
            {
                "level": "note",
                "message": {
                    "text": f"waiver {w.id} for {w.policy} matched no violation: remove it"
                },
                "descriptor": {"id": "stale-waiver"},
            }
        )
    return notes


class SarifReporter:
    name: ClassVar[str] = "sarif"
    description: ClassVar[str] = "SARIF 2.1.0 for GitHub code scanning"

    def render(self, decision: Decision, *, color: bool = False) -> str:
        return json.dumps(self.document(decision), indent=2, ensure_ascii=False) + "\n"

    def document(self, decision: Decision) -> dict[str, Any]:
        rules = _Rules(decision)
        results = [_result(decision, rules, v, None) for v in sort_violations(decision.violations)]
        waived = sorted(decision.waived, key=lambda w: violation_sort_key(w.violation))
        results.extend(_result(decision, rules, w.violation, w.waiver) for w in waived)

        invocation: dict[str, Any] = {
            "executionSuccessful": decision.outcome != Outcome.ERROR,
            "endTimeUtc": decision.created_at,
        }
        notifications = _notifications(decision)
        if notifications:
            invocation["toolConfigurationNotifications"] = notifications
        if decision.errors:
            invocation["toolExecutionNotifications"] = [
                {"level": "error", "message": {"text": error}} for error in decision.errors
            ]
        # An outcome 'error' is also a result, so a code-scanning upload shows why the gate
        # could not decide instead of an empty, green-looking run.
        results = [
            *results,
            *(
                {
                    "ruleId": ERROR_RULE_ID,
                    "level": "error",
                    "kind": "fail",
                    "message": {"text": f"the gate could not decide: {error}"},
                }
                for error in decision.errors
            ),
        ]
        run_extra: dict[str, Any] = {}
        if decision.working_directory:
            root = PurePosixPath(decision.working_directory).as_uri().rstrip("/") + "/"
            invocation["workingDirectory"] = {"uri": root}
            run_extra["originalUriBaseIds"] = {SRCROOT: {"uri": root}}
        release = decision.release
        category = "/".join(
            part for part in ("gatekeeper", release.service, release.environment) if part
        )
        return {
            "$schema": SARIF_SCHEMA_URI,
            "version": SARIF_VERSION,
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "gatekeeper",
                            "version": gatekeeper.__version__,
                            "rules": [
                                *rules.descriptors(),
                                *([_ERROR_RULE] if decision.errors else []),
                            ],
                        }
                    },
                    # GitHub keys alerts by category: one per service and environment.
                    "automationDetails": {"id": f"{category}/"},
                    **run_extra,
                    "invocations": [invocation],
                    "results": results,
                    "properties": {
                        "decisionId": decision.decision_id,
                        "outcome": decision.outcome.value,
                        "release": release_identity(release),
                        "summary": summary_line(decision),
                        "policyBundle": {
                            "revision": decision.policy_bundle.revision,
                            "digest": decision.policy_bundle.digest,
                        },
                        "inputDigest": decision.input_digest,
                        # How many violations each waiver waived (decision.waiver_coverage).
                        "waiverCoverage": {c.id: c.violations for c in decision.waiver_coverage},
                    },
                }
            ],
        }
