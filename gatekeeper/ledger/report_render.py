"""Compliance report renderers, one per format, registered by name.

HTML is one self-contained file: inline CSS, charts as inline SVG, no script and nothing fetched
from the network, with print styles so it reads on paper. It is rendered by Jinja2 in a
sandboxed environment with autoescaping and StrictUndefined: every value in it comes from
recorded decisions, which come from evidence files nobody vetted.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Protocol

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from gatekeeper.errors import ConfigError
from gatekeeper.ledger.report import (
    CONTROL_RESULTS,
    REPORT_SCHEMA,
    ComplianceReport,
    EvidenceFile,
    ReleaseRow,
)
from gatekeeper.registry import Registry

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


class ReportRenderer(Protocol):
    name: ClassVar[str]

    def render(self, report: ComplianceReport) -> str: ...


def report_document(report: ComplianceReport) -> dict[str, Any]:
    document = dataclasses.asdict(report)
    document = {"schema": REPORT_SCHEMA, **document}
    document["summary"] = report_document_summary(report)
    return document


def report_document_summary(report: ComplianceReport) -> dict[str, Any]:
    return {
        "releases": len(report.releases),
        "passed": report.passed,
        "failed": report.failed,
        "pass_rate": round(report.pass_rate, 1),
        "waivers_expiring_soon": [w.id for w in report.expiring_waivers],
    }


def _plain(value: Any) -> Any:
    """A report dataclass (or tuple of them) as the JSON values ``dataclasses.asdict`` gives."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        if all(type(v) is str for v in value):  # a control's results per release
            return list(value)
        return [_plain(v) for v in value]
    return value


_encode_string = json.encoder.encode_basestring  # the C encoder of json.dumps


def _dumps(value: Any, depth: int) -> str:
    """``value`` exactly as ``json.dumps(..., indent=2, ensure_ascii=False)`` writes it
    nested ``depth`` levels deep (that encoder is pure Python with an indent; this one does
    the report's plain values several times faster, and hands anything else to it)."""
    kind = type(value)
    if kind is str:
        return str(_encode_string(value))
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is list:
        if not value:
            return "[]"
        inner = "\n" + "  " * (depth + 1)
        if all(type(v) is str for v in value):
            items = ("," + inner).join(map(_encode_string, value))
            return "[" + inner + items + "\n" + "  " * depth + "]"
        return (
            "["
            + inner
            + ("," + inner).join(_dumps(v, depth + 1) for v in value)
            + "\n"
            + "  " * depth
            + "]"
        )
    if kind is dict and all(type(k) is str for k in value):
        if not value:
            return "{}"
        inner = "\n" + "  " * (depth + 1)
        return (
            "{"
            + inner
            + ("," + inner).join(
                f"{_encode_string(k)}: {_dumps(v, depth + 1)}" for k, v in value.items()
            )
            + "\n"
            + "  " * depth
            + "}"
        )
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return text.replace("\n", "\n" + "  " * depth) if depth else text


_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(ReleaseRow))
_ROW_KEYS = tuple(f"\n      {_encode_string(name)}: " for name in _ROW_FIELDS)
_EVIDENCE_FIELDS = tuple(f.name for f in dataclasses.fields(EvidenceFile))
_EVIDENCE_KEYS = tuple(f"\n          {_encode_string(name)}: " for name in _EVIDENCE_FIELDS)


_INT_FIELDS = ("seq", "failures", "warnings", "waived", "rules")


