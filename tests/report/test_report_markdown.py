from __future__ import annotations

import pytest

from gatekeeper.report.markdown import MarkdownReporter, cell
from tests.report import report_samples as samples
from tests.report.report_snapshots import assert_snapshot


@pytest.mark.parametrize("case", ["pass", "warn", "fail", "error"])
def test_markdown_matches_snapshot(case: str) -> None:
    assert_snapshot(f"markdown-{case}.md", MarkdownReporter().render(samples.ALL[case]()))


@pytest.mark.parametrize(
    ("case", "status"), [("pass", "PASS"), ("warn", "WARN"), ("fail", "FAIL"), ("error", "ERROR")]
)
def test_headline_carries_the_plain_status(case: str, status: str) -> None:
    first = MarkdownReporter().render(samples.ALL[case]()).splitlines()[0]
    assert first.startswith(f"## Gatekeeper: {status} ")
    assert first.isascii() or "—" in first  # no emoji, only the dash


def test_cells_escape_pipes_newlines_and_html() -> None:
    assert cell("a | b") == "a \\| b"
    assert cell("one\ntwo\r\nthree") == "one<br>two<br>three"
    assert cell("<script> & co") == "&lt;script&gt; &amp; co"
    assert cell(None) == "-"


def test_every_table_row_has_the_header_column_count() -> None:
    text = MarkdownReporter().render(samples.failing())
    table_lines = [line for line in text.splitlines() if line.startswith("|")]
    assert table_lines
    for line in table_lines:
        # Unescaped pipes delimit cells; an escaped one must not add a column.
        cells = line.replace("\\|", "").count("|") - 1
        assert cells in {4, 5, 6, 7, 8}, line


def test_sections_for_failures_waivers_and_rules_checked() -> None:
    text = MarkdownReporter().render(samples.failing())
    assert "### Failures (3)" in text
    assert "### Warnings (1)" in text
    assert "### Waived (1)" in text
    assert "### Expired waivers (1)" in text
    assert "### Stale waivers (1)" in text
    assert "<details>" in text and "All 7 rules checked" in text
    assert "| passed | `GK-SBOM-006` |" in text
    assert "Upgrade lodash to 4.17.21 or later" in text
