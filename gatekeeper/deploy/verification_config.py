"""``deploy.verification`` in a service's gatekeeper.yaml: how the controller judges a canary.

Everything is optional; without the section the local target judges with the built-in metrics
from the proxy's own measurements (:func:`~gatekeeper.deploy.verify.default_judge_config`) and
compares the two versions' worker logs::

    deploy:
      verification:
        judge:                       # docs/verification.md; default: the built-in metrics
          metrics:
            - {name: error-rate, query: error_rate, critical: true, abs_tolerance: 0.02,
               slo: {statistic: rate, max: 0.05}}
            - {name: p99, source: prometheus, query: 'histogram_quantile(0.99, ...)',
               dry_run: true}
        prometheus: {url: http://127.0.0.1:9090, step: 5}
        policy: {failure_limit: 2, passes_required: 1}
        logs: {enabled: true, fail_on: errors}
        slo: {error_rate: 0.01, latency_p95_ms: 250}   # absolute limits on the canary

``slo`` adds SLO-only metrics from the proxy's measurements (local target): each is checked
on the canary alone, fails it at once when it is confidently beyond the limit (with the
judge's confidence), and holds the rollout while the canary's value is beyond it.

Invalid keys are reported by :func:`~gatekeeper.deploy.service_config.load_service_deploy_config`
with file, key and line, like the rest of the ``deploy`` section.
"""

from __future__ import annotations

import re

from pydantic import ConfigDict, Field, field_validator, model_validator

from gatekeeper.deploy.verify.config import (
    JudgeConfig,
    MetricConfig,
    SloLimit,
    default_judge_config,
)
from gatekeeper.deploy.verify.logs import LogConfig
from gatekeeper.model.base import Frozen


class PrometheusSettings(Frozen):
    url: str = Field(min_length=1, description="http(s)://host:port of the Prometheus server")
    step: float = Field(default=10.0, gt=0, le=3600, description="range-query resolution, s")
    timeout: float = Field(default=10.0, gt=0, le=120, description="per query, seconds")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class RolloutPolicy(Frozen):
    """How the verdicts of one analysis step become the executor's pass/fail/wait.

    The number of looks at one step is bounded by the step's ``max_inconclusive``; within it,
    a failure must be seen ``failure_limit`` times in a row (on fresh data) before it rolls
    back, except a confident SLO breach, which rolls back at once.
    """

    failure_limit: int = Field(default=2, ge=1, le=10, description="consecutive FAILs")
    slo_rollback_now: bool = Field(default=True, description="an SLO breach rolls back at once")
    passes_required: int = Field(
        default=1, ge=1, le=10, description="PASS verdicts for one analysis step to pass"
    )


class LogSettings(LogConfig):
    enabled: bool = Field(default=True, description="compare baseline and canary worker logs")
    max_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="log bytes read per side per analysis"
    )


_LATENCY_SLO = re.compile(r"^latency_(p\d{1,2}(?:\.\d+)?|median)_ms$")


class ServiceSlos(Frozen):
    """Absolute limits a service declares for every release, whatever its baseline does."""

    # Latency limits are open-ended keys (latency_p95_ms, latency_p99.9_ms): allowed here,
    # and every key is checked by _known_limits, so a typo is still an input error.
    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    error_rate: float | None = Field(default=None, gt=0, lt=1, description="max share of 5xx")

    @model_validator(mode="after")
    def _known_limits(self) -> ServiceSlos:
        if not self.limits():
            raise ValueError("an slo section needs at least one limit")
        return self

    def limits(self) -> dict[str, float]:
        """Every limit: ``error_rate`` and ``latency_<pNN|median>_ms`` keys."""
        found: dict[str, float] = {}
        if self.error_rate is not None:
            found["error_rate"] = self.error_rate
        for key, value in (self.model_extra or {}).items():
            if not _LATENCY_SLO.match(key):
                raise ValueError(
                    f"unknown SLO {key!r}: use error_rate or latency_pNN_ms / latency_median_ms"
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{key}: expected a positive number of milliseconds")
            found[key] = float(value)
        return found

    def metrics(self) -> tuple[MetricConfig, ...]:
        out: list[MetricConfig] = []
        for key, limit in self.limits().items():
            if key == "error_rate":
                slo = SloLimit(statistic="rate", max=limit)
                query = "error_rate"
            else:
                statistic = key.removeprefix("latency_").removesuffix("_ms")
                slo = SloLimit(statistic=statistic, max=limit)
                query = "latency"
            out.append(
                MetricConfig(
                    name=f"slo-{key.replace('_', '-')}",
                    query=query,
                    compare=False,
                    critical=True,
                    group="slo",
                    slo=slo,
                )
            )
        return tuple(out)


class VerificationConfig(Frozen):
    judge: JudgeConfig | None = Field(default=None, description="default: built-in metrics")
    slo: ServiceSlos | None = Field(
        default=None, description="absolute limits checked on the canary alone"
    )
    prometheus: PrometheusSettings | None = None
    policy: RolloutPolicy = Field(default_factory=RolloutPolicy)
    logs: LogSettings = Field(default_factory=LogSettings)

    def judge_config(self) -> JudgeConfig:
        config = self.judge or default_judge_config()
        if self.slo is None:
            return config
        extra = self.slo.metrics()
        groups = dict(config.groups)
        if groups:
            groups.setdefault("slo", 1.0)
        return config.model_copy(update={"metrics": (*config.metrics, *extra), "groups": groups})
