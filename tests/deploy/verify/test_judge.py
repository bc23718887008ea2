"""The judge's rules, as a release manager would meet them."""

# ruff: noqa: S311 - seeded test data, not secrets

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from gatekeeper.deploy.verify import (
    Counts,
    EffectSize,
    JudgeConfig,
    MetricConfig,
    MetricOutcome,
    Observation,
    Outcome,
    Rule,
    Samples,
    SloLimit,
    default_judge_config,
    judge,
)


def lognormal(seed: int, n: int, median: float = 100.0, sigma: float = 0.5) -> Samples:
    rng = random.Random(seed)
    mu = math.log(median)
    return Samples(tuple(rng.lognormvariate(mu, sigma) for _ in range(n)))


def obs(baseline: Samples | Counts, canary: Samples | Counts) -> Observation:
    return Observation(baseline=baseline, canary=canary)


def metric(name: str = "latency", **fields: Any) -> MetricConfig:
    return MetricConfig.model_validate({"name": name, "query": "latency", **fields})


def config(*metrics: MetricConfig, **fields: Any) -> JudgeConfig:
    return JudgeConfig.model_validate({"metrics": metrics, **fields})


HEALTHY = obs(lognormal(1, 400), lognormal(2, 400))
SLOWER = obs(lognormal(1, 400), lognormal(2, 400, median=180))
FASTER = obs(lognormal(1, 400), lognormal(2, 400, median=50))


def test_healthy_canary_passes_with_the_numbers() -> None:
    verdict = judge(config(metric()), {"latency": HEALTHY})
    assert verdict.outcome is Outcome.PASS
    assert verdict.score == 100
    m = verdict.metrics[0]
    assert m.rule is Rule.NOT_SIGNIFICANT
    assert (m.n_baseline, m.n_canary) == (400, 400)
    assert m.baseline_median is not None and 85 < m.baseline_median < 115
    assert m.u_statistic is not None and m.p_value is not None and m.p_value >= 0.02
    assert m.shift_lower is not None and m.shift_upper is not None
    assert m.shift_lower <= m.shift <= m.shift_upper  # type: ignore[operator]
    assert m.test == "mann_whitney_normal" and m.shift_method == "hodges_lehmann"
    assert m.confidence == 0.98 and m.tolerance == 0.25


def test_regression_fails_and_says_why() -> None:
    verdict = judge(config(metric()), {"latency": SLOWER})
    assert verdict.outcome is Outcome.FAIL
    m = verdict.metrics[0]
    assert m.rule is Rule.REGRESSION
    assert m.relative_effect is not None and m.relative_effect > 0.5
    assert "significant increase" in m.reason and "beyond tolerance" in m.reason
    assert "latency" in verdict.reason


@pytest.mark.parametrize(
    ("direction", "data", "expected", "rule"),
    [
        ("increase", FASTER, Outcome.PASS, Rule.HARMLESS_DIRECTION),
        ("decrease", FASTER, Outcome.FAIL, Rule.REGRESSION),
        ("decrease", SLOWER, Outcome.PASS, Rule.HARMLESS_DIRECTION),
        ("either", FASTER, Outcome.FAIL, Rule.REGRESSION),
        ("either", SLOWER, Outcome.FAIL, Rule.REGRESSION),
    ],
)
def test_direction_decides_which_change_is_bad(
    direction: str, data: Observation, expected: Outcome, rule: Rule
) -> None:
    verdict = judge(config(metric(direction=direction)), {"latency": data})
    assert verdict.outcome is expected
    assert verdict.metrics[0].rule is rule


