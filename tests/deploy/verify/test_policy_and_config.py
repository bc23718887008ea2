"""Turning verdicts into rollout actions; loading and validating the metrics configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.deploy.verify import (
    Action,
    AnalysisPolicy,
    JudgeResult,
    Outcome,
    Rule,
    load_judge_config,
    next_action,
    source_class,
)
from gatekeeper.errors import ConfigError


def verdict(outcome: Outcome, rule: Rule = Rule.SCORE) -> JudgeResult:
    return JudgeResult(
        outcome=outcome,
        rule=rule,
        reason=f"{outcome.value} because",
        score=None,
        pass_score=95,
        marginal_score=75,
        confidence=0.98,
        metrics=(),
        groups=(),
    )


P, F, M, WAITING = (
    verdict(o) for o in (Outcome.PASS, Outcome.FAIL, Outcome.MARGINAL, Outcome.INCONCLUSIVE)
)
POLICY = AnalysisPolicy(failure_limit=2, passes_required=3, inconclusive_limit=3, max_intervals=8)


@pytest.mark.parametrize(
    ("history", "action"),
    [
        ([], Action.CONTINUE),
        ([P], Action.CONTINUE),
        ([F], Action.CONTINUE),  # one failing interval is not yet a rollback
        ([F, F], Action.ROLLBACK),
        ([F, M, F], Action.ROLLBACK),  # marginal does not reset a run of failures
        ([F, P, F], Action.CONTINUE),  # a pass does
        ([P, P, P], Action.PROMOTE),
        ([P, WAITING], Action.WAIT),
        ([WAITING, WAITING, WAITING], Action.STOP),
        ([P, M, WAITING, M, P, M, WAITING, M], Action.STOP),  # max_intervals without a decision
    ],
)
def test_next_action(history: list[JudgeResult], action: Action) -> None:
    assert next_action(history, POLICY).action is action


def test_slo_breach_rolls_back_at_once_with_its_reason() -> None:
    step = next_action([verdict(Outcome.FAIL, Rule.SLO_BREACH)], POLICY)
    assert step.action is Action.ROLLBACK and "fail because" in step.reason


def test_a_failure_is_confirmed_on_fresh_data_only_when_asked() -> None:
    fixed = POLICY.model_copy(update={"confirm_on_fresh_data": True})
    step = next_action([P, verdict(Outcome.FAIL, Rule.CRITICAL_METRIC)], fixed)
    assert step.action is Action.CONTINUE and step.fresh_window
    assert not next_action([P], fixed).fresh_window
    assert not next_action([P, WAITING], fixed).fresh_window  # waiting grows the window
    # The default judge is sequential: its window keeps growing after a FAIL.
    step = next_action([P, verdict(Outcome.FAIL, Rule.CRITICAL_METRIC)], POLICY)
    assert step.action is Action.CONTINUE and not step.fresh_window


def test_inconclusive_breaks_a_run_of_failures() -> None:
    # FAIL, no evidence, then a chance FAIL: not two failing analyses in a row.
    assert next_action([F, WAITING, F], POLICY).action is not Action.ROLLBACK
    assert next_action([F, WAITING, F, F], POLICY).action is Action.ROLLBACK
    # MARGINAL neither counts nor resets the run.
    assert next_action([F, M, F], POLICY).action is Action.ROLLBACK


def test_config_file_loads_and_errors_name_file_key_and_line(tmp_path: Path) -> None:
    good = tmp_path / "verify.yaml"
    good.write_text(
        "groups: {errors: 60, latency: 40}\n"
        "metrics:\n"
        "  - {name: error-rate, query: error_rate, critical: true, group: errors,\n"
        "     slo: {max: 0.05}}\n"
        "  - name: p95\n"
        "    source: prometheus\n"
        "    query: 'histogram_quantile(0.95, x{version=\"$version\"})'\n"
        "    group: latency\n"
        "    effect_size: {measure: mean_ratio, allowed: 1.2}\n"
    )
    config = load_judge_config(good)
    assert [m.name for m in config.metrics] == ["error-rate", "p95"]
    assert config.confidence == 0.98 and config.metrics[1].min_samples == 50

    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics:\n  - name: x\n    query: latency\n    direction: up\n")
    with pytest.raises(ConfigError) as caught:
        load_judge_config(bad)
    message = str(caught.value)
    assert "bad.yaml:4" in message and "metrics[0].direction" in message


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("metrics: []\n", "metrics"),
        ("metrics:\n  - {name: a, query: q}\n  - {name: a, query: q}\n", "unique"),
        ("groups: {g: 1}\nmetrics:\n  - {name: a, query: q, group: h}\n", "without a weight"),
        ("pass_score: 70\nmetrics:\n  - {name: a, query: q}\n", "marginal_score"),
        ("metrics:\n  - {name: a, query: q, slo: {statistic: p100, max: 1}}\n", "pNN"),
        ("metrics:\n  - {name: a, query: q, slo: {statistic: p0, max: 1}}\n", "between"),
        ("metrics:\n  - {name: a, query: q, slo: {statistic: rate}}\n", "'max' or 'min'"),
        (
            "metrics:\n  - {name: a, query: q, effect_size: {allowed: 2, critical: 1.5}}\n",
            "critical",
        ),
        ("metrics:\n  - {name: a, query: q, tolerance: -1}\n", "tolerance"),
        ("metrics:\n  - {name: a, query: q, colour: red}\n", "colour"),
    ],
)
def test_invalid_configs_are_config_errors(tmp_path: Path, yaml_text: str, problem: str) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=problem):
        load_judge_config(path)


def test_source_registry() -> None:
    assert source_class("prometheus").name == "prometheus"
    assert source_class("memory").name == "memory"
    with pytest.raises(ConfigError, match="known sources: memory, prometheus"):
        source_class("datadog")
