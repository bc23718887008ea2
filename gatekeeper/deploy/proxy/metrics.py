"""Per-request measurements of the proxy: samples for the judge, Prometheus text for scrapers.

Every proxied request becomes one :class:`Sample` (pool, version, status, latency). Samples go
to in-process sinks (callbacks, for an embedded proxy) and to a bounded ring buffer with a
sequence number, which the admin API serves as ``/samples?since=N`` so a deployer in another
process can read exactly the samples of each analysis interval. The same requests feed
counters and a latency histogram rendered as Prometheus text on the admin port's ``/metrics``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

# Latency buckets in seconds (Prometheus convention), 5 ms .. 10 s.
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# At a few thousand requests per second this holds well over a minute of samples; a reader
# that falls further behind is told how many it missed instead of being fed stale memory.
DEFAULT_SAMPLE_BUFFER = 200_000
_BUCKET = "gatekeeper_proxy_request_duration_seconds_bucket"


@dataclass(frozen=True)
class Sample:
    """One proxied request. ``status`` 502/503/504 with ``upstream_error`` set are the proxy's
    own answers when no worker could serve; they count against the version that was chosen."""

    seq: int
    time: float  # epoch seconds when the response was complete
    pool: str  # "stable" | "canary" | "baseline" (a canary's fresh baseline)
    version: str
    backend: str
    method: str
    status: int
    latency_ms: float
    upstream_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sample:
        return cls(**data)


SampleSink = Callable[[Sample], None]


@dataclass(frozen=True)
class SamplePage:
    samples: tuple[Sample, ...]
    next_seq: int  # pass as ``since`` next time
    dropped: int  # samples that fell out of the buffer before this reader asked


class _Histogram:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * len(LATENCY_BUCKETS_S)
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.sum += seconds
        for index, bound in enumerate(LATENCY_BUCKETS_S):
            if seconds <= bound:
                self.buckets[index] += 1
                break


class ProxyMetrics:
    """Thread-safe store of counters, histograms and the sample ring buffer."""

    def __init__(
        self, *, buffer_size: int = DEFAULT_SAMPLE_BUFFER, sinks: tuple[SampleSink, ...] = ()
    ) -> None:
        self._lock = threading.Lock()
        self._samples: deque[Sample] = deque(maxlen=buffer_size)
        self._next_seq = 1
        self._counters: dict[tuple[str, str, int], int] = {}
        self._histograms: dict[tuple[str, str], _Histogram] = {}
        self._sinks = list(sinks)

    def add_sink(self, sink: SampleSink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def record(
        self,
        *,
        pool: str,
        version: str,
        backend: str,
        method: str,
        status: int,
        latency_s: float,
        upstream_error: str | None = None,
    ) -> Sample:
        with self._lock:
            sample = Sample(
                seq=self._next_seq,
                time=time.time(),
                pool=pool,
                version=version,
                backend=backend,
                method=method,
                status=status,
                latency_ms=round(latency_s * 1000.0, 3),
                upstream_error=upstream_error,
            )
            self._next_seq += 1
            self._samples.append(sample)
            key = (pool, version, status)
            self._counters[key] = self._counters.get(key, 0) + 1
            self._histograms.setdefault((pool, version), _Histogram()).observe(latency_s)
            sinks = tuple(self._sinks)
        for sink in sinks:
            # A sink that raises must not turn a served request into an error for the client.
            try:
                sink(sample)
            except Exception:  # noqa: S112 - measurement must never break serving
                continue
        return sample

    @property
    def next_seq(self) -> int:
        with self._lock:
            return self._next_seq

    def samples_since(self, since: int, limit: int = 10_000) -> SamplePage:
        with self._lock:
            oldest = self._samples[0].seq if self._samples else self._next_seq
            dropped = max(0, oldest - max(since, 1))
            start_index = max(0, since - oldest) if self._samples else 0
            picked: list[Sample] = []
            for index in range(start_index, len(self._samples)):
                if len(picked) >= limit:
                    break
                picked.append(self._samples[index])
            next_seq = picked[-1].seq + 1 if picked else max(since, oldest)
            return SamplePage(tuple(picked), next_seq, dropped)

    def prometheus_text(self, gauges: list[tuple[str, str, dict[str, str], float]]) -> str:
        """Prometheus text format 0.0.4. ``gauges``: (name, help, labels, value) extras."""
        with self._lock:
            counters = dict(self._counters)
            histograms = {
                key: (list(h.buckets), h.count, h.sum) for key, h in self._histograms.items()
            }
        lines = [
            "# HELP gatekeeper_proxy_requests_total Requests proxied, by pool, version, status.",
            "# TYPE gatekeeper_proxy_requests_total counter",
        ]
        for (pool, version, status), value in sorted(counters.items()):
            labels = _labels({"pool": pool, "version": version, "status": str(status)})
            lines.append(f"gatekeeper_proxy_requests_total{labels} {value}")
        lines += [
            "# HELP gatekeeper_proxy_request_duration_seconds Request latency seen by the proxy.",
            "# TYPE gatekeeper_proxy_request_duration_seconds histogram",
        ]
        for (pool, version), (buckets, count, total) in sorted(histograms.items()):
            base = {"pool": pool, "version": version}
            cumulative = 0
            for bound, in_bucket in zip(LATENCY_BUCKETS_S, buckets, strict=True):
                cumulative += in_bucket
                labels = _labels({**base, "le": _float(bound)})
                lines.append(f"{_BUCKET}{labels} {cumulative}")
            labels = _labels({**base, "le": "+Inf"})
            lines.append(f"{_BUCKET}{labels} {count}")
            lines.append(f"gatekeeper_proxy_request_duration_seconds_sum{_labels(base)} {total}")
            lines.append(f"gatekeeper_proxy_request_duration_seconds_count{_labels(base)} {count}")
        declared: set[str] = set()
        for name, help_text, labels_map, gauge_value in gauges:
            if name not in declared:
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
                declared.add(name)
            lines.append(f"{name}{_labels(labels_map)} {_float(gauge_value)}")
        return "\n".join(lines) + "\n"


def _float(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    parts = []
    for key, value in labels.items():
        escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        parts.append(f'{key}="{escaped}"')
    return "{" + ",".join(parts) + "}"
