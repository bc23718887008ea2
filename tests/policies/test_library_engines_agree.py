"""The built-in library gives identical results on every installed engine: its Rego tests
pass on each, and each example release gets the same violations (policy, rule, level,
message) from each. `opa` is optional and skipped when it is not installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.policy.bundle import builtin_policy_dir, load_bundle
from gatekeeper.policy.engines.opa_engine import opa_installed
from gatekeeper.policy.engines.registry import available_engines, get_engine
from tests.conftest import run_cli
from tests.policies.scenarios import Scenario, gate_args, load_scenarios, materialize

SCENARIOS = load_scenarios()
NEEDS_OPA = pytest.mark.skipif(not opa_installed(), reason="opa engine not installed")


@NEEDS_OPA
def test_library_policy_tests_pass_on_opa() -> None:
    bundle = load_bundle([str(builtin_policy_dir())])
    result = get_engine("opa").run_tests(bundle, timeout=600)
    failed = [f"{c.package}.{c.name}: {c.error}" for c in result.cases if not c.passed]
    assert failed == []
    assert len(result.cases) >= 150


def _violations(scenario: Scenario, tmp_path: Path, engine: str) -> list[tuple[str, ...]]:
    where = materialize(scenario, tmp_path / engine)
    result = run_cli(*gate_args(scenario), "--engine", engine, "--no-ledger", cwd=where)
    assert result.code in (0, 1), result.stderr or result.stdout[:2000]
    decision = result.json()
    assert decision["engine"]["name"] == engine
    return sorted(
        (v["policy"], v["rule"], v["level"], v["message"]) for v in decision["violations"]
    )


@pytest.mark.e2e
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_installed_engine_gives_the_same_violations(
    scenario: Scenario, tmp_path: Path
) -> None:
    engines = available_engines()
    assert {"regorus", "regopy"} <= set(engines)
    reference = _violations(scenario, tmp_path, "regorus")
    for engine in engines:
        if engine != "regorus":
            assert _violations(scenario, tmp_path, engine) == reference, engine