def _row_text(row: ReleaseRow, memo: dict[int, str] | None = None) -> str:
    """One release row as ``_dumps(_plain(row), 2)`` writes it (the report has one per
    decision: this is most of a large JSON report's time). Rows share their evidence tuples
    (report.py): ``memo`` keeps each one's text by identity while the report holds them."""
    if memo is None or any(type(getattr(row, name)) is not int for name in _INT_FIELDS):
        return _row_text_by_field(row)
    e = _encode_string
    try:
        evidence = memo.get(id(row.evidence))
        if evidence is None:
            evidence = memo[id(row.evidence)] = _evidence_text(row.evidence)
        policies = row.failing_policies
        failing = (
            "[]"
            if not policies
            else "[\n        " + ",\n        ".join(map(e, policies)) + "\n      ]"
        )
        return (
            f'{{\n      "seq": {int.__repr__(row.seq)},'
            f'\n      "decision_id": {e(row.decision_id)},'
            f'\n      "recorded_at": {e(row.recorded_at)},'
            f'\n      "service": {e(row.service)},'
            f'\n      "version": {e(row.version)},'
            f'\n      "environment": {e(row.environment)},'
            f'\n      "artifact_digest": {e(row.artifact_digest)},'
            f'\n      "outcome": {e(row.outcome)},'
            f'\n      "failures": {int.__repr__(row.failures)},'
            f'\n      "warnings": {int.__repr__(row.warnings)},'
            f'\n      "waived": {int.__repr__(row.waived)},'
            f'\n      "rules": {int.__repr__(row.rules)},'
            f'\n      "failing_policies": {failing},'
            f'\n      "bundle_revision": {e(row.bundle_revision)},'
            f'\n      "bundle_digest": {e(row.bundle_digest)},'
            f'\n      "engine": {e(row.engine)},'
            f'\n      "input_digest": {e(row.input_digest)},'
            f'\n      "evidence": {evidence},'
            f'\n      "signed_by": {e(row.signed_by)}'
            "\n    }"
        )
    except TypeError:  # a value of another type than the tally writes: the general path
        return _row_text_by_field(row)


def _evidence_text(value: tuple[EvidenceFile, ...]) -> str:
    if not value:
        return "[]"
    files = []
    for item in value:
        files.append(
            "{"
            + ",".join(
                key + _encode_string(getattr(item, name))
                for key, name in zip(_EVIDENCE_KEYS, _EVIDENCE_FIELDS, strict=True)
            )
            + "\n        }"
        )
    return "[\n        " + ",\n        ".join(files) + "\n      ]"


def _row_text_by_field(row: ReleaseRow) -> str:
    parts = ["{"]
    for index, key in enumerate(_ROW_KEYS):
        value = getattr(row, _ROW_FIELDS[index])
        parts.append(("," if index else "") + key)
        if type(value) is str:
            parts.append(_encode_string(value))
        elif type(value) is int:
            parts.append(int.__repr__(value))
        elif _ROW_FIELDS[index] == "evidence" and value:
            parts.append(_evidence_text(value))
        else:
            parts.append(_dumps(_plain(value), 3))
    parts.append("\n    }")
    return "".join(parts)


class JsonRenderer:
    """The report document, written piece by piece: the same text as ``json.dumps(
    report_document(report), indent=2)``, but one release row at a time, so a report over
    100,000 decisions never holds its whole document (or text) in memory."""

    name: ClassVar[str] = "json"

    def render(self, report: ComplianceReport) -> str:
        return "".join(self.chunks(report))

    def chunks(self, report: ComplianceReport) -> Iterator[str]:
        fields: list[tuple[str, Any]] = [("schema", REPORT_SCHEMA)]
        fields += [(f.name, getattr(report, f.name)) for f in dataclasses.fields(report)]
        fields.append(("summary", report_document_summary(report)))
        yield "{"
        for number, (key, value) in enumerate(fields):
            yield ("," if number else "") + "\n  " + json.dumps(key, ensure_ascii=False) + ": "
            if isinstance(value, tuple) and value:
                yield "["
                memo: dict[int, str] = {}
                for index, item in enumerate(value):
                    text = (
                        _row_text(item, memo)
                        if type(item) is ReleaseRow
                        else _dumps(_plain(item), 2)
                    )
                    yield ("," if index else "") + "\n    " + text
                yield "\n  ]"
            else:
                yield _dumps(_plain(value), 1)
        yield "\n}"


CSV_COLUMNS = (
    "recorded_at",
    "decision_id",
    "service",
    "version",
    "environment",
    "artifact_digest",
    "outcome",
    "failures",
    "warnings",
    "waived",
    "rules",
    "failing_policies",
    "bundle_revision",
    "bundle_digest",
    "engine",
    "input_digest",
    "evidence",
    "signed_by",
)


def _csv_safe(value: object) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas; quote them out."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class CsvRenderer:
    """One row per recorded decision: the auditor's spreadsheet."""

    name: ClassVar[str] = "csv"

    def render(self, report: ComplianceReport) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in report.releases:
            values = dataclasses.asdict(row)
            values["failing_policies"] = " ".join(row.failing_policies)
            values["evidence"] = " ".join(f"{e.kind}:{e.sha256}" for e in row.evidence)
            writer.writerow([_csv_safe(values[c]) for c in CSV_COLUMNS])
        return out.getvalue()


