"""Frozen results of verification: every verdict carries the numbers behind it.

These are what ``deploy status`` shows and the ledger records (``model_dump(mode="json")``),
so field names are a contract: add optional fields, never rename.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from gatekeeper.model.base import Frozen

VERDICT_SCHEMA = "gatekeeper.verdict/v1"
LOG_VERDICT_SCHEMA = "gatekeeper.log-verdict/v1"


class Outcome(StrEnum):
    """The judge's verdict on one analysis interval."""

    PASS = "pass"  # noqa: S105 — a verdict, not a password
    MARGINAL = "marginal"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class MetricOutcome(StrEnum):
    PASS = "pass"  # noqa: S105 — a verdict, not a password
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Rule(StrEnum):
    """The rule that decided a metric (or the verdict), in the order they are tried."""

    NO_DATA = "no_data"  # the source had nothing (or could not be reached)
    MIN_SAMPLES = "min_samples"  # fewer samples than min_samples on a side
    SLO_BREACH = "slo_breach"  # canary confidently beyond an absolute limit
    WITHIN_SLO = "within_slo"  # an SLO-only metric: the canary's statistic within its limit
    NOT_SIGNIFICANT = "not_significant"  # no difference found, and a regression ruled out
    UNCERTAIN = "uncertain"  # the interval still allows a regression beyond tolerance
    HARMLESS_DIRECTION = "harmless_direction"  # significant, but in the good direction
    WITHIN_TOLERANCE = "within_tolerance"  # significant, but smaller than the tolerance
    BELOW_EFFECT_SIZE = "below_effect_size"  # significant, but below the effect-size gate
    REGRESSION = "regression"  # significant, beyond tolerance and effect-size gate
    TIME_BUDGET = "time_budget"  # the analysis ran out of its time budget before this metric
    CRITICAL_EFFECT_SIZE = "critical_effect_size"  # beyond the critical effect size
    # verdict-level rules
    CRITICAL_METRIC = "critical_metric"  # a critical metric failed: score zeroed
    SCORE = "score"  # the weighted score decided
    FAIL_REGARDLESS = "fail_regardless"  # failing even if every missing metric passed
    INSUFFICIENT_DATA = "insufficient_data"  # some metric inconclusive: no pass without it


class SloCheck(Frozen):
    statistic: str
    value: float | None = Field(description="point estimate on the canary")
    bound: float | None = Field(description="one-sided confidence bound compared with the limit")
    limit: float
    limit_kind: str = Field(description="max | min")
    breached: bool
    n: int


class MetricResult(Frozen):
    name: str
    group: str
    weight: float
    critical: bool
    dry_run: bool
    source: str
    direction: str
    outcome: MetricOutcome
    rule: Rule
    reason: str = Field(description="one sentence, for people")
    kind: str | None = Field(default=None, description="samples | proportion")
    n_baseline: int = 0
    n_canary: int = 0
    min_samples: int = 0
    baseline_median: float | None = None
    canary_median: float | None = None
    baseline_mean: float | None = Field(default=None, description="for proportions: the rate")
    canary_mean: float | None = None
    u_statistic: float | None = Field(default=None, description="canary's Mann-Whitney U")
    p_value: float | None = None
    test: str | None = Field(default=None, description="mann_whitney_exact|_normal|fisher_exact")
    shift: float | None = Field(default=None, description="canary - baseline estimate")
    shift_lower: float | None = None
    shift_upper: float | None = None
    shift_method: str | None = None
    sequential: bool = Field(
        default=False,
        description="the interval is always-valid (the window is judged after every interval)",
    )
    confidence: float = 0.0
    relative_effect: float | None = Field(
        default=None, description="shift / |baseline median| (rate for proportions)"
    )
    tolerance: float = 0.0
    abs_tolerance: float = 0.0
    allowed_shift: float | None = Field(
        default=None, description="the tolerated shift: max(tolerance x |baseline|, abs)"
    )
    effect_measure: str | None = None
    effect_size: float | None = None
    effect_allowed: float | None = None
    effect_critical: float | None = None
    slo: SloCheck | None = None
    critical_failure: bool = Field(
        default=False, description="failed a critical gate: zeroes the score"
    )
    notes: tuple[str, ...] = ()


class GroupScore(Frozen):
    name: str
    weight: float
    score: float | None = Field(description="percent of judged weight that passed")
    passed: int
    failed: int
    inconclusive: int


class JudgeResult(Frozen):
    schema_: str = Field(default=VERDICT_SCHEMA, alias="schema")
    outcome: Outcome
    rule: Rule
    reason: str
    score: float | None = Field(description="0-100 from the judged metrics, None if none")
    best_case_score: float | None = Field(
        default=None, description="score if every inconclusive metric had passed"
    )
    pass_score: float
    marginal_score: float
    confidence: float
    metrics: tuple[MetricResult, ...]
    groups: tuple[GroupScore, ...]

    def to_document(self) -> dict[str, Any]:
        """The verdict as stored in the ledger and deployment state (``schema`` key)."""
        return self.model_dump(mode="json", by_alias=True)

    def failing(self) -> tuple[MetricResult, ...]:
        return tuple(m for m in self.metrics if m.outcome is MetricOutcome.FAIL and not m.dry_run)


class LogFinding(Frozen):
    template: str
    kind: str = Field(description="new_template | rate_increase")
    error_like: bool = Field(description="looks like an error or exception")
    fails: bool = Field(description="counts against the canary")
    baseline_count: int
    canary_count: int
    baseline_rate: float
    canary_rate: float
    p_value: float | None = None
    examples: tuple[str, ...] = ()


class LogVerdict(Frozen):
    schema_: str = Field(default=LOG_VERDICT_SCHEMA, alias="schema")
    outcome: Outcome
    reason: str
    baseline_lines: int
    canary_lines: int
    baseline_templates: int
    findings: tuple[LogFinding, ...]
    confidence: float

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
