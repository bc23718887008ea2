"""Rule selection and result mapping, with a scripted engine standing in for Rego."""

from __future__ import annotations

from typing import Any

import pytest

from gatekeeper.errors import PolicyError
from gatekeeper.gate.evaluate import (
    data_ref,
    evaluate_rules,
    exception_name,
    rule_level,
    select_rules,
)
from gatekeeper.model import Level, PolicyInfo, Severity
from gatekeeper.policy.bundle import PolicyBundle, RegoModule, RuleHead
from gatekeeper.policy.engines.interface import EvalResult, TestRunResult


class ScriptedEngine:
    """Returns canned query values: the engine is not under test here."""

    name = "scripted"
    description = "test double"

    def __init__(self, values: dict[str, Any]):
        self.values = values
        self.queries: tuple[str, ...] = ()

    def version(self) -> str:
        return "scripted 0"

    def supports_builtin(self, name: str) -> bool:
        return True

    def check(self, bundle: PolicyBundle, *, timeout: float = 1) -> None:
        return None

    def evaluate(
        self, bundle: PolicyBundle, input_json: str, queries: tuple[str, ...], *, timeout: float = 1
    ) -> EvalResult:
        self.queries = queries
        return EvalResult(values={q: v for q, v in self.values.items() if q in queries})

    def run_tests(
        self, bundle: PolicyBundle, *, coverage: bool = False, timeout: float = 1
    ) -> TestRunResult:
        return TestRunResult(cases=())


def module(
    package: str, *rules: str, info: PolicyInfo | None = None, test: bool = False
) -> RegoModule:
    return RegoModule(
        path=f"{package.replace('.', '/')}.rego",
        source="",
        package=package,
        package_line=1,
        rules=tuple(RuleHead(name=r, line=i + 3) for i, r in enumerate(rules)),
        metadata=info,
        is_test=test,
    )


VULN_INFO = PolicyInfo(
    id="GK-VULN-001",
    title="No high vulnerabilities",
    severity=Severity.HIGH,
    controls=("RV.1.1",),
    remediation="Upgrade it.",
)

BUNDLE = PolicyBundle(
    modules=(
        module("gk.vuln", "deny", "warn_old", "helper", info=VULN_INFO),
        module("gk.lic", "violation_gpl", "exception"),
        module("gk.vuln_test", "test_it", test=True),
    ),
    revision="r1",
    digest="sha256:x",
)


def test_rule_levels_follow_conftest_prefixes() -> None:
    assert rule_level("deny") is Level.DENY
    assert rule_level("violation_no_root") is Level.DENY
    assert rule_level("warn_unpinned") is Level.WARN
    assert rule_level("denylist") is None
    assert rule_level("exception") is None
    assert exception_name("deny_run_as_root") == "run_as_root"
    assert exception_name("deny") == ""  # conftest: "" exempts the bare deny
    assert rule_level("deny_") is None  # conftest's rule-name rule, for every command


def test_data_ref_quotes_non_identifier_segments() -> None:
    assert data_ref("a.b", "deny") == "data.a.b.deny"
    assert data_ref("a.my-pkg", "deny") == 'data.a["my-pkg"].deny'


def test_selects_gate_rules_of_non_test_packages() -> None:
    rules = select_rules(BUNDLE)
    assert [(r.package, r.name, r.level) for r in rules] == [
        ("gk.vuln", "deny", Level.DENY),
        ("gk.vuln", "warn_old", Level.WARN),
        ("gk.lic", "violation_gpl", Level.DENY),
    ]
    assert rules[0].info.id == "GK-VULN-001"
    assert rules[2].info.id == "gk.lic"  # no METADATA: the package is the identity


def test_namespace_globs_narrow_and_unknown_namespace_is_an_error() -> None:
    assert {r.package for r in select_rules(BUNDLE, ["gk.v*"])} == {"gk.vuln"}
    with pytest.raises(PolicyError, match="namespace 'nope' matches no package"):
        select_rules(BUNDLE, ["nope"])


def test_bundle_without_gate_rules_is_an_error() -> None:
    bundle = PolicyBundle(modules=(module("only.helpers", "helper"),))
    with pytest.raises(PolicyError, match="no deny, violation or warn rules"):
        select_rules(bundle)


def test_string_and_object_results_become_violations_with_metadata() -> None:
    engine = ScriptedEngine(
        {
            "data.gk.vuln.deny": [
                "plain message",
                {
                    "msg": "CVE-1 in requests",
                    "subject": "pkg:pypi/requests@2.19.1",
                    "severity": "critical",
                    "evidence": {"vulnerability": "CVE-1"},
                    "extra_field": 7,
                },
            ],
            "data.gk.vuln.warn_old": [],
            "data.gk.lic.violation_gpl": [],
        }
    )
    evaluation = evaluate_rules(BUNDLE, engine, select_rules(BUNDLE), "{}")
    plain, detailed = evaluation.violations
    assert plain.message == "plain message"
    assert plain.severity is Severity.HIGH  # from METADATA
    assert plain.remediation == "Upgrade it."
    assert detailed.severity is Severity.CRITICAL  # the item overrides
    assert detailed.subject == "pkg:pypi/requests@2.19.1"
    assert detailed.evidence == {"vulnerability": "CVE-1", "extra_field": 7}
    assert detailed.location is not None and detailed.location.line == 3
    passed = {r.rule: r.passed for r in evaluation.rules}
    assert passed == {"deny": False, "warn_old": True, "violation_gpl": True}


def test_exception_rule_exempts_by_name_without_prefix() -> None:
    engine = ScriptedEngine(
        {
            "data.gk.lic.violation_gpl": ["GPL component"],
            "data.gk.lic.exception": [["gpl"]],
        }
    )
    evaluation = evaluate_rules(BUNDLE, engine, select_rules(BUNDLE, ["gk.lic"]), "{}")
    assert evaluation.violations == ()
    assert evaluation.exceptions == 1
    assert evaluation.rules[0].exempted


@pytest.mark.parametrize(
    "value",
    [42, [{"no_msg": 1}], [{"msg": ""}], [{"msg": 3}]],
    ids=["number", "object-without-msg", "empty-msg", "non-string-msg"],
)
def test_malformed_rule_results_are_policy_errors_not_passes(value: Any) -> None:
    engine = ScriptedEngine({"data.gk.vuln.deny": value})
    with pytest.raises(PolicyError, match=r"gk/vuln\.rego:3"):
        evaluate_rules(BUNDLE, engine, select_rules(BUNDLE, ["gk.vuln"]), "{}")


def test_boolean_true_rule_is_one_violation() -> None:
    engine = ScriptedEngine({"data.gk.vuln.deny": True})
    evaluation = evaluate_rules(BUNDLE, engine, select_rules(BUNDLE, ["gk.vuln"]), "{}")
    assert [v.message for v in evaluation.violations] == ["deny is true"]
