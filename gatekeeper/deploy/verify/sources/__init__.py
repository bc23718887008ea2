"""Metric sources: one small interface (interface.py) and a registry by name (registry.py)."""

from gatekeeper.deploy.verify.sources.interface import (
    BASELINE,
    CANARY,
    AnalysisWindow,
    Counts,
    MetricSource,
    Observation,
    Samples,
)
from gatekeeper.deploy.verify.sources.memory import MemorySamples, MemorySource
from gatekeeper.deploy.verify.sources.prometheus import PrometheusSource
from gatekeeper.deploy.verify.sources.registry import SOURCES, source_class

__all__ = [
    "BASELINE",
    "CANARY",
    "SOURCES",
    "AnalysisWindow",
    "Counts",
    "MemorySamples",
    "MemorySource",
    "MetricSource",
    "Observation",
    "PrometheusSource",
    "Samples",
    "source_class",
]