def test_critical_metric_failure_zeroes_the_score() -> None:
    cfg = config(
        metric("errors", critical=True, group="errors"),
        metric("latency", group="latency"),
        metric("p95", group="latency"),
        groups={"errors": 10, "latency": 90},
    )
    verdict = judge(cfg, {"errors": SLOWER, "latency": HEALTHY, "p95": HEALTHY})
    assert verdict.outcome is Outcome.FAIL
    assert verdict.rule is Rule.CRITICAL_METRIC
    assert verdict.score == 0
    # The same failure on a non-critical metric only costs its group's weight: 90 -> marginal.
    cfg_soft = config(
        metric("errors", group="errors"),
        metric("latency", group="latency"),
        metric("p95", group="latency"),
        groups={"errors": 10, "latency": 90},
    )
    soft = judge(cfg_soft, {"errors": SLOWER, "latency": HEALTHY, "p95": HEALTHY})
    assert soft.outcome is Outcome.MARGINAL
    assert soft.score == pytest.approx(90)


def test_weighted_groups_and_thresholds() -> None:
    cfg = config(
        metric("a", group="g1"),
        metric("b", group="g2"),
        metric("c", group="g2", weight=3),
        groups={"g1": 1, "g2": 3},
    )
    # g1 fails entirely (0), g2 passes (100): 3/4 of the weight -> 75 = marginal threshold.
    verdict = judge(cfg, {"a": SLOWER, "b": HEALTHY, "c": HEALTHY})
    assert verdict.score == pytest.approx(75)
    assert verdict.outcome is Outcome.MARGINAL
    # Inside g2, c weighs 3 of 4: if c fails, g2 scores 25 and the canary 18.75 -> fail.
    verdict = judge(cfg, {"a": HEALTHY, "b": HEALTHY, "c": SLOWER})
    assert verdict.score == pytest.approx(100 / 4 + 25 * 3 / 4)
    assert verdict.outcome is Outcome.FAIL
    groups = {g.name: g for g in verdict.groups}
    assert groups["g2"].failed == 1 and groups["g2"].passed == 1


def test_dry_run_metric_is_reported_but_never_fails_the_canary() -> None:
    cfg = config(
        metric("latency"),
        metric("new-metric", dry_run=True, critical=True, slo=SloLimit(statistic="p50", max=10)),
    )
    verdict = judge(cfg, {"latency": HEALTHY, "new-metric": SLOWER})
    assert verdict.outcome is Outcome.PASS
    trial = verdict.metrics[1]
    assert trial.dry_run and trial.outcome is MetricOutcome.FAIL
    assert trial.rule is Rule.SLO_BREACH  # it would have failed, and says so


def test_only_dry_run_metrics_is_inconclusive() -> None:
    verdict = judge(config(metric(dry_run=True)), {"latency": HEALTHY})
    assert verdict.outcome is Outcome.INCONCLUSIVE


def test_too_little_data_is_inconclusive_even_for_a_big_difference() -> None:
    tiny = obs(lognormal(1, 49), lognormal(2, 49, median=1000))
    verdict = judge(config(metric()), {"latency": tiny})
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert verdict.rule is Rule.INSUFFICIENT_DATA
    m = verdict.metrics[0]
    assert m.rule is Rule.MIN_SAMPLES and m.p_value is None
    assert "49 baseline and 49 canary samples, 50 needed" in m.reason


def test_one_inconclusive_metric_blocks_a_pass() -> None:
    cfg = config(metric("a"), metric("b"))
    verdict = judge(cfg, {"a": HEALTHY, "b": obs(lognormal(1, 400), lognormal(2, 10))})
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert verdict.score == 100 and verdict.best_case_score == 100
    assert "waiting for data" in verdict.reason


def test_fails_when_even_passing_missing_metrics_could_not_save_it() -> None:
    cfg = config(metric("a", weight=3), metric("b"))
    verdict = judge(cfg, {"a": SLOWER, "b": obs(lognormal(1, 400), lognormal(2, 10))})
    assert verdict.outcome is Outcome.FAIL
    assert verdict.rule is Rule.FAIL_REGARDLESS
    assert verdict.best_case_score == pytest.approx(25)


