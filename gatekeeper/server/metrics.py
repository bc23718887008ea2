"""Prometheus text exposition, by hand: four families do not need a client library.

``gatekeeper_http_requests_total{method,route,status}``, ``gatekeeper_decisions_total{outcome}``,
``gatekeeper_evaluation_seconds`` (histogram) and ``gatekeeper_log_size`` (gauge).
"""

from __future__ import annotations

import threading
from collections import Counter

EVALUATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, int]] = Counter()
        self._decisions: Counter[str] = Counter()
        self._buckets = [0] * len(EVALUATION_BUCKETS)
        self._evaluations = 0
        self._evaluation_sum = 0.0

    def request(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self._requests[(method, route, status)] += 1

    def decision(self, outcome: str, seconds: float) -> None:
        with self._lock:
            self._decisions[outcome] += 1
            self._evaluations += 1
            self._evaluation_sum += seconds
            for i, bound in enumerate(EVALUATION_BUCKETS):
                if seconds <= bound:
                    self._buckets[i] += 1

    def render(self, log_size: int) -> str:
        with self._lock:
            lines = [
                "# HELP gatekeeper_http_requests_total HTTP requests answered.",
                "# TYPE gatekeeper_http_requests_total counter",
            ]
            for (method, route, status), count in sorted(self._requests.items()):
                lines.append(
                    f'gatekeeper_http_requests_total{{method="{_label(method)}",'
                    f'route="{_label(route)}",status="{status}"}} {count}'
                )
            lines += [
                "# HELP gatekeeper_decisions_total Decisions recorded, by outcome.",
                "# TYPE gatekeeper_decisions_total counter",
            ]
            for outcome, count in sorted(self._decisions.items()):
                lines.append(f'gatekeeper_decisions_total{{outcome="{_label(outcome)}"}} {count}')
            lines += [
                "# HELP gatekeeper_evaluation_seconds Time to judge one submission.",
                "# TYPE gatekeeper_evaluation_seconds histogram",
            ]
            for bound, count in zip(EVALUATION_BUCKETS, self._buckets, strict=True):
                lines.append(f'gatekeeper_evaluation_seconds_bucket{{le="{bound}"}} {count}')
            lines += [
                f'gatekeeper_evaluation_seconds_bucket{{le="+Inf"}} {self._evaluations}',
                f"gatekeeper_evaluation_seconds_sum {self._evaluation_sum}",
                f"gatekeeper_evaluation_seconds_count {self._evaluations}",
                "# HELP gatekeeper_log_size Records in the Merkle log.",
                "# TYPE gatekeeper_log_size gauge",
                f"gatekeeper_log_size {log_size}",
            ]
        return "\n".join(lines) + "\n"
