"""GitHub-flavoured Markdown for a pull-request comment or ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from typing import ClassVar

from gatekeeper.model import Decision, Violation
from gatekeeper.report.common import (
    fix_text,
    is_failing,
    release_identity,
    rule_status,
    sort_violations,
    status_label,
    summary_line,
)


def text(value: str | None) -> str:
    """Escape free text (from policies and evidence) so it renders literally, not as HTML."""
    if not value:
        return ""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cell(value: str | None) -> str:
    """A table cell: escaped, '|' cannot end the cell, newlines become <br>."""
    if not value:
        return "-"
    escaped = text(value).replace("\\", "\\\\").replace("|", "\\|")
    lines = [line.strip() for line in escaped.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "<br>".join(line for line in lines if line) or "-"


def code(value: str | None) -> str:
    """Inline code for identifiers; a backtick inside falls back to a plain escaped cell."""
    if not value:
        return "-"
    if "`" in value or "\n" in value or "|" in value:
        return cell(value)
    return f"`{value}`"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _violation_rows(violations: list[Violation]) -> list[list[str]]:
    return [
        [
            code(v.policy),
            v.severity.value,
            code(v.subject),
            cell(v.message),
            cell(fix_text(v)),
        ]
        for v in violations
    ]


class MarkdownReporter:
    name: ClassVar[str] = "markdown"
    description: ClassVar[str] = "Markdown for pull-request comments and job summaries"

    def render(self, decision: Decision, *, color: bool = False) -> str:
        s = decision.summary
        out: list[str] = [
            f"## Gatekeeper: {status_label(decision.outcome)} — "
            f"{text(release_identity(decision.release))}",
            "",
            summary_line(decision),
            "",
        ]
        out.extend(
            _table(
                [
                    "outcome",
                    "rules",
                    "passed",
                    "not assessed",
                    "failures",
                    "warnings",
                    "waived",
                    "exceptions",
                ],
                [
                    [
                        f"**{status_label(decision.outcome)}**",
                        str(s.rules),
                        str(s.passed),
                        str(s.not_assessed),
                        str(s.failures),
                        str(s.warnings),
                        str(s.waived),
                        str(s.exceptions),
                    ]
                ],
            )
        )
        if decision.errors:
            out += ["", "### Errors", "", "The gate could not decide; it fails closed.", ""]
            out.extend(f"- {cell(error)}" for error in decision.errors)

        violations = sort_violations(decision.violations)
        failing = [v for v in violations if is_failing(v, decision.fail_on)]
        warning = [v for v in violations if not is_failing(v, decision.fail_on)]
        header = ["policy", "severity", "subject", "message", "fix"]
        if failing:
            out += ["", f"### Failures ({len(failing)})", ""]
            out.extend(_table(header, _violation_rows(failing)))
        if warning:
            out += ["", f"### Warnings ({len(warning)})", ""]
            out.extend(_table(header, _violation_rows(warning)))
        if decision.waived:
            out += ["", f"### Waived ({len(decision.waived)})", ""]
            rows = [
                [
                    code(w.violation.policy),
                    w.violation.severity.value,
                    code(w.violation.subject),
                    cell(w.violation.message),
                    code(w.waiver.id),
                    cell(w.waiver.expires),
                    cell(w.waiver.approved_by),
                    cell(w.waiver.reason),
                ]
                for w in sorted(decision.waived, key=lambda w: w.violation.policy)
            ]
            out.extend(
                _table(
                    [
                        "policy",
                        "severity",
                        "subject",
                        "message",
                        "waiver",
                        "expires",
                        "approved by",
                        "reason",
                    ],
                    rows,
                )
            )
        if decision.waiver_coverage:
            expires = {w.waiver.id: w.waiver.expires for w in decision.waived}
            out += [""]
            out.extend(
                _table(
                    ["waiver", "policy", "violations covered", "expires"],
                    [
                        [code(c.id), code(c.policy), str(c.violations), cell(expires.get(c.id))]
                        for c in decision.waiver_coverage
                    ],
                )
            )
        if decision.expired_waivers:
            out += [
                "",
                f"### Expired waivers ({len(decision.expired_waivers)})",
                "",
                "These no longer apply: the violations they covered count again. Fix them, "
                "or renew the waiver with a new expiry.",
                "",
            ]
            out.extend(
                _table(
                    ["waiver", "policy", "expired", "reason"],
                    [
                        [code(w.id), code(w.policy), cell(w.expires), cell(w.reason)]
                        for w in decision.expired_waivers
                    ],
                )
            )
        if decision.stale_waivers:
            out += [
                "",
                f"### Stale waivers ({len(decision.stale_waivers)})",
                "",
                "These matched no violation: remove them from the waivers file.",
                "",
            ]
            out.extend(
                _table(
                    ["waiver", "policy", "expires", "reason"],
                    [
                        [code(w.id), code(w.policy), cell(w.expires), cell(w.reason)]
                        for w in decision.stale_waivers
                    ],
                )
            )
        if decision.rules:
            out += [
                "",
                "<details>",
                f"<summary>All {len(decision.rules)} rules checked</summary>",
                "",
            ]
            rules = sorted(decision.rules, key=lambda r: (r.package, r.rule, r.policy))
            out.extend(
                _table(
                    ["result", "policy", "rule", "package", "title", "controls"],
                    [
                        [
                            rule_status(decision, r),
                            code(r.policy),
                            code(r.rule),
                            code(r.package),
                            cell(r.title),
                            cell(", ".join(r.controls)),
                        ]
                        for r in rules
                    ],
                )
            )
            out += ["", "</details>"]
        bundle = decision.policy_bundle
        out += [
            "",
            f"<sub>decision {code(decision.decision_id)} · policies "
            f"{code(bundle.revision)} {code(bundle.digest)} · "
            f"{text(decision.engine.name)} {text(decision.engine.version)}</sub>",
        ]
        return "\n".join(out) + "\n"