_MD_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "\n": " ",
        "\r": " ",
    }
)


def _md(text: object) -> str:
    """User text (service names, versions, titles, waiver fields) as literal Markdown: no raw
    HTML, no links, no emphasis, no cell breaks — whatever a release file or policy says."""
    return str(text).translate(_MD_ESCAPES)


class MarkdownRenderer:
    name: ClassVar[str] = "markdown"

    def render(self, report: ComplianceReport) -> str:
        period = f"{report.period_from or 'the beginning'} to {report.period_to or 'now'}"
        chain = (
            f"intact ({report.chain.records} records, head `{report.chain.head}`)"
            if report.chain.intact
            else f"**TAMPERED**: {_md(report.chain.problem)}"
        )
        lines = [
            "# Compliance report",
            "",
            f"Period: {period}" + (f" · service {_md(report.service)}" if report.service else ""),
            f"Generated {report.generated_at} from ledger {_md(report.ledger)} — chain {chain}.",
            "",
            f"**{len(report.releases)} releases, {report.passed} passed, {report.failed} failed "
            f"({report.pass_rate:.0f}% pass rate).**",
            "",
            "## Releases",
            "",
            "| time | service | version | environment | outcome | failing policies | decision |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in report.releases:
            lines.append(
                f"| {r.recorded_at[:19]} | {_md(r.service)} | {_md(r.version)} | "
                f"{_md(r.environment)} | {r.outcome} | {_md(', '.join(r.failing_policies))} | "
                f"`{r.decision_id}` |"
            )
        lines += ["", "## Pass rate over time", "", "| day | releases | passed | failed | rate |"]
        lines.append("|---|---|---|---|---|")
        lines += [
            f"| {d.day} | {d.total} | {d.passed} | {d.failed} | {d.pass_rate:.0f}% |"
            for d in report.days
        ]
        lines += ["", "## Top failing policies", ""]
        if report.top_failing:
            lines += ["| policy | title | releases failed | violations |", "|---|---|---|---|"]
            lines += [
                f"| {_md(p.policy)} | {_md(p.title)} | {p.decisions} | {p.violations} |"
                for p in report.top_failing
            ]
        else:
            lines.append("No policy failed in this period.")
        lines += ["", "## Waivers", ""]
        if report.waivers:
            lines += [
                "| waiver | policy | subject | approved by | expires | used | status |",
                "|---|---|---|---|---|---|---|",
            ]
            for w in report.waivers:
                status = (
                    "expired" if w.expired else "expiring soon" if w.expiring_soon else "active"
                )
                lines.append(
                    f"| {_md(w.id)} | {_md(w.policy)} | {_md(w.subject)} | {_md(w.approved_by)} "
                    f"| {_md(w.expires)} | {w.uses} | {status} |"
                )
        else:
            lines.append("No waivers were used.")
        lines += ["", "## Control matrix", ""]
        lines.append(
            "One row per control: releases per result; satisfied = passed or waived, of the "
            "releases it was judged on (not assessed never counts as satisfied)."
        )
        lines.append("")
        results = " | ".join(CONTROL_RESULTS)
        lines.append(f"| control | title | policies | evidence | {results} | satisfied |")
        lines.append("|---" * (5 + len(CONTROL_RESULTS)) + "|")
        for c in report.controls:
            counts = c.counts()
            rate = c.satisfied_rate()
            cells = " | ".join(str(counts[result]) for result in CONTROL_RESULTS)
            lines.append(
                f"| {_md(c.control)} | {_md(c.title)} | {_md(', '.join(c.policies))} | "
                f"{_md(', '.join(c.evidence_kinds))} | {cells} | "
                f"{'-' if rate is None else f'{rate:.0f}%'} |"
            )
        return "\n".join(lines) + "\n"


def _bar_chart(report: ComplianceReport) -> dict[str, Any]:
    """Geometry of the pass/fail-per-day chart, computed here so the template only places it."""
    width, height, top, bottom, left = 640, 200, 16, 36, 36
    days = report.days[-60:]
    peak = max((d.total for d in days), default=1) or 1
    plot_h = height - top - bottom
    slot = (width - left - 8) / max(len(days), 1)
    bar_w = max(min(slot * 0.7, 48), 2)
    bars = []
    for i, d in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        h_pass = plot_h * d.passed / peak
        h_fail = plot_h * d.failed / peak
        bars.append(
            {
                "x": round(x, 1),
                "w": round(bar_w, 1),
                "pass_y": round(top + plot_h - h_pass, 1),
                "pass_h": round(h_pass, 1),
                "fail_y": round(top + plot_h - h_pass - h_fail, 1),
                "fail_h": round(h_fail, 1),
                "label": d.day[5:],
                "label_x": round(x + bar_w / 2, 1),
                "title": f"{d.day}: {d.passed} passed, {d.failed} failed",
            }
        )
    return {
        "width": width,
        "height": height,
        "base": top + plot_h,
        "left": left,
        "peak": peak,
        "top": top,
        "bars": bars,
    }


def _policy_chart(report: ComplianceReport) -> dict[str, Any]:
    rows = report.top_failing[:10]
    peak = max((p.decisions for p in rows), default=1) or 1
    label_w, bar_max, row_h = 220, 380, 26
    return {
        "width": label_w + bar_max + 60,
        "height": row_h * len(rows) + 8,
        "rows": [
            {
                "y": 4 + i * row_h,
                "text_y": 4 + i * row_h + 17,
                "w": round(bar_max * p.decisions / peak, 1),
                "label": p.policy,
                "value": p.decisions,
                "value_x": label_w + round(bar_max * p.decisions / peak, 1) + 6,
            }
            for i, p in enumerate(rows)
        ],
        "label_w": label_w,
    }


def _html_release_rows(report: ComplianceReport) -> Iterator[Markup]:
    """The releases table's rows, one per decision, as the template wrote them (the
    sandbox's attribute checks cost ~30 µs a row; every value is escaped here instead)."""
    for r in report.releases:
        policies = ", ".join(f"<code>{escape(p)}</code>" for p in r.failing_policies)
        signed = (
            f'<br><span class="note">signed {escape(r.signed_by)}</span>' if r.signed_by else ""
        )
        yield Markup(  # noqa: S704 - every value in it is escaped
            "  <tr>\n"
            f'    <td class="num">{escape(r.seq)}</td>'
            f"<td>{escape(r.recorded_at[:19].replace('T', ' '))}</td>"
            f"<td>{escape(r.service)}</td><td>{escape(r.version)}</td>"
            f"<td>{escape(r.environment)}</td>\n"
            f'    <td class="r r-{escape(r.outcome)}">{escape(r.outcome)}</td>\n'
            f'    <td class="num">{escape(r.failures)} / {escape(r.warnings)} / '
            f"{escape(r.waived)}</td>\n"
            f"    <td>{policies}</td>\n"
            f'    <td><span class="mono">{escape(r.bundle_revision)}</span></td>\n'
            f"    <td><code>{escape(r.decision_id)}</code>{signed}</td>\n"
            "  </tr>\n"
        )


class HtmlRenderer:
    name: ClassVar[str] = "html"

    def render(self, report: ComplianceReport) -> str:
        return "".join(self.chunks(report))

    def chunks(self, report: ComplianceReport) -> Iterator[str]:
        """The page as Jinja generates it, piece by piece (a report over 100,000 decisions
        is tens of MB of HTML: written as it is made, never held whole)."""
        env = SandboxedEnvironment(
            loader=FileSystemLoader(str(TEMPLATE_DIR)),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        template = env.get_template("compliance_report.html.j2")
        for piece in template.generate(
            report=report,
            chart=_bar_chart(report),
            policy_chart=_policy_chart(report),
            release_rows=_html_release_rows(report),
        ):
            yield str.__str__(piece)  # plain text: Markup would escape what it is joined to


RENDERERS: Registry[ReportRenderer] = Registry("report format", error=ConfigError)
for _cls in (HtmlRenderer, MarkdownRenderer, JsonRenderer, CsvRenderer):
    RENDERERS.register(_cls.name, _cls)


def get_renderer(name: str) -> ReportRenderer:
    return RENDERERS.create(name)
