"""The canary judge, in the style of Kayenta: baseline against canary, metric by metric.

Per metric, in order (the first rule that applies decides, and is recorded):

1. no data from the source -> INCONCLUSIVE (``no_data``);
2. absolute SLO on the canary, when a one-sided confidence bound is beyond the limit -> FAIL
   (``slo_breach``, fails the whole canary: fail fast);
3. fewer than ``min_samples`` on either side -> INCONCLUSIVE (``min_samples``);
4. two-sided Mann-Whitney (Fisher exact for proportions) not significant at the confidence ->
   PASS (``not_significant``) if the confidence interval of the shift rules out a regression
   beyond the tolerated shift, else INCONCLUSIVE (``uncertain``): on low traffic "no
   significant difference" is often only "too little data to tell", and a pass needs
   evidence;
5. significant in the harmless direction -> PASS (``harmless_direction``);
6. shift estimate within the tolerated shift — ``tolerance`` x |baseline median| (the rate,
   for proportions) or ``abs_tolerance``, whichever is larger — -> PASS
   (``within_tolerance``), again only once the interval rules out more (else ``uncertain``):
   a real but small difference is not a reason to roll back;
7. effect size beyond its ``critical`` gate -> FAIL, fails the whole canary; not beyond
   ``allowed`` -> PASS (``below_effect_size``);
8. otherwise FAIL (``regression``).

The verdict: a failing critical metric (or SLO breach) zeroes the score -> FAIL. Otherwise a
weighted score over groups (percent of each group's judged weight that passed, weighted by
group). Any inconclusive metric makes the verdict INCONCLUSIVE — a canary never passes on
missing data — unless the canary would fail even if every inconclusive metric passed. Dry-run
metrics are judged and reported but never count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from gatekeeper.deploy.verify import stats
from gatekeeper.deploy.verify.config import Direction, JudgeConfig, MetricConfig, quantile_of
from gatekeeper.deploy.verify.results import (
    GroupScore,
    JudgeResult,
    MetricOutcome,
    MetricResult,
    Outcome,
    Rule,
    SloCheck,
)
from gatekeeper.deploy.verify.sources.interface import (
    AnalysisWindow,
    Counts,
    Data,
    MetricSource,
    Observation,
    Samples,
)
from gatekeeper.errors import ConfigError


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g}"


# ---------------------------------------------------------------------------------------------
# Per metric
# ---------------------------------------------------------------------------------------------


def _slo_check(metric: MetricConfig, canary: Data, confidence: float) -> SloCheck | None:
    slo = metric.slo
    if slo is None:
        return None
    q = quantile_of(slo.statistic)
    value: float | None
    upper: float | None
    lower: float | None
    if isinstance(canary, Counts):
        if q is not None:
            raise ConfigError(
                f"metric {metric.name}: slo statistic must be 'rate' for a proportion"
            )
        value = canary.events / canary.total if canary.total else None
        lower, upper = (
            stats.binomial_bounds(canary.events, canary.total, confidence)
            if canary.total
            else (None, None)
        )
    else:
        if q is None:
            raise ConfigError(
                f"metric {metric.name}: slo statistic 'rate' needs a proportion metric; "
                "use median or pNN"
            )
        values = canary.values
        value = stats.quantile(values, q) if values else None
        lower = stats.quantile_lower_bound(values, q, confidence)
        upper = stats.quantile_upper_bound(values, q, confidence)
    if slo.max is not None:
        breached = lower is not None and lower > slo.max
        bound, limit, kind = lower, slo.max, "max"
        if slo.min is not None and not breached and upper is not None and upper < slo.min:
            breached, bound, limit, kind = True, upper, slo.min, "min"
    elif slo.min is not None:
        breached = upper is not None and upper < slo.min
        bound, limit, kind = upper, slo.min, "min"
    else:  # the model requires one of them
        return None
    return SloCheck(
        statistic=slo.statistic,
        value=value,
        bound=bound,
        limit=limit,
        limit_kind=kind,
        breached=breached,
        n=canary.n,
    )


def _describe(data: Data) -> tuple[float | None, float | None]:
    """(median, mean); a proportion has a rate (as mean) and no median."""
    if isinstance(data, Counts):
        return None, (data.events / data.total if data.total else None)
    if not data.values:
        return None, None
    return stats.median(data.values), math.fsum(data.values) / len(data.values)


def _effect(
    measure: str,
    bad: str,
    baseline_mean: float | None,
    canary_mean: float | None,
    u: float,
    pairs: int,
) -> float | None:
    """Effect size in the bad direction (`bad` is increase|decrease); inf when the baseline
    mean is zero and the canary's is not."""
    if measure == "cles":
        cles = u / pairs
        return cles if bad == Direction.INCREASE else 1 - cles
    if baseline_mean is None or canary_mean is None:
        return None
    num, den = (
        (canary_mean, baseline_mean)
        if bad == Direction.INCREASE
        else (
            baseline_mean,
            canary_mean,
        )
    )
    if den == 0:
        return math.inf if num > 0 else 1.0
    return num / den


