"""Metric sources by name (the ``source:`` of a metric). Adding one is a module and a line."""

from __future__ import annotations

from gatekeeper.deploy.verify.sources.interface import MetricSource
from gatekeeper.deploy.verify.sources.memory import MemorySource
from gatekeeper.deploy.verify.sources.prometheus import PrometheusSource
from gatekeeper.errors import ConfigError

SOURCES: dict[str, type[MetricSource]] = {cls.name: cls for cls in (MemorySource, PrometheusSource)}


def source_class(name: str) -> type[MetricSource]:
    """The class registered as ``name``; constructing it is the caller's business (a memory
    source needs the live sample store, Prometheus a URL)."""
    try:
        return SOURCES[name]
    except KeyError:
        known = ", ".join(sorted(SOURCES))
        raise ConfigError(f"unknown metric source {name!r}; known sources: {known}") from None
