"""In-memory samples: what the deployer's proxy measures, per request and per version.

The proxy (or a test) records every request — which side served it, its status and latency.
:class:`MemorySource` derives the judge's metrics from the requests inside an analysis window:

``error_rate``
    A proportion: requests with status >= 500 (including the proxy's own 502/503/504 when no
    worker answered) out of all requests, per side. Each request is one 0/1 observation and the
    judge tests them with Fisher's exact test (the exact rank test for 0/1 data). Per-interval
    proportion series are deliberately not used: when the canary takes 10 % of the traffic its
    per-second error rates come from ten times fewer requests than the baseline's, so the two
    series differ in spread even when both versions fail equally often, and a rank test would
    see a difference that is not there.
``latency``
    Every request's latency in milliseconds (Mann-Whitney + Hodges-Lehmann on the requests).
``latency_pNN`` (for example ``latency_p95``, ``latency_p99``)
    A tail quantile needs many values per estimate, so requests are cut, per side and in
    arrival order, into blocks of ``block_size`` requests and each block gives one quantile.
    Blocks of equal size make baseline and canary values identically distributed when the
    versions behave alike, whatever the traffic split; a partial last block is left out.
    ``min_samples`` then counts blocks.
``latency_mean``
    Per-block means, for completeness.
``slow_pNN`` (for example ``slow_p95``)
    A proportion: the share of each side's requests slower than the *baseline's* pNN in the
    window (about 5 % for the baseline by construction). A heavier tail on the canary shows up
    as a higher share, tested per request with the exact test — so it needs ``min_samples``
    requests, not blocks, and judges a p95 regression even on low traffic.

Memory is bounded: each side keeps at most ``max_requests`` requests (oldest dropped first);
a window that reaches back past dropped requests says so in the observation's notes.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import ClassVar, Protocol

from gatekeeper.deploy.verify import stats
from gatekeeper.deploy.verify.config import MetricConfig
from gatekeeper.deploy.verify.sources.interface import (
    BASELINE,
    CANARY,
    AnalysisWindow,
    Counts,
    MetricSource,
    Observation,
    Samples,
)
from gatekeeper.errors import ConfigError

DEFAULT_MAX_REQUESTS = 1_000_000
DEFAULT_BLOCK_SIZE = 20
ERROR_STATUS = 500  # statuses from here up are errors; 4xx are the client's doing
# The proxy's pools: the long-running stable workers, a canary's fresh baseline (workers of
# the stable version started with the canary's), the canary. The judge's baseline side is
# both of the first two, or the fresh baseline alone while one runs.
STABLE_POOL = "stable"
POOLS = (STABLE_POOL, BASELINE, CANARY)
_QUERY = re.compile(
    r"^(error_rate|latency|latency_mean|latency_p(\d{1,2}(?:\.\d+)?)|slow_p(\d{1,2}(?:\.\d+)?))$"
)


class RequestRecord(Protocol):
    """What the proxy's per-request sample provides (structural: no import of the proxy)."""

    @property
    def pool(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def latency_ms(self) -> float: ...
    @property
    def time(self) -> float: ...


class MemorySamples:
    """Thread-safe, bounded store of per-request measurements for both sides."""

    def __init__(self, max_requests: int = DEFAULT_MAX_REQUESTS) -> None:
        if max_requests < 1:
            raise ValueError("max_requests must be positive")
        self._lock = threading.Lock()
        self._requests: dict[str, deque[tuple[float, int, float]]] = {
            pool: deque(maxlen=max_requests) for pool in POOLS
        }
        self._dropped_until: dict[str, float] = {pool: -math.inf for pool in POOLS}

    def record(self, side: str, status: int, latency_ms: float, at: float | None = None) -> None:
        """One request served by ``side``: a pool of the proxy (stable, baseline, canary)."""
        if side not in self._requests:
            raise ValueError(f"unknown side {side!r}: expected baseline, stable or canary")
        stamp = time.time() if at is None else at
        with self._lock:
            queue = self._requests[side]
            if len(queue) == queue.maxlen:
                self._dropped_until[side] = queue[0][0]
            queue.append((stamp, int(status), float(latency_ms)))

    def record_all(self, records: Iterable[RequestRecord]) -> None:
        """Record the proxy's samples (``pool`` stable/baseline/canary)."""
        for item in records:
            self.record(item.pool, item.status, item.latency_ms, item.time)

    def window(
        self, side: str, start: float, end: float, *, fresh_baseline: bool = False
    ) -> tuple[list[tuple[int, float]], bool]:
        """(status, latency) of the judge's ``side`` (baseline | canary) in [start, end), in
        arrival order, and whether requests of that window were already dropped. The
        baseline side is the stable and baseline pools together, or with ``fresh_baseline``
        the baseline pool alone."""
        if side == CANARY:
            pools: tuple[str, ...] = (CANARY,)
        elif fresh_baseline:
            pools = (BASELINE,)
        else:
            pools = (STABLE_POOL, BASELINE)
        with self._lock:
            stamped = [
                row for pool in pools for row in self._requests[pool] if start <= row[0] < end
            ]
            truncated = any(self._dropped_until[pool] >= start for pool in pools)
        if len(pools) > 1:
            stamped.sort(key=lambda row: row[0])
        return [(s, lat) for _, s, lat in stamped], truncated


class MemorySource(MetricSource):
    name: ClassVar[str] = "memory"

    def __init__(self, store: MemorySamples, *, block_size: int = DEFAULT_BLOCK_SIZE) -> None:
        if block_size < 2:
            raise ValueError("block_size must be at least 2")
        self.store = store
        self.block_size = block_size

    def fetch(self, metric: MetricConfig, window: AnalysisWindow) -> Observation:
        match = _QUERY.match(metric.query.strip())
        if match is None:
            raise ConfigError(
                f"metric {metric.name}: unknown memory query {metric.query!r}; use error_rate, "
                "latency, latency_mean, latency_pNN or slow_pNN (e.g. latency_p95, slow_p95)"
            )
        query = match.group(1)
        digits = match.group(2) or match.group(3)
        quantile = float(digits) / 100 if digits else None
        if quantile is not None and not 0 < quantile < 1:
            raise ConfigError(f"metric {metric.name}: quantile must be between p0 and p100")
        sides: dict[str, Counts | Samples] = {}
        notes: list[str] = []
        rows_of: dict[str, list[tuple[int, float]]] = {}
        for side in (BASELINE, CANARY):
            rows, truncated = self.store.window(
                side, *window.bounds(side), fresh_baseline=window.fresh_baseline
            )
            rows_of[side] = rows
            if truncated:
                notes.append(f"{side}: oldest requests of the window were dropped (memory bound)")
        if query != "error_rate":
            # A latency that is not a finite number means the measurement broke: the window
            # cannot say anything about latency, so it is missing data (never a pass, never
            # a failure), not a smaller sample with the broken requests quietly left out.
            broken = {
                side: sum(1 for _, lat in rows_of[side] if not math.isfinite(lat))
                for side in (BASELINE, CANARY)
            }
            if any(broken.values()):
                counts = ", ".join(f"{side} {n}" for side, n in broken.items() if n)
                return Observation.unavailable(
                    f"requests without a finite latency in this window ({counts}): refused"
                )
        threshold: float | None = None
        if query.startswith("slow_p") and quantile is not None:
            if not rows_of[BASELINE]:
                return Observation.unavailable(
                    f"no baseline requests in this window to take the p{digits} from"
                )
            threshold = stats.quantile([lat for _, lat in rows_of[BASELINE]], quantile)
            notes.append(f"slow means slower than the baseline's p{digits}: {threshold:.4g} ms")
        for side in (BASELINE, CANARY):
            rows = rows_of[side]
            if threshold is not None:
                sides[side] = Counts(sum(1 for _, lat in rows if lat > threshold), len(rows))
            elif query == "error_rate":
                sides[side] = Counts(sum(1 for s, _ in rows if s >= ERROR_STATUS), len(rows))
            elif query == "latency":
                sides[side] = Samples(tuple(lat for _, lat in rows))
            else:
                latencies = [lat for _, lat in rows]
                blocks = [
                    latencies[i : i + self.block_size]
                    for i in range(0, len(latencies) - self.block_size + 1, self.block_size)
                ]
                if quantile is None:
                    sides[side] = Samples(tuple(math.fsum(b) / len(b) for b in blocks))
                else:
                    sides[side] = Samples(tuple(stats.quantile(b, quantile) for b in blocks))
        if all(data.n == 0 for data in sides.values()):
            return Observation.unavailable(
                "no requests were measured on either side in this window"
            )
        return Observation(baseline=sides[BASELINE], canary=sides[CANARY], notes=tuple(notes))
