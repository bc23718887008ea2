"""GitHub Actions workflow commands: annotations on the run and, where possible, on the file.

``::error`` for violations that fail the gate, ``::warning`` for the rest and for expired
waivers, ``::notice`` for waived violations and stale waivers. Escaping follows the Actions
runner: ``%``, CR and LF in data; additionally ``:`` and ``,`` in property values.
"""

from __future__ import annotations

from typing import ClassVar

from gatekeeper.model import Decision, Violation
from gatekeeper.report.common import (
    fix_text,
    is_failing,
    sort_violations,
    status_label,
    summary_line,
    violation_location,
)


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, **properties: str | int | None) -> str:
    props = ",".join(
        f"{name}={escape_property(str(value))}"
        for name, value in properties.items()
        if value not in (None, "")
    )
    head = f"::{kind} {props}" if props else f"::{kind}"
    return f"{head}::{escape_data(message)}"


def _where(decision: Decision, v: Violation) -> dict[str, str | int | None]:
    location = violation_location(decision, v)
    if not location.path:
        return {}
    return {"file": location.path, "line": location.line}


def _message(v: Violation) -> str:
    subject = f"{v.subject}: " if v.subject else ""
    return f"{subject}{v.message}\nfix: {fix_text(v)}"


class GithubReporter:
    name: ClassVar[str] = "github"
    description: ClassVar[str] = "GitHub Actions workflow-command annotations"

    def render(self, decision: Decision, *, color: bool = False) -> str:
        lines: list[str] = []
        for error in decision.errors:
            lines.append(command("error", error, title="Gatekeeper could not decide"))
        for v in sort_violations(decision.violations):
            kind = "error" if is_failing(v, decision.fail_on) else "warning"
            title = f"{v.policy} ({v.severity.value}): {v.title or v.rule}"
            lines.append(command(kind, _message(v), **_where(decision, v), title=title))
        for w in decision.expired_waivers:
            lines.append(
                command(
                    "warning",
                    f"waiver {w.id} for {w.policy} expired on {w.expires}: the violations it "
                    "covered count again; fix them or renew the waiver with a new expiry",
                    title=f"Expired waiver {w.id}",
                )
            )
        for item in decision.waived:
            v, w = item.violation, item.waiver
            lines.append(
                command(
                    "notice",
                    f"{_message(v)}\nwaived by {w.id} until {w.expires} "
                    f"(approved by {w.approved_by}): {w.reason}",
                    **_where(decision, v),
                    title=f"Waived {v.policy} ({v.severity.value})",
                )
            )
        for w in decision.stale_waivers:
            lines.append(
                command(
                    "notice",
                    f"waiver {w.id} for {w.policy} matched no violation: remove it from the "
                    "waivers file",
                    title=f"Stale waiver {w.id}",
                )
            )
        lines.append(
            command(
                "notice",
                summary_line(decision),
                title=f"Gatekeeper {status_label(decision.outcome)}",
            )
        )
        return "\n".join(lines) + "\n"
