"""Verification of a canary against its baseline: metrics judge, metric sources, log patterns.

Pure and deterministic apart from the sources' I/O. The controller calls :func:`analyze` (or
:func:`collect` + :func:`judge`) once per analysis interval, :func:`analyze_logs` on the two
versions' log lines, and :func:`next_action` to turn the verdicts so far into an action.
See docs/verification.md.
"""

from gatekeeper.deploy.verify.config import (
    Direction,
    EffectSize,
    JudgeConfig,
    MetricConfig,
    SloLimit,
    default_judge_config,
    judge_config_from_data,
    load_judge_config,
)
from gatekeeper.deploy.verify.judge import analyze, collect, judge, judge_metric
from gatekeeper.deploy.verify.logs import LogConfig, analyze_logs
from gatekeeper.deploy.verify.policy import Action, AnalysisPolicy, Step, next_action
from gatekeeper.deploy.verify.results import (
    VERDICT_SCHEMA,
    GroupScore,
    JudgeResult,
    LogFinding,
    LogVerdict,
    MetricOutcome,
    MetricResult,
    Outcome,
    Rule,
    SloCheck,
)
from gatekeeper.deploy.verify.sources import (
    SOURCES,
    AnalysisWindow,
    Counts,
    MemorySamples,
    MemorySource,
    MetricSource,
    Observation,
    PrometheusSource,
    Samples,
    source_class,
)
from gatekeeper.deploy.verify.stats import Look

__all__ = [
    "SOURCES",
    "VERDICT_SCHEMA",
    "Action",
    "AnalysisPolicy",
    "AnalysisWindow",
    "Counts",
    "Direction",
    "EffectSize",
    "GroupScore",
    "JudgeConfig",
    "JudgeResult",
    "LogConfig",
    "LogFinding",
    "LogVerdict",
    "Look",
    "MemorySamples",
    "MemorySource",
    "MetricConfig",
    "MetricOutcome",
    "MetricResult",
    "MetricSource",
    "Observation",
    "Outcome",
    "PrometheusSource",
    "Rule",
    "Samples",
    "SloCheck",
    "SloLimit",
    "Step",
    "analyze",
    "analyze_logs",
    "collect",
    "default_judge_config",
    "judge",
    "judge_config_from_data",
    "judge_metric",
    "load_judge_config",
    "next_action",
    "source_class",
]
