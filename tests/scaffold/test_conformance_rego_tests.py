"""The golden-path conformance policies (`scaffold check`) pass their own Rego tests on both
embedded engines, with full line coverage."""

from __future__ import annotations

import pytest

from tests.conftest import REPO, run_cli

CONFORMANCE = REPO / "gatekeeper" / "scaffold" / "policies"


@pytest.mark.parametrize("engine", ["regorus", "regopy"])
def test_conformance_policy_tests_pass_with_full_coverage(engine: str) -> None:
    result = run_cli(
        "policy", "test", str(CONFORMANCE), "--engine", engine, "--coverage", "--threshold", "100"
    )
    assert result.code == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
    assert "coverage 100.0%" in result.stdout


def test_conformance_policies_lint_clean() -> None:
    """Ids, severities and known controls, so the audit report can map them like any policy."""
    result = run_cli("policy", "lint", str(CONFORMANCE))
    assert result.code == 0, result.stdout + result.stderr
