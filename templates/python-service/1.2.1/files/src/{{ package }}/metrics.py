"""Prometheus text-format metrics (exposition format 0.0.4), standard library only.

Request counters by method, path and status, and a latency histogram by path. Paths are the
service's known routes or "other", so a scanner hitting random URLs cannot blow up the number
of series.
"""

from __future__ import annotations

import threading

# Seconds. Dense below 100 ms, where a healthy service lives; the tail catches timeouts.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(**labels: str) -> str:
    inner = ",".join(
        f'{key}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for key, value in labels.items()
    )
    return "{" + inner + "}"


class Metrics:
    """Thread-safe counters and histograms, rendered on demand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = {}
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (method, path, str(status))
            self._requests[key] = self._requests.get(key, 0) + 1
            buckets = self._buckets.setdefault(path, [0] * len(BUCKETS))
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[index] += 1
            self._sums[path] = self._sums.get(path, 0.0) + seconds
            self._counts[path] = self._counts.get(path, 0) + 1

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP http_requests_total HTTP requests handled, by method, path and status.",
                "# TYPE http_requests_total counter",
            ]
            for (method, path, status), count in sorted(self._requests.items()):
                labels = _labels(method=method, path=path, status=status)
                lines.append(f"http_requests_total{labels} {count}")
            lines += [
                "# HELP http_request_duration_seconds HTTP request latency in seconds, by path.",
                "# TYPE http_request_duration_seconds histogram",
            ]
            for path in sorted(self._buckets):
                for bound, count in zip(BUCKETS, self._buckets[path]):
                    labels = _labels(path=path, le=repr(bound))
                    lines.append(f"http_request_duration_seconds_bucket{labels} {count}")
                inf = _labels(path=path, le="+Inf")
                lines.append(f"http_request_duration_seconds_bucket{inf} {self._counts[path]}")
                plain = _labels(path=path)
                lines.append(f"http_request_duration_seconds_sum{plain} {self._sums[path]:.6f}")
                lines.append(f"http_request_duration_seconds_count{plain} {self._counts[path]}")
            return "\n".join(lines) + "\n"
