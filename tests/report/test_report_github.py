from __future__ import annotations

import pytest

from gatekeeper.report.github import GithubReporter, command, escape_data, escape_property
from tests.report import report_samples as samples
from tests.report.report_snapshots import assert_snapshot


@pytest.mark.parametrize("case", ["pass", "warn", "fail", "error", "warn-fails"])
def test_github_matches_snapshot(case: str) -> None:
    assert_snapshot(f"github-{case}.txt", GithubReporter().render(samples.ALL[case]()))


def test_escaping_follows_the_runner_rules() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    line = command("error", "msg: a, b", file="src/a,b.py", line=3, title="T: x")
    assert line == "::error file=src/a%2Cb.py,line=3,title=T%3A x::msg: a, b"


def test_one_command_per_line_whatever_the_messages_contain() -> None:
    text = GithubReporter().render(samples.failing())
    lines = text.splitlines()
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)


def test_levels_by_kind() -> None:
    lines = GithubReporter().render(samples.failing()).splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    warnings = [line for line in lines if line.startswith("::warning ")]
    notices = [line for line in lines if line.startswith("::notice ")]
    assert len(errors) == 3
    assert any("GK-PIN-004" in line for line in warnings)
    assert any("W-9" in line for line in warnings)
    assert any("Waived GK-LIC-005" in line for line in notices)
    assert any("Stale waiver W-3" in line for line in notices)
    sast = next(line for line in errors if "GK-SAST-002" in line)
    assert sast.startswith("::error file=src/db/query.py,line=42,")
    assert "%0Afix: Use query parameters" in sast


def test_warn_is_an_error_annotation_under_fail_on_warn() -> None:
    lines = GithubReporter().render(samples.warn_fails()).splitlines()
    assert lines[0].startswith("::error ") and "GK-PIN-004" in lines[0]
