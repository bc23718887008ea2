"""`gatekeeper policy test`: pass/fail, coverage on both engines, threshold, filters, formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.policy.commands.helpers import FIXTURES, LIBRARY

BOTH = pytest.mark.parametrize("engine", ["regorus", "regopy"])


@BOTH
def test_builtin_library_passes_with_full_coverage(engine: str) -> None:
    result = run_cli(
        "policy", "test", str(LIBRARY), "--coverage", "--threshold", "100", "--engine", engine
    )
    assert result.code == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout and "meets the threshold of 100%" in result.stdout
    assert "Coverage (measured with regorus)" in result.stdout
    if engine == "regopy":
        assert "regopy records no coverage" in result.stdout


@BOTH
def test_failing_test_exits_1_naming_the_rule_and_location(engine: str) -> None:
    result = run_cli("policy", "test", str(FIXTURES / "failing"), "--engine", engine)
    assert result.code == 1
    assert "FAIL limit_test.rego:10: fixture.failing_test.test_three_is_denied" in result.stdout
    assert "test_many_is_denied" not in result.stdout  # passes are listed only with -v
    assert "1 passed, 1 failed" in result.stdout

    verbose = run_cli("policy", "test", str(FIXTURES / "failing"), "--engine", engine, "-v")
    assert "PASS limit_test.rego:5: fixture.failing_test.test_many_is_denied" in verbose.stdout


def test_run_filter_selects_tests() -> None:
    result = run_cli(
        "policy", "test", str(FIXTURES / "failing"), "--run", "many", "--format", "json"
    )
    assert result.code == 0, result.stdout + result.stderr
    doc = result.json()
    assert doc["schema"] == "gatekeeper.policy-test/v1"
    assert [c["name"] for c in doc["cases"]] == ["fixture.failing_test.test_many_is_denied"]
    assert doc["summary"] == {"total": 1, "passed": 1, "failed": 0}


def test_no_matching_test_is_a_failure_not_a_pass() -> None:
    result = run_cli("policy", "test", str(FIXTURES / "failing"), "--run", "^nothing$")
    assert result.code == 1
    assert "no tests ran" in result.stdout


def test_bad_run_regex_is_usage_error() -> None:
    result = run_cli("policy", "test", str(FIXTURES / "failing"), "--run", "([")
    assert result.code == 2
    assert "--run" in result.stderr


@BOTH
def test_compile_error_exits_3_with_file_and_line(engine: str) -> None:
    result = run_cli("policy", "test", str(FIXTURES / "broken"), "--engine", engine)
    assert result.code == 3
    assert "broken.rego:4:" in result.stderr
    assert "Traceback" not in result.stderr


@BOTH
def test_untested_module_counts_as_zero_coverage(engine: str) -> None:
    # regorus leaves modules no test touched out of its report; they must still count.
    result = run_cli(
        "policy",
        "test",
        str(FIXTURES / "untested"),
        "--threshold",
        "80",
        "--engine",
        engine,
        "--format",
        "json",
    )
    assert result.code == 1
    coverage = result.json()["coverage"]
    files = {f["file"]: f for f in coverage["files"]}
    assert set(files) == {"forgotten.rego", "tested.rego"}  # test modules are not counted
    assert files["forgotten.rego"]["covered"] == []
    assert files["forgotten.rego"]["not_covered"]
    assert files["tested.rego"]["percent"] == 100.0
    assert coverage["percent"] < 80 and coverage["below_threshold"] is True
    assert coverage["engine"] == "regorus"
    assert (coverage["note"] is not None) == (engine == "regopy")


def test_coverage_table_lists_uncovered_lines() -> None:
    result = run_cli("policy", "test", str(FIXTURES / "untested"), "--coverage")
    assert result.code == 0  # no threshold: coverage is reported, not enforced
    assert "not covered: forgotten.rego: lines 9-14" in result.stdout
    assert "total" in result.stdout and "25.0%" in result.stdout


def test_default_path_is_local_policy_directory(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "failing", tmp_path / "policy")
    result = run_cli("policy", "test", cwd=tmp_path)
    assert result.code == 1
    assert "test_three_is_denied" in result.stdout


def test_json_failure_document() -> None:
    result = run_cli("policy", "test", str(FIXTURES / "failing"), "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    failed = [c for c in doc["cases"] if not c["passed"]]
    assert failed[0]["location"] == {"file": "limit_test.rego", "line": 10}
    assert failed[0]["error"]
