"""Metric sources by name (the ``source:`` of a metric). Adding one is a module and a line."""

from __future__ import annotations

from typing import cast

from gatekeeper.deploy.verify.sources.interface import MetricSource
from gatekeeper.errors import ConfigError
from gatekeeper.registry import Registry

# Registered lazily: the registry never imports its implementations (Prometheus pulls in an
# HTTP client). The factory is the class itself, constructed by the caller.
SOURCES: Registry[MetricSource] = Registry("metric source", error=ConfigError, plural="sources")
SOURCES.register_lazy("memory", "gatekeeper.deploy.verify.sources.memory:MemorySource")
SOURCES.register_lazy("prometheus", "gatekeeper.deploy.verify.sources.prometheus:PrometheusSource")


def source_class(name: str) -> type[MetricSource]:
    """The class registered as ``name``; constructing it is the caller's business (a memory
    source needs the live sample store, Prometheus a URL)."""
    return cast(type[MetricSource], SOURCES.factory(name))
