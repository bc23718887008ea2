"""Each policy of the built-in library fires on a realistic example release (and only where
it should): the real `gatekeeper gate run` process over examples/releases/<scenario>/."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.gate.requirements import MISSING_EVIDENCE_POLICY
from gatekeeper.policy.bundle import builtin_policy_dir, load_bundle
from tests.conftest import run_cli
from tests.policies.scenarios import Scenario, gate_args, load_scenarios, materialize

SCENARIOS = load_scenarios()
EXIT_FOR = {"pass": 0, "warn": 0, "fail": 1}


def fired(scenario: Scenario, tmp_path: Path, *extra: str) -> tuple[dict[str, set[str]], dict]:
    where = materialize(scenario, tmp_path)
    result = run_cli(*gate_args(scenario), *extra, cwd=where)
    assert result.code == EXIT_FOR[scenario.outcome], result.stderr or result.stdout[:2000]
    decision = result.json()
    levels: dict[str, set[str]] = {"deny": set(), "warn": set()}
    for violation in decision["violations"]:
        levels[violation["level"]].add(violation["policy"])
    return levels, decision


def test_scenarios_are_present() -> None:
    names = {s.name for s in SCENARIOS}
    assert {"clean", "log4shell", "licenses", "stale-sbom", "supply-chain"} <= names


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario_fires_exactly_the_expected_policies(scenario: Scenario, tmp_path: Path) -> None:
    levels, decision = fired(scenario, tmp_path)
    assert decision["outcome"] == scenario.outcome
    assert levels["deny"] == scenario.deny
    assert levels["warn"] == scenario.warn
    # Every violation names what it is about and how to fix it.
    for violation in decision["violations"]:
        assert violation["message"] and violation["remediation"], violation


def test_every_library_policy_fires_on_some_example() -> None:
    bundle = load_bundle([str(builtin_policy_dir())])
    ids = {m.metadata.id for m in bundle.modules if m.metadata is not None and not m.is_test}
    ids.add(MISSING_EVIDENCE_POLICY)  # the gate's own evidence requirement, not a Rego policy
    shown = set().union(*(s.deny | s.warn for s in SCENARIOS))
    assert ids - shown == set(), "policies no example shows firing"
    assert shown - ids == set(), "examples expect policies that do not exist"


def test_clean_release_passes_with_nothing_to_report(tmp_path: Path) -> None:
    clean = next(s for s in SCENARIOS if s.name == "clean")
    _, decision = fired(clean, tmp_path)
    assert decision["outcome"] == "pass" and decision["violations"] == []
    assert decision["summary"]["failures"] == 0 and decision["summary"]["warnings"] == 0


def test_log4shell_messages_name_the_exploited_ids_and_triage_counts(tmp_path: Path) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "log4shell")
    _, decision = fired(scenario, tmp_path)
    by_policy: dict[str, list[dict]] = {}
    for violation in decision["violations"]:
        by_policy.setdefault(violation["policy"], []).append(violation)
    kev = sorted(v["message"] for v in by_policy["GK-VULN-002"])
    assert any(m.startswith("GHSA-jfh8-c2jp-5v3q (CVE-2021-44228) is known") for m in kev)
    assert all(v["severity"] == "critical" for v in by_policy["GK-VULN-002"])
    triage = by_policy["GK-VULN-003"]
    assert len(triage) == 3
    assert all("2 untriaged, 1 under investigation" in v["message"] for v in triage)
    # snakeyaml is VEX not_affected: no policy mentions it.
    assert not any("snakeyaml" in v["message"] for v in decision["violations"])


def test_stale_sbom_reports_score_and_missing_elements(tmp_path: Path) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "stale-sbom")
    _, decision = fired(scenario, tmp_path)
    (ntia,) = [v for v in decision["violations"] if v["policy"] == "GK-SBOM-002"]
    assert ntia["evidence"]["score"] < 0.8
    assert "author" in ntia["evidence"]["missing"] and "dependencies" in ntia["evidence"]["missing"]
    assert "supplier (0% of components)" in ntia["message"]


def test_a_scenario_on_regopy_gives_the_same_verdict(tmp_path: Path) -> None:
    scenario = next(s for s in SCENARIOS if s.name == "supply-chain")
    levels, decision = fired(scenario, tmp_path, "--engine", "regopy")
    assert decision["engine"]["name"] == "regopy"
    assert levels["deny"] == scenario.deny and levels["warn"] == scenario.warn


def test_without_the_settings_the_strict_policies_stay_quiet(tmp_path: Path) -> None:
    """Defaults: no allow-list, no known-exploited list, no denied packages."""
    scenario = next(s for s in SCENARIOS if s.name == "licenses")
    where = materialize(scenario, tmp_path)
    result = run_cli(
        "gate",
        "run",
        "--release",
        "release.yaml",
        "--format",
        "json",
        *scenario.evidence,
        cwd=where,
    )
    policies = {v["policy"] for v in result.json()["violations"]}
    assert "GK-LIC-002" not in policies and "GK-LIC-001" in policies
