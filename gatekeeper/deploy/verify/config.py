"""What the judge compares and how strictly: the metrics configuration (pydantic, frozen).

In YAML (a ``verification:`` section of a service's configuration, or a file of its own)::

    confidence: 0.98          # of every test and interval (Kayenta's default)
    pass_score: 95
    marginal_score: 75
    groups: {errors: 60, latency: 40}   # weights of metric groups
    metrics:
      - name: error-rate
        source: memory                 # the proxy's own measurements
        query: error_rate
        direction: increase            # higher is worse
        critical: true                 # a failure zeroes the score
        group: errors
        slo: {max: 0.05}               # fail fast when confidently above 5 %
      - name: p95-latency
        source: prometheus
        query: >-
          histogram_quantile(0.95, sum by (le)
            (rate(http_duration_seconds_bucket{version="$version"}[1m])))
        group: latency
        tolerance: 0.25
        effect_size: {measure: mean_ratio, allowed: 1.1, critical: 3.0}

Everything invalid is a :class:`~gatekeeper.errors.ConfigError` (exit 2) naming the file, key
and line.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from gatekeeper.config import (
    YamlDocument,
    describe_validation_error,
    format_loc,
    read_yaml_file,
)
from gatekeeper.errors import ConfigError
from gatekeeper.model.base import Frozen

DEFAULT_CONFIDENCE = 0.98
DEFAULT_SEQUENTIAL_CONFIDENCE = 0.95  # of the built-in metrics: always-valid over every look
DEFAULT_TOLERANCE = 0.25
DEFAULT_MIN_SAMPLES = 50
DEFAULT_PASS_SCORE = 95.0
DEFAULT_MARGINAL_SCORE = 75.0
# The default error-rate metric tolerates a shift of this fraction of the baseline's rate,
# and never less than the floor (a zero-error baseline would otherwise tolerate nothing, and
# no amount of low traffic could ever rule a regression out).
ERROR_RATE_TOLERANCE = DEFAULT_TOLERANCE
ERROR_RATE_FLOOR = 0.02
# Wall-clock budget of one analysis (collect + judge): metrics not judged in time are
# inconclusive, so a slow source or a huge window delays a decision but never makes one.
DEFAULT_ANALYSIS_TIMEOUT_S = 30.0
# Samples judged per side and metric; larger windows are thinned evenly in arrival order
# (a systematic subsample is still a sample of the window), which bounds the rank tests.
DEFAULT_MAX_SAMPLES = 50_000

_QUANTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


class Direction(StrEnum):
    """Which change of the metric is bad."""

    INCREASE = "increase"
    DECREASE = "decrease"
    EITHER = "either"


class EffectSize(Frozen):
    """An effect-size gate, in the bad direction of the metric.

    ``mean_ratio``: canary mean / baseline mean when an increase is bad (baseline / canary when
    a decrease is). ``cles``: the probability that a random canary value is worse than a
    random baseline value (0.5: no difference). A significant change counts as a failure only
    when the effect exceeds ``allowed``; beyond ``critical`` it fails the whole canary, as a
    critical metric does.
    """

    measure: Literal["mean_ratio", "cles"] = "mean_ratio"
    allowed: float = Field(gt=0, description="effect a regression must exceed to fail")
    critical: float | None = Field(default=None, gt=0, description="effect that fails all")

    @model_validator(mode="after")
    def _sane(self) -> EffectSize:
        floor = 0.5 if self.measure == "cles" else 1.0
        if self.allowed < floor:
            raise ValueError(f"{self.measure} 'allowed' must be at least {floor}")
        if self.measure == "cles" and self.allowed >= 1:
            raise ValueError("cles 'allowed' must be below 1")
        if self.critical is not None and self.critical < self.allowed:
            raise ValueError("'critical' must not be below 'allowed'")
        return self


class SloLimit(Frozen):
    """An absolute limit on the canary alone, checked before any comparison.

    ``statistic``: ``rate`` for proportion metrics (error rate); ``median`` or ``pNN`` (p95,
    p99.9) for sampled metrics. The limit fires only when a one-sided confidence bound at the
    judge's confidence is beyond it — three requests with one error are not "33 % errors".
    """

    statistic: str = "rate"
    max: float | None = None
    min: float | None = None

    @field_validator("statistic")
    @classmethod
    def _known_statistic(cls, value: str) -> str:
        if value not in ("rate", "median") and not _QUANTILE.match(value):
            raise ValueError("statistic must be rate, median or pNN (for example p95, p99.9)")
        if (q := quantile_of(value)) is not None and not 0 < q < 1:
            raise ValueError("quantile must be strictly between p0 and p100")
        return value

    @model_validator(mode="after")
    def _has_a_limit(self) -> SloLimit:
        if self.max is None and self.min is None:
            raise ValueError("an slo needs 'max' or 'min'")
        return self


def quantile_of(statistic: str) -> float | None:
    """'p95' -> 0.95, 'median' -> 0.5, 'rate' -> None."""
    if statistic == "median":
        return 0.5
    match = _QUANTILE.match(statistic)
    return float(match.group(1)) / 100 if match else None


class MetricConfig(Frozen):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
    source: str = Field(default="memory", min_length=1, description="metric source name")
    query: str = Field(min_length=1, max_length=4000, description="what the source fetches")
    total_query: str | None = Field(
        default=None,
        max_length=4000,
        description="for a proportion from Prometheus: the denominator (query = events)",
    )
    direction: Direction = Direction.INCREASE
    tolerance: float = Field(
        default=DEFAULT_TOLERANCE,
        ge=0,
        description="shifts within this fraction of the baseline's median never fail",
    )
    abs_tolerance: float = Field(
        default=0.0, ge=0, description="shifts within this absolute amount never fail"
    )
    effect_size: EffectSize | None = None
    critical: bool = False
    weight: float = Field(default=1.0, gt=0)
    group: str = Field(default="default", min_length=1)
    slo: SloLimit | None = None
    min_samples: int = Field(default=DEFAULT_MIN_SAMPLES, ge=1, strict=True)
    dry_run: bool = False
    confidence: float | None = Field(default=None, ge=0.5, lt=1)
    compare: bool = Field(
        default=True,
        description="false: an SLO-only metric, judged against its slo on the canary alone",
    )

    @model_validator(mode="after")
    def _slo_only_needs_an_slo(self) -> MetricConfig:
        if not self.compare and self.slo is None:
            raise ValueError("a metric with compare: false needs an slo")
        return self


class JudgeConfig(Frozen):
    confidence: float = Field(default=DEFAULT_CONFIDENCE, ge=0.5, lt=1)
    pass_score: float = Field(default=DEFAULT_PASS_SCORE, ge=0, le=100)
    marginal_score: float = Field(default=DEFAULT_MARGINAL_SCORE, ge=0, le=100)
    groups: dict[str, float] = Field(
        default_factory=dict, description="group weights; unlisted groups weigh 1"
    )
    metrics: tuple[MetricConfig, ...] = Field(min_length=1)
    analysis_timeout: float = Field(
        default=DEFAULT_ANALYSIS_TIMEOUT_S,
        gt=0,
        le=600,
        description="seconds one analysis may take; metrics left unjudged are inconclusive",
    )
    sequential: bool = Field(
        default=True,
        description="always-valid intervals: the window may be judged after every interval",
    )
    max_samples: int = Field(
        default=DEFAULT_MAX_SAMPLES,
        ge=100,
        le=1_000_000,
        strict=True,
        description="samples judged per side and metric (larger windows are thinned evenly)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> JudgeConfig:
        if self.marginal_score > self.pass_score:
            raise ValueError("marginal_score must not exceed pass_score")
        names = [m.name for m in self.metrics]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"metric names must be unique: {', '.join(duplicates)}")
        if any(weight <= 0 for weight in self.groups.values()):
            raise ValueError("group weights must be positive")
        if self.groups:
            unknown = sorted({m.group for m in self.metrics} - set(self.groups))
            if unknown:
                raise ValueError(f"metric groups without a weight: {', '.join(unknown)}")
        return self

    def group_weight(self, group: str) -> float:
        return self.groups.get(group, 1.0)


def default_judge_config() -> JudgeConfig:
    """What the local target judges when a service configures nothing, from the proxy's own
    measurements: the error rate (critical, SLO 5 %), per-request latency, and the share of
    requests slower than the baseline's p95 (a tail regression). Latency weighs two thirds,
    so any one failing metric brings the score below the marginal threshold.

    The error rate tolerates a shift relative to the baseline's rate with an absolute floor
    (max(25 % of the baseline rate, 2 points)): a relative tolerance alone means nothing near
    zero (25 % of 0.5 % is 0.125 points, and of a zero-error baseline nothing at all). Slow
    requests tolerate 5 points (5 % -> 10 %). Stricter absolute limits are the service's
    SLOs (``deploy.verification.slo``), checked on the canary alone.

    The judge is sequential (always-valid intervals, so the growing window may be judged
    after every interval) at 95 %: over all looks together that is stricter than a fixed 98 %
    interval looked at ten times. Tuned with benchmarks/bench_judge.py: tighter values make
    low traffic wait longer before anything can be ruled out."""
    return JudgeConfig(
        confidence=DEFAULT_SEQUENTIAL_CONFIDENCE,
        groups={"errors": 1.0, "latency": 2.0},
        metrics=(
            MetricConfig(
                name="error-rate",
                query="error_rate",
                critical=True,
                group="errors",
                tolerance=ERROR_RATE_TOLERANCE,
                abs_tolerance=ERROR_RATE_FLOOR,
                slo=SloLimit(statistic="rate", max=0.05),
            ),
            MetricConfig(name="latency", query="latency", group="latency"),
            MetricConfig(
                name="slow-requests", query="slow_p95", group="latency", abs_tolerance=0.05
            ),
        ),
    )


def judge_config_from_data(
    data: Any, *, display: str, doc: YamlDocument | None = None
) -> JudgeConfig:
    """Validate parsed YAML/JSON data; errors name ``display``, the key and (with ``doc``) the
    line."""
    try:
        return JudgeConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        where = None
        if doc is not None and (line := doc.line_of(loc)) is not None:
            where = str(line)
        key = format_loc(loc)
        prefix = f"{key}: " if key else ""
        raise ConfigError(
            f"{prefix}{describe_validation_error(first)}", path=display, where=where
        ) from None


def load_judge_config(path: Path) -> JudgeConfig:
    """Read a verification config file (YAML, bounded in size)."""
    doc = read_yaml_file(path, display=str(path), error=ConfigError)
    return judge_config_from_data(doc.data, display=str(path), doc=doc)