def _thin(data: Data, limit: int) -> tuple[Data, str | None]:
    """At most ``limit`` samples, taken evenly in arrival order; proportions are counts and
    cost nothing to judge, so they are kept whole."""
    if not isinstance(data, Samples) or data.n <= limit:
        return data, None
    stride = data.n / limit
    kept = tuple(data.values[int(i * stride)] for i in range(limit))
    return Samples(kept), f"{data.n} samples thinned evenly to {limit} to bound the analysis"


def judge_metric(
    metric: MetricConfig,
    observation: Observation | None,
    confidence: float,
    max_samples: int | None = None,
    *,
    sequential: bool = False,
    look: stats.Look | None = None,
) -> MetricResult:
    """Classify one metric; see the module docstring for the order of the rules.

    ``look`` (sequential only): which analysis of its window this is, of how many planned.
    A regression is then ruled out by a bound that spends the error over the planned looks
    (:func:`stats.ruled_out_bound`), while a regression is still established by the
    always-valid interval: each decision keeps its own error whatever the number of looks."""
    conf = metric.confidence or confidence
    fields: dict[str, Any] = {
        "name": metric.name,
        "group": metric.group,
        "weight": metric.weight,
        "critical": metric.critical,
        "dry_run": metric.dry_run,
        "source": metric.source,
        "direction": metric.direction.value,
        "min_samples": metric.min_samples,
        "confidence": conf,
        "tolerance": metric.tolerance,
        "abs_tolerance": metric.abs_tolerance,
    }
    if metric.effect_size is not None:
        fields["effect_measure"] = metric.effect_size.measure
        fields["effect_allowed"] = metric.effect_size.allowed
        fields["effect_critical"] = metric.effect_size.critical

    def result(outcome: MetricOutcome, rule: Rule, reason: str, **extra: Any) -> MetricResult:
        return MetricResult(outcome=outcome, rule=rule, reason=reason, **{**fields, **extra})

    if observation is None:
        return result(MetricOutcome.INCONCLUSIVE, Rule.NO_DATA, "no observation was collected")
    fields["notes"] = observation.notes
    base, can = observation.baseline, observation.canary
    if observation.missing or base is None or can is None:
        why = observation.missing or "the source returned no data"
        return result(MetricOutcome.INCONCLUSIVE, Rule.NO_DATA, why)
    if type(base) is not type(can):
        return result(
            MetricOutcome.INCONCLUSIVE,
            Rule.NO_DATA,
            "the source returned different kinds of data for baseline and canary",
        )
    if max_samples is not None:
        base, base_note = _thin(base, max_samples)
        can, can_note = _thin(can, max_samples)
        thinned = tuple(
            f"{side}: {note}"
            for side, note in (("baseline", base_note), ("canary", can_note))
            if note
        )
        if thinned:
            fields["notes"] = (*observation.notes, *thinned)
    proportion = isinstance(base, Counts)
    b_median, b_mean = _describe(base)
    c_median, c_mean = _describe(can)
    fields.update(
        kind="proportion" if proportion else "samples",
        n_baseline=base.n,
        n_canary=can.n,
        baseline_median=b_median,
        canary_median=c_median,
        baseline_mean=b_mean,
        canary_mean=c_mean,
    )

    slo = _slo_check(metric, can, conf)
    fields["slo"] = slo
    if slo is not None and slo.breached:
        side = "above" if slo.limit_kind == "max" else "below"
        return result(
            MetricOutcome.FAIL,
            Rule.SLO_BREACH,
            f"canary {slo.statistic} {_fmt(slo.value)} is {side} the SLO {slo.limit_kind} "
            f"{_fmt(slo.limit)} with {conf:.0%} confidence (bound {_fmt(slo.bound)}, "
            f"n={slo.n})",
            critical_failure=True,
        )

    if not metric.compare and slo is not None:
        # An SLO-only metric: the canary against an absolute limit, no baseline needed.
        if can.n < metric.min_samples or slo.value is None:
            return result(
                MetricOutcome.INCONCLUSIVE,
                Rule.MIN_SAMPLES,
                f"too little data for the SLO: {can.n} canary samples, {metric.min_samples} needed",
            )
        within = slo.value <= slo.limit if slo.limit_kind == "max" else slo.value >= slo.limit
        if not within:
            return result(
                MetricOutcome.INCONCLUSIVE,
                Rule.UNCERTAIN,
                f"canary {slo.statistic} {_fmt(slo.value)} is beyond the SLO {slo.limit_kind} "
                f"{_fmt(slo.limit)}, not yet with {conf:.0%} confidence (bound "
                f"{_fmt(slo.bound)}, n={slo.n})",
            )
        return result(
            MetricOutcome.PASS,
            Rule.WITHIN_SLO,
            f"canary {slo.statistic} {_fmt(slo.value)} within the SLO {slo.limit_kind} "
            f"{_fmt(slo.limit)} (n={slo.n})",
        )

    if base.n < metric.min_samples or can.n < metric.min_samples:
        return result(
            MetricOutcome.INCONCLUSIVE,
            Rule.MIN_SAMPLES,
            f"too little data: {base.n} baseline and {can.n} canary samples, "
            f"{metric.min_samples} needed on each side",
        )

    if isinstance(base, Counts) and isinstance(can, Counts):
        p_value = stats.fisher_exact(can.events, can.total, base.events, base.total).p_value
        test = "fisher_exact"
        shift = stats.proportion_difference(can.events, can.total, base.events, base.total, conf)
        u = stats.proportion_u(can.events, can.total, base.events, base.total)
        location = b_mean
    elif isinstance(base, Samples) and isinstance(can, Samples):
        mw = stats.mann_whitney(can.values, base.values)
        p_value, test, u = mw.p_value, f"mann_whitney_{mw.method}", mw.u
        shift = stats.hodges_lehmann(can.values, base.values, conf)
        location = b_median
    else:  # unreachable: both sides were checked to be of one kind above
        return result(MetricOutcome.INCONCLUSIVE, Rule.NO_DATA, "unknown kind of data")
    pairs = base.n * can.n
    allowed_shift = max(metric.tolerance * abs(location or 0.0), metric.abs_tolerance)
    bound = shift  # the interval that says which regressions are ruled out
    if sequential:
        # The window grows while the verdicts are inconclusive and is judged after every
        # interval: only an always-valid interval keeps its confidence over those looks.
        # The mixture is scaled to the smallest shift that matters (the tolerated one).
        fixed_p = p_value
        tau = allowed_shift if allowed_shift > 0 else max(shift.upper - shift.lower, 1e-9)
        fixed, shift = shift, stats.always_valid(shift, tau)
        bound = shift if look is None else stats.ruled_out_bound(fixed, look)
        significant = shift.lower > 0 or shift.upper < 0
        p_value = fixed_p if significant else max(fixed_p, 1 - conf)
    relative = shift.estimate / abs(location) if location is not None and location != 0 else None
    fields.update(
        u_statistic=u,
        p_value=p_value,
        test=test,
        shift=shift.estimate,
        shift_lower=shift.lower,
        shift_upper=shift.upper,
        shift_method=shift.method,
        relative_effect=relative,
        sequential=sequential,
    )
    planned = (
        f", ruled-out bound [{_fmt(bound.lower)}, {_fmt(bound.upper)}] at look {look.index} "
        f"of {look.planned}"
        if sequential and look is not None
        else ""
    )
    numbers = (
        f"shift {_fmt(shift.estimate)} [{_fmt(shift.lower)}, {_fmt(shift.upper)}] at "
        f"{conf:.0%}{planned}, p={p_value:.3g}, n={base.n}/{can.n}"
    )
    moved = Direction.INCREASE if u > pairs / 2 else Direction.DECREASE
    fields["allowed_shift"] = allowed_shift
    # The largest regression the interval still allows, in the metric's bad direction(s).
    worst = {
        Direction.INCREASE: bound.upper,
        Direction.DECREASE: -bound.lower,
        Direction.EITHER: max(bound.upper, -bound.lower),
    }[metric.direction]
    ruled_out = worst <= allowed_shift
    uncertain = (
        f"the interval still allows a regression of {_fmt(worst)}, beyond the tolerated "
        f"{_fmt(allowed_shift)}: more data needed ({numbers})"
    )
    if p_value >= 1 - conf:
        if not ruled_out:
            return result(
                MetricOutcome.INCONCLUSIVE,
                Rule.UNCERTAIN,
                f"no significant difference yet; {uncertain}",
            )
        return result(
            MetricOutcome.PASS,
            Rule.NOT_SIGNIFICANT,
            f"no significant difference, regressions beyond {_fmt(allowed_shift)} ruled out "
            f"({numbers})",
        )
    if metric.direction not in (Direction.EITHER, moved):
        return result(
            MetricOutcome.PASS,
            Rule.HARMLESS_DIRECTION,
            f"significant {moved.value}, which is harmless for this metric ({numbers})",
        )
    if abs(shift.estimate) <= allowed_shift:
        if not ruled_out:
            return result(
                MetricOutcome.INCONCLUSIVE,
                Rule.UNCERTAIN,
                f"significant {moved.value} within tolerance so far; {uncertain}",
            )
        return result(
            MetricOutcome.PASS,
            Rule.WITHIN_TOLERANCE,
            f"significant {moved.value} within tolerance {_fmt(allowed_shift)} ({numbers})",
        )
    gate = metric.effect_size
    if gate is not None:
        effect = _effect(gate.measure, moved, b_mean, c_mean, u, pairs)
        if effect is not None:
            fields["effect_size"] = effect if math.isfinite(effect) else None
            if not math.isfinite(effect):
                fields["notes"] = (*observation.notes, "effect size infinite: baseline mean 0")
            if gate.critical is not None and effect >= gate.critical:
                return result(
                    MetricOutcome.FAIL,
                    Rule.CRITICAL_EFFECT_SIZE,
                    f"{moved.value} with {gate.measure} {_fmt(effect)} beyond the critical "
                    f"{_fmt(gate.critical)} ({numbers})",
                    critical_failure=True,
                )
            if effect <= gate.allowed:
                return result(
                    MetricOutcome.PASS,
                    Rule.BELOW_EFFECT_SIZE,
                    f"significant {moved.value}, {gate.measure} {_fmt(effect)} not beyond "
                    f"{_fmt(gate.allowed)} ({numbers})",
                )
    rel = f" ({relative:+.1%} of baseline)" if relative is not None else ""
    return result(
        MetricOutcome.FAIL,
        Rule.REGRESSION,
        f"significant {moved.value}{rel} beyond tolerance {_fmt(allowed_shift)} ({numbers})",
        critical_failure=metric.critical,
    )


