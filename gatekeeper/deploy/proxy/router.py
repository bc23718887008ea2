"""Routing table of the proxy: the stable and canary pools, a canary weight, draining — and
while a canary is judged, a third pool, its fresh baseline (workers of the stable version
started with the canary's, as many), which takes as large a share as the canary (at most what
the canary leaves): each canary worker and each baseline worker then serve the same share of
requests, so the two are compared on equal footing (the Kayenta practice) rather than a new
worker against long-running ones carrying a different load.

Thread-safe: every handler thread picks a backend under one lock, and the pick increments the
backend's in-flight count under the same lock, so a drain that starts after a pick always
waits for that request. The split is deterministic (smooth weighting on a request counter)
rather than random, so that even a few dozen requests honour the weight closely — low traffic
is exactly when a random split would mislead the judge.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass
from typing import Any

STABLE = "stable"
CANARY = "canary"
BASELINE = "baseline"
POOLS = (STABLE, CANARY, BASELINE)
UPSTREAM_HOST = "127.0.0.1"
# Idle keep-alive connections kept per backend; more would only hold worker threads busy.
MAX_IDLE_PER_BACKEND = 32


class Backend:
    """One upstream worker: its keep-alive connection pool and in-flight count."""

    def __init__(self, backend_id: str, port: int) -> None:
        self.id = backend_id
        self.port = port
        self.pool = STABLE
        self.version = ""
        self.inflight = 0
        self.draining = False
        self._idle: list[http.client.HTTPConnection] = []
        self._idle_lock = threading.Lock()

    def checkout(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """An idle keep-alive connection (reused=True) or a new one."""
        with self._idle_lock:
            if self._idle:
                return self._idle.pop(), True
        return http.client.HTTPConnection(UPSTREAM_HOST, self.port, timeout=timeout), False

    def checkin(self, conn: http.client.HTTPConnection) -> None:
        with self._idle_lock:
            if not self.draining and len(self._idle) < MAX_IDLE_PER_BACKEND:
                self._idle.append(conn)
                return
        conn.close()

    def close_idle(self) -> None:
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


@dataclass(frozen=True)
class Pick:
    backend: Backend
    pool: str
    version: str


@dataclass(frozen=True)
class DrainResult:
    drained: tuple[str, ...]
    timed_out: tuple[str, ...]  # still had requests in flight when the timeout ran out


class Router:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pools: dict[str, list[Backend]] = {pool: [] for pool in POOLS}
        self._versions: dict[str, str] = {pool: "" for pool in POOLS}
        self._draining: dict[str, Backend] = {}
        self._canary_weight = 0
        self._requests = 0
        self._not_canary = 0  # requests not sent to the canary: the baseline's share of them
        self._rr = {pool: 0 for pool in POOLS}
        # Mirroring (blue-green before and after the switch): this share of the safe requests
        # of the pool serving clients is also sent to the other pool, whose answers only the
        # metrics see.
        self._mirror = 0
        self._mirrored = 0

    # -- request path ----------------------------------------------------------------------

    def pick(self, exclude: frozenset[str] = frozenset()) -> Pick | None:
        """Choose a backend and count the request in flight on it; None: nothing to route to."""
        with self._cond:
            pool = self._choose_pool()
            # The baseline is a stable-version stand-in: without workers, stable serves.
            order = {STABLE: (STABLE, CANARY), CANARY: (CANARY, STABLE)}.get(
                pool, (BASELINE, STABLE, CANARY)
            )
            for name in order:
                candidates = [b for b in self._pools[name] if b.id not in exclude]
                if not candidates:
                    continue  # an empty pool never eats its share: the other one serves it
                index = self._rr[name] % len(candidates)
                self._rr[name] += 1
                backend = candidates[index]
                backend.inflight += 1
                return Pick(backend, name, self._versions[name])
            return None

    def _choose_pool(self) -> str:
        # Smooth weighting: request n goes to the canary when floor(n*w/100) increases, which
        # spreads w canary requests evenly through every 100.
        self._requests += 1
        n, w = self._requests, self._canary_weight
        if (n * w) // 100 > ((n - 1) * w) // 100:
            return CANARY
        baseline = self._baseline_weight()
        if baseline <= 0:
            return STABLE
        # Of the requests left to the other pools, the baseline's share, spread the same way.
        self._not_canary += 1
        m, rest = self._not_canary, 100 - w
        return BASELINE if (m * baseline) // rest > ((m - 1) * baseline) // rest else STABLE

    def _baseline_weight(self) -> int:
        """As large a share as the canary's, at most what the canary leaves; 0 without
        baseline workers."""
        if not self._pools[BASELINE]:
            return 0
        return min(self._canary_weight, 100 - self._canary_weight)

    def pick_mirror(self, served: str) -> Pick | None:
        """A backend for a copy of a request the ``served`` pool answered (its share,
        smoothly), counted in flight; None: not mirroring now, or this request is not in the
        share. Copies go to the pool that takes no live traffic of its own: the stable pool
        while the canary has all of it (blue-green after the switch: blue answers copies of
        green's requests), the canary pool otherwise (before the switch: green answers
        copies of blue's)."""
        with self._cond:
            to = STABLE if self._canary_weight >= 100 else CANARY
            share, candidates = self._mirror, self._pools[to]
            if share <= 0 or not candidates or served == to:
                return None
            self._mirrored += 1
            n = self._mirrored
            if (n * share) // 100 <= ((n - 1) * share) // 100:
                return None
            backend = candidates[self._rr[to] % len(candidates)]
            self._rr[to] += 1
            backend.inflight += 1
            return Pick(backend, to, self._versions[to])

    def set_mirror(self, share: int) -> None:
        if not 0 <= share <= 100:
            raise ValueError("mirror share must be 0..100")
        with self._cond:
            self._mirror = share

    def release(self, backend: Backend) -> None:
        with self._cond:
            backend.inflight -= 1
            if backend.inflight <= 0:
                self._cond.notify_all()

    # -- admin path ------------------------------------------------------------------------

    def set_weight(self, canary_weight: int) -> None:
        if not 0 <= canary_weight <= 100:
            raise ValueError("canary weight must be 0..100")
        with self._cond:
            self._canary_weight = canary_weight

    def apply(
        self,
        stable: tuple[str, list[tuple[str, int]]],
        canary: tuple[str, list[tuple[str, int]]],
        canary_weight: int,
        drain_timeout: float,
        baseline: tuple[str, list[tuple[str, int]]] = ("", []),
    ) -> DrainResult:
        """Replace the whole table at once; backends no longer listed are drained (bounded).

        ``stable``/``canary``/``baseline``: (version, [(backend id, port)]). A backend that
        moves between pools (a promoted canary) keeps its connections and in-flight count.
        """
        if not 0 <= canary_weight <= 100:
            raise ValueError("canary weight must be 0..100")
        with self._cond:
            known = {b.id: b for pool in self._pools.values() for b in pool}
            known.update(self._draining)
            wanted: dict[str, list[Backend]] = {pool: [] for pool in POOLS}
            tables = ((STABLE, stable), (CANARY, canary), (BASELINE, baseline))
            for pool, (version, members) in tables:
                self._versions[pool] = version
                for backend_id, port in members:
                    backend = known.pop(backend_id, None)
                    if backend is None or backend.port != port:
                        backend = Backend(backend_id, port)
                    backend.pool, backend.version, backend.draining = pool, version, False
                    self._draining.pop(backend_id, None)
                    wanted[pool].append(backend)
            self._pools = wanted
            self._canary_weight = canary_weight
            for backend in known.values():
                backend.draining = True
                self._draining[backend.id] = backend
            removed = list(known.values())
        for backend in removed:
            backend.close_idle()
        return self._wait_drained(removed, drain_timeout)

    def _wait_drained(self, backends: list[Backend], timeout: float) -> DrainResult:
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(b.inflight > 0 for b in backends):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            drained = tuple(b.id for b in backends if b.inflight <= 0)
            timed_out = tuple(b.id for b in backends if b.inflight > 0)
            for backend in backends:
                if backend.inflight <= 0 and self._draining.get(backend.id) is backend:
                    del self._draining[backend.id]
        return DrainResult(drained, timed_out)

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return {
                "canary_weight": self._canary_weight,
                "baseline_weight": self._baseline_weight(),
                "mirror": self._mirror,
                "pools": {
                    name: {
                        "version": self._versions[name],
                        "backends": [
                            {"id": b.id, "port": b.port, "inflight": b.inflight}
                            for b in self._pools[name]
                        ],
                    }
                    for name in POOLS
                },
                "draining": [
                    {"id": b.id, "port": b.port, "inflight": b.inflight, "version": b.version}
                    for b in self._draining.values()
                ],
            }

    def close_idle(self) -> None:
        """Close every idle upstream connection (on shutdown: workers need not wait for them)."""
        with self._cond:
            backends = [b for pool in self._pools.values() for b in pool]
            backends += list(self._draining.values())
        for backend in backends:
            backend.close_idle()

    def total_inflight(self) -> int:
        with self._cond:
            backends = [b for pool in self._pools.values() for b in pool]
            return sum(b.inflight for b in [*backends, *self._draining.values()])