def test_missing_observation_and_source_reason_are_inconclusive() -> None:
    cfg = config(metric("a"), metric("b"))
    verdict = judge(cfg, {"a": Observation.unavailable("prometheus at x not reachable")})
    assert verdict.outcome is Outcome.INCONCLUSIVE
    a, b = verdict.metrics
    assert a.rule is Rule.NO_DATA and "not reachable" in a.reason
    assert b.rule is Rule.NO_DATA


def test_slo_fails_fast_before_min_samples() -> None:
    errors = metric(
        "errors", query="error_rate", critical=True, slo=SloLimit(statistic="rate", max=0.05)
    )
    # 30 canary requests, 12 failed: far fewer than 50, but 40 % errors is certainly above 5 %.
    verdict = judge(config(errors), {"errors": obs(Counts(1, 300), Counts(12, 30))})
    assert verdict.outcome is Outcome.FAIL
    assert verdict.rule is Rule.SLO_BREACH
    slo = verdict.metrics[0].slo
    assert slo is not None and slo.breached and slo.bound is not None and slo.bound > 0.05


def test_slo_does_not_fire_on_one_unlucky_request() -> None:
    errors = metric("errors", query="error_rate", slo=SloLimit(statistic="rate", max=0.05))
    # 1 of 3 requests failed: 33 %, but that is no evidence of a 5 % breach.
    verdict = judge(config(errors), {"errors": obs(Counts(1, 300), Counts(1, 3))})
    assert verdict.outcome is Outcome.INCONCLUSIVE
    slo = verdict.metrics[0].slo
    assert slo is not None and not slo.breached and slo.value == pytest.approx(1 / 3)


def test_latency_slo_on_a_quantile() -> None:
    m = metric(slo=SloLimit(statistic="p95", max=300))
    verdict = judge(config(m), {"latency": SLOWER})
    assert verdict.rule is Rule.SLO_BREACH  # canary p95 ~ 410 ms, healthy ~ 230 ms
    assert judge(config(m), {"latency": HEALTHY}).metrics[0].slo.breached is False  # type: ignore[union-attr]


def test_significant_but_small_difference_is_within_tolerance() -> None:
    # 4 % slower on 5,000 requests a side: real and significant, and no reason to roll back.
    data = obs(lognormal(1, 5_000), lognormal(2, 5_000, median=104))
    verdict = judge(config(metric()), {"latency": data})
    m = verdict.metrics[0]
    assert m.p_value is not None and m.p_value < 0.02
    assert m.rule is Rule.WITHIN_TOLERANCE and verdict.outcome is Outcome.PASS
    # With no tolerance the same data fails.
    strict = judge(config(metric(tolerance=0)), {"latency": data})
    assert strict.outcome is Outcome.FAIL


def test_effect_size_gates() -> None:
    slightly = obs(lognormal(1, 400), lognormal(2, 400, median=140))
    gated = metric(effect_size=EffectSize(measure="mean_ratio", allowed=1.5, critical=3.0))
    verdict = judge(config(gated), {"latency": slightly})
    m = verdict.metrics[0]
    assert m.rule is Rule.BELOW_EFFECT_SIZE and verdict.outcome is Outcome.PASS
    assert m.effect_size is not None and 1.2 < m.effect_size < 1.5
    awful = obs(lognormal(1, 400), lognormal(2, 400, median=500))
    verdict = judge(config(gated), {"latency": awful})
    assert verdict.rule is Rule.CRITICAL_METRIC
    assert verdict.metrics[0].rule is Rule.CRITICAL_EFFECT_SIZE and verdict.score == 0
    cles = metric(effect_size=EffectSize(measure="cles", allowed=0.9))
    verdict = judge(config(cles), {"latency": slightly})
    assert verdict.metrics[0].rule is Rule.BELOW_EFFECT_SIZE