# ---------------------------------------------------------------------------------------------
# Verdict
# ---------------------------------------------------------------------------------------------


def _weighted(pairs: list[tuple[float, float]]) -> float | None:
    total = sum(w for _, w in pairs)
    return sum(s * w for s, w in pairs) / total if total else None


def _out_of_time(metric: MetricConfig, budget: float) -> MetricResult:
    return MetricResult(
        name=metric.name,
        group=metric.group,
        weight=metric.weight,
        critical=metric.critical,
        dry_run=metric.dry_run,
        source=metric.source,
        direction=metric.direction.value,
        outcome=MetricOutcome.INCONCLUSIVE,
        rule=Rule.TIME_BUDGET,
        reason=f"not judged: the analysis used up its time budget of {budget:g} s",
        min_samples=metric.min_samples,
        tolerance=metric.tolerance,
        abs_tolerance=metric.abs_tolerance,
    )


def judge(
    config: JudgeConfig,
    observations: Mapping[str, Observation],
    *,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    look: stats.Look | None = None,
) -> JudgeResult:
    """The verdict on one analysis interval. ``observations`` maps metric name -> data; a
    metric without an entry is inconclusive. A metric reached after ``deadline`` (a
    ``clock()`` value; default: ``analysis_timeout`` from now) is inconclusive, so the
    analysis is bounded in time and running out of it never decides anything."""
    if deadline is None:
        deadline = clock() + config.analysis_timeout
    judged: list[MetricResult] = []
    for metric in config.metrics:
        if clock() > deadline:
            judged.append(_out_of_time(metric, config.analysis_timeout))
            continue
        judged.append(
            judge_metric(
                metric,
                observations.get(metric.name),
                config.confidence,
                config.max_samples,
                sequential=config.sequential,
                look=look,
            )
        )
    results = tuple(judged)
    active = [r for r in results if not r.dry_run]
    common: dict[str, Any] = {
        "pass_score": config.pass_score,
        "marginal_score": config.marginal_score,
        "confidence": config.confidence,
        "metrics": results,
    }

    groups: list[GroupScore] = []
    scored: list[tuple[float, float]] = []
    best: list[tuple[float, float]] = []
    for name in dict.fromkeys(r.group for r in active):
        members = [r for r in active if r.group == name]
        passed = sum(r.weight for r in members if r.outcome is MetricOutcome.PASS)
        failed = sum(r.weight for r in members if r.outcome is MetricOutcome.FAIL)
        unknown = sum(r.weight for r in members if r.outcome is MetricOutcome.INCONCLUSIVE)
        weight = config.group_weight(name)
        score = 100 * passed / (passed + failed) if passed + failed else None
        if score is not None:
            scored.append((score, weight))
        best.append((100 * (passed + unknown) / (passed + failed + unknown), weight))
        groups.append(
            GroupScore(
                name=name,
                weight=weight,
                score=score,
                passed=sum(1 for r in members if r.outcome is MetricOutcome.PASS),
                failed=sum(1 for r in members if r.outcome is MetricOutcome.FAIL),
                inconclusive=sum(1 for r in members if r.outcome is MetricOutcome.INCONCLUSIVE),
            )
        )
    common["groups"] = tuple(groups)
    score = _weighted(scored)
    best_case = _weighted(best)
    common["best_case_score"] = best_case

    if not active:
        return JudgeResult(
            outcome=Outcome.INCONCLUSIVE,
            rule=Rule.INSUFFICIENT_DATA,
            reason="every metric is in dry-run mode: nothing counts toward a verdict",
            score=None,
            **common,
        )
    critical = [r for r in active if r.critical_failure]
    if critical:
        rule = Rule.SLO_BREACH if critical[0].rule is Rule.SLO_BREACH else Rule.CRITICAL_METRIC
        # Every failing metric with its numbers, the critical ones first: a rollback reason
        # that names one cause hides the others from whoever has to fix the release.
        others = [r for r in active if r.outcome is MetricOutcome.FAIL and not r.critical_failure]
        why = "; ".join(f"{r.name}: {r.reason}" for r in (*critical, *others))
        return JudgeResult(
            outcome=Outcome.FAIL,
            rule=rule,
            reason=f"critical failure — {why}",
            score=0.0,
            **common,
        )
    inconclusive = [r for r in active if r.outcome is MetricOutcome.INCONCLUSIVE]
    failing = "; ".join(f"{r.name}: {r.reason}" for r in active if r.outcome is MetricOutcome.FAIL)
    if inconclusive:
        if best_case is not None and best_case < config.marginal_score:
            return JudgeResult(
                outcome=Outcome.FAIL,
                rule=Rule.FAIL_REGARDLESS,
                reason=f"fails even if the inconclusive metrics passed (best case "
                f"{best_case:.1f} < {config.marginal_score:g}) — {failing}",
                score=score,
                **common,
            )
        why = "; ".join(f"{r.name}: {r.reason}" for r in inconclusive)
        return JudgeResult(
            outcome=Outcome.INCONCLUSIVE,
            rule=Rule.INSUFFICIENT_DATA,
            reason=f"waiting for data — {why}",
            score=score,
            **common,
        )
    if score is None:  # unreachable: every active metric was judged
        raise RuntimeError("no score although every metric was judged")
    if score >= config.pass_score:
        outcome = Outcome.PASS
    elif score >= config.marginal_score:
        outcome = Outcome.MARGINAL
    else:
        outcome = Outcome.FAIL
    reason = f"score {score:.1f} (pass >= {config.pass_score:g}, marginal >= " + (
        f"{config.marginal_score:g})"
    )
    if failing:
        reason += f" — {failing}"
    return JudgeResult(outcome=outcome, rule=Rule.SCORE, reason=reason, score=score, **common)


