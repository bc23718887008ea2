from __future__ import annotations

import re

import pytest

from gatekeeper.model import Violation
from gatekeeper.report.table import TableReporter
from tests.report import report_samples as samples
from tests.report.report_snapshots import assert_snapshot

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("case", ["pass", "warn", "fail", "error"])
def test_table_matches_snapshot_without_colour(case: str) -> None:
    text = TableReporter(width=100).render(samples.ALL[case]())
    assert "\x1b" not in text
    assert_snapshot(f"table-{case}.txt", text)


def test_narrow_terminal_stacks_violations_and_keeps_every_word() -> None:
    text = TableReporter(width=40).render(samples.failing())
    assert_snapshot("table-fail-narrow.txt", text)
    words = " ".join(text.split())
    assert "reaches cursor.execute second line" in words
    assert "fix: Use query parameters: cursor.execute(sql, (value,))" in words


def test_colour_only_when_asked_and_text_is_otherwise_identical() -> None:
    plain = TableReporter(width=100).render(samples.failing())
    coloured = TableReporter(width=100).render(samples.failing(), color=True)
    assert "\x1b[" in coloured
    assert "\x1b[1;31mFAIL\x1b[0m" in coloured
    # Colour may not change layout: stripping it gives the plain report back.
    assert ANSI.sub("", coloured) == plain


def test_header_summary_and_fix_lines() -> None:
    text = TableReporter(width=100).render(samples.failing())
    lines = text.splitlines()
    assert lines[0].startswith("FAIL  payments-api 1.4.2 (to prod")
    assert lines[-1] == "7 rules, 1 passed, 1 warning, 3 failures, 1 waived, 1 exception"
    assert "fix: Upgrade lodash to 4.17.21 or later" in text
    # A policy without remediation still tells the developer where to go.
    assert "policy GK-META-003 gives no remediation" in text


def test_violations_sorted_deny_before_warn_then_by_severity() -> None:
    text = TableReporter(width=100).render(samples.failing())
    order = [text.index(p) for p in ("GK-VULN-001", "GK-SAST-002", "GK-META-003", "GK-PIN-004")]
    assert order == sorted(order)


def test_waived_and_waiver_warnings_are_listed() -> None:
    text = TableReporter(width=100).render(samples.failing())
    assert "WAIVED (1)" in text
    assert "waiver W-12 expires 2027-01-31" in text
    assert "waiver W-9 for GK-VULN-001 expired on 2026-01-01" in text
    assert "waiver W-3 for GK-OLD-099 matched no violation (stale)" in text


def test_long_message_wraps_but_is_never_truncated() -> None:
    long_message = " ".join(f"word{i}" for i in range(80))
    violation = samples.CRITICAL_VULN.model_copy(update={"message": long_message})
    decision = samples.failing().model_copy(update={"violations": (violation,)})
    text = TableReporter(width=80).render(decision)
    assert all(len(line) <= 80 for line in text.splitlines() if "word" in line)
    # Every word is there, once, in order (other cells may wrap alongside it).
    assert re.findall(r"\bword\d+\b", text) == long_message.split()


def test_terminal_control_characters_in_messages_are_neutralised() -> None:
    hostile: Violation = samples.CRITICAL_VULN.model_copy(
        update={"message": "evil \x1b[2J\x1b]0;title\x07 clear screen"}
    )
    decision = samples.failing().model_copy(update={"violations": (hostile,)})
    text = TableReporter(width=100).render(decision)
    assert "\x1b" not in text
    assert "\\x1b[2J" in text