def test_error_rate_as_counts_uses_the_exact_test() -> None:
    errors = metric("errors", query="error_rate", critical=True, abs_tolerance=0.02)
    healthy = judge(config(errors), {"errors": obs(Counts(30, 4000), Counts(8, 1000))})
    assert healthy.outcome is Outcome.PASS
    m = healthy.metrics[0]
    assert m.test == "fisher_exact" and m.shift_method == "difference_of_proportions"
    assert m.baseline_mean == pytest.approx(0.0075)
    bad = judge(config(errors), {"errors": obs(Counts(30, 4000), Counts(58, 1000))})
    assert bad.outcome is Outcome.FAIL and bad.rule is Rule.CRITICAL_METRIC
    assert bad.metrics[0].shift == pytest.approx(0.058 - 0.0075)


def test_no_difference_on_little_data_is_not_a_pass() -> None:
    # 0.8 % vs 0.75 %: nothing significant, but 1,000 requests cannot rule out a rise beyond
    # the tolerated 25 % of 0.75 % (0.19 points). Waiting is the honest answer.
    errors = metric("errors", query="error_rate")
    verdict = judge(config(errors), {"errors": obs(Counts(30, 4000), Counts(8, 1000))})
    assert verdict.outcome is Outcome.INCONCLUSIVE
    m = verdict.metrics[0]
    assert m.rule is Rule.UNCERTAIN and m.p_value is not None and m.p_value > 0.5
    assert m.allowed_shift == pytest.approx(0.25 * 0.0075)
    assert m.shift_upper is not None and m.shift_upper > m.allowed_shift
    assert "more data needed" in m.reason
    # Sixty latency samples a side, no difference: the interval is too wide for a 1 % tolerance.
    data = obs(lognormal(1, 60), lognormal(2, 60))
    assert judge(config(metric(tolerance=0.01)), {"latency": data}).metrics[0].rule is (
        Rule.UNCERTAIN
    )


def test_verdict_serializes_to_json() -> None:
    cfg = default_judge_config()
    verdict = judge(
        cfg,
        {
            "error-rate": obs(Counts(30, 4000), Counts(8, 1000)),
            "latency": HEALTHY,
            "slow-requests": obs(Counts(200, 4000), Counts(52, 1000)),
        },
    )
    document = json.loads(json.dumps(verdict.to_document()))
    assert document["schema"] == "gatekeeper.verdict/v1"
    assert document["outcome"] == "pass", verdict.reason
    assert {m["name"] for m in document["metrics"]} == {"error-rate", "latency", "slow-requests"}


# ---------------------------------------------------------------------------------------------
# Non-finite data, time bounds, sequential looks, reasons naming every failing metric
# ---------------------------------------------------------------------------------------------


def test_non_finite_samples_are_refused_at_the_source() -> None:
    with pytest.raises(ValueError, match="finite"):
        Samples((1.0, math.nan, 3.0))
    with pytest.raises(ValueError, match="finite"):
        Samples((math.inf,))
    with pytest.raises(ValueError, match="counts"):
        Counts(5, 3)


def test_nan_latencies_from_the_proxy_make_the_window_missing_data() -> None:
    from gatekeeper.deploy.verify import AnalysisWindow, MemorySamples, MemorySource

    store = MemorySamples()
    for i in range(200):
        store.record("baseline", 200, 80.0 + i % 7, at=float(i))
        store.record("canary", 200, math.nan if i == 50 else 80.0 + i % 5, at=float(i))
    source = MemorySource(store)
    window = AnalysisWindow(start=0, end=300, baseline="v1", canary="v2")
    latency = source.fetch(metric(), window)
    assert latency.missing is not None and "canary 1" in latency.missing
    # The status of that request is still known: the error rate is judged as usual.
    errors = source.fetch(metric("errors", query="error_rate"), window)
    assert errors.missing is None and errors.canary == Counts(0, 200)
    verdict = judge(config(metric()), {"latency": latency})
    assert verdict.outcome is Outcome.INCONCLUSIVE and verdict.metrics[0].rule is Rule.NO_DATA


