"""The default terminal report: what failed, how to fix it, and the conftest-style counts."""

from __future__ import annotations

import re
import shutil
import textwrap
from typing import ClassVar

from gatekeeper.model import Decision, Level, Outcome, Severity, Violation
from gatekeeper.report.common import (
    bundle_label,
    fix_text,
    plural,
    release_identity,
    sort_violations,
    status_label,
    summary_line,
)

# SGR codes, used only when the caller asked for colour (the CLI decides from NO_COLOR/isatty).
_RESET = "\x1b[0m"
_BOLD = "1"
_DIM = "2"
_RED = "31"
_GREEN = "32"
_YELLOW = "33"
_MAGENTA = "35"
_CYAN = "36"

_OUTCOME_COLOR: dict[Outcome, str] = {
    Outcome.PASS: f"{_BOLD};{_GREEN}",
    Outcome.WARN: f"{_BOLD};{_YELLOW}",
    Outcome.FAIL: f"{_BOLD};{_RED}",
    Outcome.ERROR: f"{_BOLD};{_MAGENTA}",
}
_SEVERITY_COLOR: dict[Severity, str] = {
    Severity.CRITICAL: f"{_BOLD};{_RED}",
    Severity.HIGH: _RED,
    Severity.MEDIUM: _YELLOW,
    Severity.LOW: _CYAN,
    Severity.INFO: _DIM,
    Severity.UNKNOWN: _DIM,
}

_GAP = "  "
_MIN_MESSAGE_WIDTH = 30  # below this a message wraps into unreadable slivers: overflow instead
_POLICY_MAX = 28
_NARROW_COLUMN = 12
_SUBJECT_MAX = 36
DEFAULT_WIDTH = 100


# Control characters from policy messages or evidence must not drive the terminal (an ESC
# could recolour, hide or rewrite lines): show them as escapes instead.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


