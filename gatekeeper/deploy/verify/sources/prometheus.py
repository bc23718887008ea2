"""Metrics from a Prometheus server, over its HTTP API.

A metric's ``query`` is PromQL in which ``$version`` stands for the version label of the side
being fetched and ``$pool`` for the proxy's pool label (``canary``; ``stable``, or ``baseline``
while a canary's fresh baseline runs — select with ``pool="$pool"`` to judge against the fresh
baseline alone): the source runs it once for the baseline and once for the canary. The query
must return a single series per side (aggregate with ``sum``/``avg``/``histogram_quantile``).

* Sampled metrics: ``GET /api/v1/query_range`` over the analysis window at the window's step;
  the series' values are the samples (one per step, as Kayenta compares time series).
* Proportions: when ``total_query`` is set, ``query`` counts events and ``total_query`` counts
  all, each an instant ``GET /api/v1/query`` at the window's end (for example
  ``sum(increase(http_requests_total{version="$version",code=~"5.."}[5m]))``); the counts go
  to the same exact test as the proxy's error rate.

Every failure to obtain data — server unreachable, timeout, HTTP error, a query Prometheus
rejects, an empty result, several series, NaN-only values — is an observation without data and
its reason, so the judge says INCONCLUSIVE and why. Responses are read up to ``max_bytes``;
only http(s) URLs are accepted, and environment proxies are ignored unless asked for (a
loopback Prometheus must not be sent to a corporate proxy).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from string import Template
from typing import Any, ClassVar

from gatekeeper.deploy.verify.config import MetricConfig
from gatekeeper.deploy.verify.sources.interface import (
    BASELINE,
    CANARY,
    AnalysisWindow,
    Counts,
    MetricSource,
    Observation,
    Samples,
    finite_values,
)
from gatekeeper.errors import ConfigError

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
# Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 11_000
# Version labels are substituted into PromQL label matchers: allow nothing that could end one.
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.:+-]{1,200}$")


class _NoData(Exception):
    """Internal: why one side has no usable data."""


class PrometheusSource(MetricSource):
    name: ClassVar[str] = "prometheus"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_bytes: int = DEFAULT_MAX_BYTES,
        use_env_proxy: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"prometheus url must be http(s)://host[:port][/path], got {url!r}")
        if not (math.isfinite(timeout) and timeout > 0):
            raise ConfigError("prometheus timeout must be a positive number of seconds")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.headers = dict(headers or {})
        handlers: list[urllib.request.BaseHandler] = []
        if not use_env_proxy:
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    # -- HTTP ---------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str]) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        # The scheme was checked to be http(s) in __init__.
        request = urllib.request.Request(  # noqa: S310
            url, headers={"Accept": "application/json", **self.headers}
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read(self.max_bytes + 1)
        except urllib.error.HTTPError as exc:
            # Prometheus explains a rejected query in the JSON body of a 400/422.
            detail = ""
            with contextlib.suppress(ValueError, OSError, AttributeError):
                detail = str(json.loads(exc.read(64 * 1024)).get("error", ""))
            raise _NoData(
                f"prometheus answered HTTP {exc.code}" + (f": {detail}" if detail else "")
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _NoData(f"prometheus at {self.url} not reachable: {reason}") from None
        if len(body) > self.max_bytes:
            raise _NoData(f"prometheus response larger than {self.max_bytes} bytes")
        try:
            document = json.loads(body)
        except ValueError:
            raise _NoData("prometheus response is not JSON") from None
        if not isinstance(document, dict) or document.get("status") != "success":
            error = document.get("error") if isinstance(document, dict) else None
            raise _NoData(f"prometheus query failed: {error or 'unexpected response'}")
        return document.get("data")

    # -- queries ------------------------------------------------------------------------------

    @staticmethod
    def _render(metric: MetricConfig, query: str, version: str, pool: str) -> str:
        if not _LABEL_VALUE.match(version):
            raise ConfigError(f"version label {version!r} is not a safe Prometheus label value")
        try:
            return Template(query).substitute(version=version, pool=pool)
        except (KeyError, ValueError) as exc:
            raise ConfigError(
                f"metric {metric.name}: query placeholder problem ({exc}); only $version and "
                "$pool are substituted, write $$ for a literal $"
            ) from None

    @staticmethod
    def _single(data: Any, expected: str) -> Any:
        if not isinstance(data, dict) or data.get("resultType") != expected:
            raise _NoData(f"expected a {expected} result from prometheus")
        result = data.get("result")
        if not isinstance(result, list) or not result:
            raise _NoData("the query returned no series")
        if len(result) > 1:
            raise _NoData(
                f"the query returned {len(result)} series; aggregate it to one per version"
            )
        return result[0]

    def _range(self, query: str, window: AnalysisWindow) -> tuple[tuple[float, ...], int]:
        step = max(window.step, (window.end - window.start) / MAX_POINTS)
        data = self._get(
            "/api/v1/query_range",
            {
                "query": query,
                "start": f"{window.start:.3f}",
                "end": f"{window.end:.3f}",
                "step": f"{step:.3f}",
            },
        )
        series = self._single(data, "matrix")
        try:
            raw = [float(value) for _, value in series["values"]]
        except (KeyError, TypeError, ValueError):
            raise _NoData("malformed range-query values from prometheus") from None
        values, dropped = finite_values(raw)
        if not values:
            raise _NoData("the series has no finite values in the window")
        return values, dropped

    def _instant(self, query: str, at: float) -> float:
        data = self._get("/api/v1/query", {"query": query, "time": f"{at:.3f}"})
        series = self._single(data, "vector")
        try:
            value = float(series["value"][1])
        except (KeyError, TypeError, ValueError, IndexError):
            raise _NoData("malformed instant-query value from prometheus") from None
        if not math.isfinite(value) or value < 0:
            raise _NoData(f"count is not a finite non-negative number: {value}")
        return value

    def fetch(self, metric: MetricConfig, window: AnalysisWindow) -> Observation:
        sides: dict[str, Samples | Counts] = {}
        notes: list[str] = []
        # The proxy's pool label of each side: a canary's fresh baseline, or the stable pool.
        baseline_pool = BASELINE if window.fresh_baseline else "stable"
        for side, version, pool in (
            (BASELINE, window.baseline, baseline_pool),
            (CANARY, window.canary, CANARY),
        ):
            query = self._render(metric, metric.query, version, pool)
            try:
                if metric.total_query:
                    total_query = self._render(metric, metric.total_query, version, pool)
                    # increase() extrapolates, so counts come back fractional: round them.
                    events = round(self._instant(query, window.end))
                    total = round(self._instant(total_query, window.end))
                    if events > total:
                        raise _NoData(f"more events ({events}) than total ({total})")
                    sides[side] = Counts(events, total)
                else:
                    values, dropped = self._range(query, window)
                    if dropped:
                        notes.append(f"{side}: {dropped} NaN/infinite points left out")
                    sides[side] = Samples(values)
            except _NoData as exc:
                return Observation.unavailable(f"{side} ({version}): {exc}")
        return Observation(baseline=sides[BASELINE], canary=sides[CANARY], notes=tuple(notes))