# ---------------------------------------------------------------------------------------------
# Collecting from sources
# ---------------------------------------------------------------------------------------------


def collect(
    config: JudgeConfig,
    sources: Mapping[str, MetricSource],
    window: AnalysisWindow,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Observation]:
    """Fetch every metric from its source. A metric naming a source that was not provided is a
    ConfigError; a source that fails unexpectedly makes its metric inconclusive (never a pass,
    and never a crash halfway through a rollout), and so does one reached after
    ``deadline``."""
    missing = sorted({m.source for m in config.metrics} - set(sources))
    if missing:
        raise ConfigError(
            f"metrics use sources that are not configured: {', '.join(missing)} "
            f"(available: {', '.join(sorted(sources)) or 'none'})"
        )
    observations: dict[str, Observation] = {}
    for metric in config.metrics:
        if deadline is not None and clock() > deadline:
            observations[metric.name] = Observation.unavailable(
                f"not fetched: the analysis used up its time budget of "
                f"{config.analysis_timeout:g} s"
            )
            continue
        try:
            observations[metric.name] = sources[metric.source].fetch(metric, window)
        except ConfigError:
            raise
        except Exception as exc:  # a source bug must not turn into a pass or a traceback
            observations[metric.name] = Observation.unavailable(
                f"source {metric.source} failed: {type(exc).__name__}: {exc}"
            )
    return observations


def analyze(
    config: JudgeConfig,
    sources: Mapping[str, MetricSource],
    window: AnalysisWindow,
    *,
    look: stats.Look | None = None,
) -> JudgeResult:
    """Collect and judge one analysis window, within ``config.analysis_timeout`` in all."""
    deadline = time.monotonic() + config.analysis_timeout
    observations = collect(config, sources, window, deadline=deadline)
    return judge(config, observations, deadline=deadline, look=look)
