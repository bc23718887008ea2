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

Invalid keys are reported by :func:`~gatekeeper.deploy.service_config.load_service_deploy_config`
with file, key and line, like the rest of the ``deploy`` section.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from gatekeeper.deploy.verify.config import JudgeConfig, default_judge_config
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


class VerificationConfig(Frozen):
    judge: JudgeConfig | None = Field(default=None, description="default: built-in metrics")
    prometheus: PrometheusSettings | None = None
    policy: RolloutPolicy = Field(default_factory=RolloutPolicy)
    logs: LogSettings = Field(default_factory=LogSettings)

    def judge_config(self) -> JudgeConfig:
        return self.judge or default_judge_config()