def test_a_nan_reaching_the_statistics_is_refused_not_a_hang() -> None:
    from gatekeeper.deploy.verify import stats

    with pytest.raises(ValueError, match="non-finite"):
        stats.mann_whitney([1.0, math.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="non-finite"):
        stats.hodges_lehmann([1.0, 2.0], [math.nan, 2.0])
    # The rank loop itself always advances, even on a value unequal to itself.
    assert stats._rank_sum([math.nan], [1.0])[0] in (1.0, 2.0)


def test_an_analysis_out_of_time_is_inconclusive_never_a_verdict() -> None:
    ticks = iter([0.0, 100.0])
    cfg = config(metric(), metric("slower"), analysis_timeout=5)
    verdict = judge(
        cfg, {"latency": HEALTHY, "slower": SLOWER}, deadline=5.0, clock=lambda: next(ticks)
    )
    assert verdict.outcome is Outcome.INCONCLUSIVE
    first, second = verdict.metrics
    assert first.outcome is MetricOutcome.PASS
    assert second.rule is Rule.TIME_BUDGET and "5 s" in second.reason


def test_huge_windows_are_thinned_to_a_bound() -> None:
    big = obs(lognormal(1, 3000), lognormal(2, 3000))
    verdict = judge(config(metric(), max_samples=500), {"latency": big})
    m = verdict.metrics[0]
    assert m.n_baseline == 500 and m.n_canary == 500
    assert any("thinned evenly to 500" in note for note in m.notes)


def test_sequential_intervals_are_wider_than_a_single_look() -> None:
    fixed = judge(config(metric(), sequential=False), {"latency": HEALTHY}).metrics[0]
    always = judge(config(metric()), {"latency": HEALTHY}).metrics[0]
    assert always.sequential and not fixed.sequential
    assert fixed.shift == always.shift
    assert always.shift_lower < fixed.shift_lower  # type: ignore[operator]
    assert always.shift_upper > fixed.shift_upper  # type: ignore[operator]


def test_sequential_test_holds_its_confidence_over_repeated_looks() -> None:
    # A/A: a growing window looked at 20 times. With fixed-sample 95 % intervals, some look
    # usually "finds" a difference; the always-valid interval must stay honest over all looks.
    from gatekeeper.deploy.verify import stats

    z = 1.959963984540054

    def ever_significant(seed: int, always: bool) -> bool:
        rng = random.Random(seed)
        total_a = total_b = 0.0
        n = 0
        for _ in range(20):
            total_a += sum(rng.gauss(0, 1) for _ in range(30))
            total_b += sum(rng.gauss(0, 1) for _ in range(30))
            n += 30
            estimate, se = (total_b - total_a) / n, math.sqrt(2 / n)
            shift = stats.Shift(estimate, estimate - z * se, estimate + z * se, 0.95, "mean")
            if always:
                shift = stats.always_valid(shift, tau=0.5)
            if shift.lower > 0 or shift.upper < 0:
                return True
        return False

    runs = 300
    fixed = sum(ever_significant(s, False) for s in range(runs))
    always = sum(ever_significant(s, True) for s in range(runs))
    assert always <= 0.05 * runs  # valid at 95 % over every look together
    assert fixed > 0.1 * runs  # twenty looks at a fixed 95 % interval: far more than 5 %


def test_a_rollback_reason_names_every_failing_metric_with_numbers() -> None:
    errors = metric("errors", query="error_rate", critical=True, abs_tolerance=0.02)
    verdict = judge(
        config(errors, metric()),
        {"errors": obs(Counts(30, 4000), Counts(80, 1000)), "latency": SLOWER},
    )
    assert verdict.outcome is Outcome.FAIL and verdict.rule is Rule.CRITICAL_METRIC
    assert "errors:" in verdict.reason and "latency:" in verdict.reason
    assert "shift" in verdict.reason and "n=400/400" in verdict.reason


def test_error_rate_tolerance_is_relative_with_an_absolute_floor() -> None:
    cfg = default_judge_config()
    error_rate = cfg.metrics[0]
    assert error_rate.abs_tolerance == 0.02 and error_rate.tolerance == 0.25
    # Zero-error baseline: the floor, not zero, is what is tolerated.
    zero = judge(cfg, {"error-rate": obs(Counts(0, 20000), Counts(0, 5000))}).metrics[0]
    assert zero.allowed_shift == pytest.approx(0.02)
    # A high baseline (no SLO in the way): 25 % of it.
    no_slo = cfg.model_copy(update={"metrics": (error_rate.model_copy(update={"slo": None}),)})
    high = judge(no_slo, {"error-rate": obs(Counts(1600, 10000), Counts(400, 2500))}).metrics[0]
    assert high.allowed_shift == pytest.approx(0.04)
    # +5 points on a zero-error baseline fails at steady traffic.
    bad = judge(cfg, {"error-rate": obs(Counts(0, 2400), Counts(30, 600))})
    assert bad.outcome is Outcome.FAIL


def test_services_declare_slos_checked_on_the_canary_alone() -> None:
    from gatekeeper.deploy.verification_config import VerificationConfig

    cfg = VerificationConfig.model_validate(
        {"slo": {"error_rate": 0.01, "latency_p95_ms": 250}}
    ).judge_config()
    slo_metrics = {m.name: m for m in cfg.metrics if not m.compare}
    assert set(slo_metrics) == {"slo-error-rate", "slo-latency-p95-ms"}
    latency = slo_metrics["slo-latency-p95-ms"]
    # The baseline is as slow as the canary: a comparison sees nothing, the SLO fails it.
    slow = obs(lognormal(1, 400, median=300), lognormal(2, 400, median=300))
    verdict = judge(config(latency), {latency.name: slow})
    assert verdict.outcome is Outcome.FAIL and verdict.rule is Rule.SLO_BREACH
    fast = obs(lognormal(1, 10), lognormal(2, 400, median=80))
    ok = judge(config(latency), {latency.name: fast})
    assert ok.outcome is Outcome.PASS and ok.metrics[0].rule is Rule.WITHIN_SLO
    with pytest.raises(ValueError, match="unknown SLO"):
        VerificationConfig.model_validate({"slo": {"latency_p95": 250}})
    with pytest.raises(ValueError, match="needs an slo"):
        metric(compare=False)


def test_the_last_planned_look_rules_out_what_an_always_valid_interval_cannot() -> None:
    # Low traffic after 10 one-minute looks: 600 canary and 2,400 baseline requests, error
    # rates 0.83 % and 0.75 %. The always-valid interval still allows +2 points (the
    # tolerance); the bound of the window's last planned look rules it out: promoted within
    # the plan instead of stopping undecided.
    from gatekeeper.deploy.verify import Look

    errors = metric("errors", query="error_rate", critical=True, abs_tolerance=0.02)
    data = {"errors": obs(Counts(18, 2400), Counts(5, 600))}
    unplanned = judge(config(errors), data).metrics[0]
    assert unplanned.outcome is MetricOutcome.INCONCLUSIVE and unplanned.rule is Rule.UNCERTAIN
    last = judge(config(errors), data, look=Look(10, 10)).metrics[0]
    assert last.outcome is MetricOutcome.PASS, last.reason
    assert "ruled-out bound" in last.reason and "at look 10 of 10" in last.reason
    first = judge(config(errors), data, look=Look(1, 10)).metrics[0]
    assert first.outcome is MetricOutcome.INCONCLUSIVE  # one minute in, that is not enough
    # A regression is still established by the always-valid interval, look or not.
    bad = {"errors": obs(Counts(18, 2400), Counts(40, 600))}
    assert judge(config(errors), bad, look=Look(10, 10)).rule is Rule.CRITICAL_METRIC