def _printable(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\r\n", "\n"))


def _paint(text: str, sgr: str, color: bool) -> str:
    return f"\x1b[{sgr}m{text}{_RESET}" if color and text else text


def _wrap(text: str, width: int) -> list[str]:
    """Wrap each paragraph of ``text``; never drops words, splits over-long tokens."""
    lines: list[str] = []
    for paragraph in _printable(text).split("\n"):
        lines.extend(
            textwrap.wrap(
                paragraph,
                width=max(width, 1),
                break_long_words=True,
                break_on_hyphens=False,
            )
            or [""]
        )
    return lines


class TableReporter:
    name: ClassVar[str] = "table"
    description: ClassVar[str] = "human-readable table for terminals (default)"

    def __init__(self, width: int | None = None) -> None:
        # Width is fixed at construction so a render is a pure function of its inputs.
        self.width = width or shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns

    def render(self, decision: Decision, *, color: bool = False) -> str:
        out: list[str] = []
        out.extend(self._header(decision, color))
        violations = sort_violations(decision.violations)
        if violations:
            out.append("")
            out.extend(self._violations(violations, color))
        if decision.waived:
            out.append("")
            out.extend(self._waived(decision, color))
        warnings = self._waiver_warnings(decision)
        if warnings:
            out.append("")
            out.append(_paint("WAIVER WARNINGS", f"{_BOLD};{_YELLOW}", color))
            out.extend(self._bullets(warnings, "!", _YELLOW, color))
        if decision.errors:
            out.append("")
            out.append(_paint("ERRORS", f"{_BOLD};{_RED}", color))
            out.extend(self._bullets(list(decision.errors), "x", _RED, color))
            out.append("  The gate could not decide, so it fails closed: fix the error and rerun.")
        out.append("")
        out.append(summary_line(decision))
        return "\n".join(out) + "\n"

    def _header(self, decision: Decision, color: bool) -> list[str]:
        status = _paint(status_label(decision.outcome), _OUTCOME_COLOR[decision.outcome], color)
        bundle = decision.policy_bundle
        provenance = (
            f"decision {decision.decision_id} · policies {bundle_label(bundle)} · "
            f"{decision.engine.name} {decision.engine.version}"
        )
        return [
            f"{status}  {_printable(release_identity(decision.release, short=True))}",
            _paint(_printable(provenance), _DIM, color),
        ]

    def _violations(self, violations: list[Violation], color: bool) -> list[str]:
        policy_w = min(max(len("POLICY"), *(len(v.policy) for v in violations)), _POLICY_MAX)
        subject_w = min(
            max(len("SUBJECT"), *(len(v.subject or "-") for v in violations)), _SUBJECT_MAX
        )
        fixed = len("LEVEL") + len("SEVERITY") + 4 * len(_GAP)
        # Give the message room first: narrow the subject, then the policy column, and on a
        # terminal too narrow even for that, stack each violation instead of a table.
        shortfall = _MIN_MESSAGE_WIDTH - (self.width - fixed - policy_w - subject_w)
        if shortfall > 0:
            cut = min(shortfall, subject_w - _NARROW_COLUMN)
            subject_w, shortfall = subject_w - max(cut, 0), shortfall - max(cut, 0)
        if shortfall > 0:
            cut = min(shortfall, policy_w - _NARROW_COLUMN)
            policy_w, shortfall = policy_w - max(cut, 0), shortfall - max(cut, 0)
        if shortfall > 0:
            return self._violations_stacked(violations, color)
        widths = [len("LEVEL"), len("SEVERITY"), policy_w, subject_w]
        widths.append(self.width - fixed - policy_w - subject_w)
        fix_indent = " " * (widths[0] + widths[1] + 2 * len(_GAP))
        fix_width = max(self.width - len(fix_indent) - len("fix: "), _MIN_MESSAGE_WIDTH)

        header = ["LEVEL", "SEVERITY", "POLICY", "SUBJECT", "MESSAGE"]
        lines = [_paint(self._row(header, widths), _BOLD, color)]
        for v in violations:
            cells = [v.level.value, v.severity.value, v.policy, v.subject or "-", v.message]
            level_sgr = _RED if v.level == Level.DENY else _YELLOW
            lines.extend(
                self._rows(
                    cells,
                    widths,
                    color,
                    {0: level_sgr, 1: _SEVERITY_COLOR[v.severity]},
                )
            )
            lines.extend(self._fix(v, fix_indent, fix_width, color))
        return lines

    def _violations_stacked(self, violations: list[Violation], color: bool) -> list[str]:
        """One block per violation, for terminals too narrow for columns."""
        width = max(self.width - 4, 1)
        lines: list[str] = []
        for v in violations:
            level_sgr = _RED if v.level == Level.DENY else _YELLOW
            head = (
                f"{_paint(v.level.value, level_sgr, color)} "
                f"{_paint(v.severity.value, _SEVERITY_COLOR[v.severity], color)} {v.policy}"
            )
            lines.append(head)
            if v.subject:
                lines.extend(f"    {line}" for line in _wrap(v.subject, width))
            lines.extend(f"    {line}".rstrip() for line in _wrap(v.message, width))
            lines.extend(self._fix(v, "    ", max(width - len("fix: "), 1), color))
        return lines

    @staticmethod
    def _fix(v: Violation, indent: str, width: int, color: bool) -> list[str]:
        fix_lines = _wrap(fix_text(v), width)
        label = _paint("fix:", f"{_BOLD};{_CYAN}", color)
        lines = [f"{indent}{label} {fix_lines[0]}".rstrip()]
        lines.extend(f"{indent}     {line}".rstrip() for line in fix_lines[1:])
        return lines

    def _waived(self, decision: Decision, color: bool) -> list[str]:
        lines = [_paint(f"WAIVED ({len(decision.waived)})", _BOLD, color)]
        width = max(self.width - 4, _MIN_MESSAGE_WIDTH)
        for item in decision.waived:
            v, w = item.violation, item.waiver
            head = f"{v.level.value} {v.severity.value} {v.policy} {v.subject or '-'}: {v.message}"
            note = f"waiver {w.id} expires {w.expires}, approved by {w.approved_by}: {w.reason}"
            for i, line in enumerate(_wrap(head, width)):
                lines.append(_paint(("  - " if i == 0 else "    ") + line, _DIM, color))
            lines.extend(_paint("    " + line, _DIM, color) for line in _wrap(note, width))
        covered = ", ".join(
            f"{c.id} covered {plural(c.violations, 'violation')}" for c in decision.waiver_coverage
        )
        if covered:
            lines.extend(_paint("  " + line, _DIM, color) for line in _wrap(covered, width))
        return lines

    @staticmethod
    def _waiver_warnings(decision: Decision) -> list[str]:
        warnings = [
            f"waiver {w.id} for {w.policy} expired on {w.expires}: the violations it covered "
            f"count again; fix them or renew the waiver with a new expiry"
            for w in decision.expired_waivers
        ]
        warnings.extend(
            f"waiver {w.id} for {w.policy} matched no violation (stale): remove it from the "
            f"waivers file"
            for w in decision.stale_waivers
        )
        return warnings

    def _bullets(self, items: list[str], mark: str, sgr: str, color: bool) -> list[str]:
        width = max(self.width - 4, _MIN_MESSAGE_WIDTH)
        lines: list[str] = []
        for item in items:
            wrapped = _wrap(item, width)
            lines.append(f"  {_paint(mark, sgr, color)} {wrapped[0]}".rstrip())
            lines.extend(f"    {line}".rstrip() for line in wrapped[1:])
        return lines

    @staticmethod
    def _row(cells: list[str], widths: list[int]) -> str:
        return _GAP.join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    def _rows(
        self, cells: list[str], widths: list[int], color: bool, colors: dict[int, str]
    ) -> list[str]:
        """One table row, each cell wrapped within its column; colour applied after padding."""
        wrapped = [_wrap(c, w) for c, w in zip(cells, widths, strict=True)]
        height = max(len(w) for w in wrapped)
        rows: list[str] = []
        for i in range(height):
            parts: list[str] = []
            for col, (lines, width) in enumerate(zip(wrapped, widths, strict=True)):
                text = lines[i] if i < len(lines) else ""
                padded = text.ljust(width)
                if col in colors and text:
                    padded = _paint(text, colors[col], color) + " " * (width - len(text))
                parts.append(padded)
            rows.append(_GAP.join(parts).rstrip())
        return rows
