"""The metric source interface: fetch one metric's baseline and canary data for a window.

A source never decides anything. When it has no data, or cannot reach its backend, it says so
in :attr:`Observation.missing` and the judge rules the metric INCONCLUSIVE with that reason:
missing data is never a pass and never a failure.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from gatekeeper.deploy.verify.config import MetricConfig

BASELINE = "baseline"
CANARY = "canary"


@dataclass(frozen=True)
class Samples:
    """Values of a sampled metric (latencies, per-step series)."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        # Refused at the source: a NaN would reach the rank statistics, where it compares
        # unequal to everything (sources drop non-finite values with finite_values and say so).
        if not all(math.isfinite(v) for v in self.values):
            raise ValueError("samples must be finite numbers (NaN and infinities are refused)")

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Counts:
    """A proportion: ``events`` of ``total`` (failed requests of all requests)."""

    events: int
    total: int

    def __post_init__(self) -> None:
        if not 0 <= self.events <= self.total:
            raise ValueError(f"invalid counts: {self.events} events of {self.total}")

    @property
    def n(self) -> int:
        return self.total


Data = Samples | Counts


@dataclass(frozen=True)
class Observation:
    """One metric's data for one window. ``missing`` set: no usable data, and why."""

    baseline: Data | None = None
    canary: Data | None = None
    missing: str | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def unavailable(cls, reason: str) -> Observation:
        return cls(missing=reason)


@dataclass(frozen=True)
class AnalysisWindow:
    """The interval under analysis (epoch seconds) and the two versions compared.

    ``baseline``/``canary`` are the version labels a source selects series by (Prometheus
    queries get them as ``$version``); ``step`` is the resolution of range queries.
    """

    start: float
    end: float
    baseline: str
    canary: str
    step: float = 10.0
    # The baseline's own window when it differs from the canary's (blue-green after the
    # switch: blue before it, green after it); None: the same window.
    baseline_start: float | None = None
    baseline_end: float | None = None
    # A canary's fresh baseline runs (workers of the baseline version started with the
    # canary's): the baseline side is their requests only (the proxy's ``baseline`` pool;
    # ``$pool`` in Prometheus queries), not the long-running stable workers'.
    fresh_baseline: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)) or self.end <= self.start:
            raise ValueError("an analysis window needs finite start < end")
        if (self.baseline_start is None) != (self.baseline_end is None):
            raise ValueError("a baseline window needs both its start and its end")
        if self.baseline_start is not None and self.baseline_end is not None:
            if not (math.isfinite(self.baseline_start) and math.isfinite(self.baseline_end)):
                raise ValueError("a baseline window needs finite start < end")
            if self.baseline_end <= self.baseline_start:
                raise ValueError("a baseline window needs finite start < end")

    def bounds(self, side: str) -> tuple[float, float]:
        """[start, end) of ``side``'s data (``baseline`` | ``canary``)."""
        if side == BASELINE and self.baseline_start is not None and self.baseline_end is not None:
            return self.baseline_start, self.baseline_end
        return self.start, self.end
        if not (math.isfinite(self.step) and self.step > 0):
            raise ValueError("step must be a positive number of seconds")


def finite_values(values: Sequence[float]) -> tuple[tuple[float, ...], int]:
    """The finite values, and how many were dropped (NaN from 0/0 rates, infinities)."""
    kept = tuple(v for v in values if math.isfinite(v))
    return kept, len(values) - len(kept)


class MetricSource(ABC):
    """One backend of metrics. Implementations register in ``sources/registry.py``."""

    name: ClassVar[str]

    @abstractmethod
    def fetch(self, metric: MetricConfig, window: AnalysisWindow) -> Observation:
        """Baseline and canary data of ``metric`` in ``window``; never raises for missing or
        unreachable data (that is an Observation with ``missing``)."""
