"""Talking to a running proxy daemon through its admin API."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gatekeeper.deploy.errors import DeployError
from gatekeeper.deploy.proxy.metrics import Sample, SamplePage
from gatekeeper.deploy.proxy.server import LISTEN_HOST


@dataclass(frozen=True)
class PoolRoute:
    version: str
    backends: tuple[tuple[str, int], ...]  # (backend id, port)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "backends": [{"id": bid, "port": port} for bid, port in self.backends],
        }


@dataclass(frozen=True)
class RoutesResult:
    drained: tuple[str, ...]
    timed_out: tuple[str, ...]
    state: dict[str, Any]


class ProxyClient:
    def __init__(self, admin_port: int, token: str | None, *, timeout: float = 10.0) -> None:
        self.admin_port = admin_port
        self._token = token
        self._timeout = timeout

    def _call(
        self, method: str, path: str, body: Any = None, *, timeout: float | None = None
    ) -> Any:
        conn = http.client.HTTPConnection(
            LISTEN_HOST, self.admin_port, timeout=timeout or self._timeout
        )
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            payload = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise DeployError(
                f"proxy admin API on 127.0.0.1:{self.admin_port} not reachable: {exc}"
            ) from None
        finally:
            conn.close()
        if path.startswith("/metrics"):
            return data.decode()
        try:
            decoded = json.loads(data)
        except ValueError:
            raise DeployError(f"proxy admin API {path}: answered non-JSON") from None
        if response.status != 200:
            raise DeployError(f"proxy admin API {path}: {response.status} {decoded}")
        return decoded

    def healthy(self) -> bool:
        try:
            return bool(self._call("GET", "/healthz", timeout=2.0).get("ok"))
        except DeployError:
            return False

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/state")
        return result

    def metrics_text(self) -> str:
        return str(self._call("GET", "/metrics"))

    def set_weight(self, canary_weight: int, *, lease_seconds: float | None = None) -> None:
        body: dict[str, Any] = {"canary_weight": canary_weight}
        if lease_seconds is not None:
            body["lease_seconds"] = lease_seconds
        self._call("POST", "/weight", body)

    def heartbeat(self, lease_seconds: float) -> dict[str, Any]:
        """Renew the lease on the current split; returns the proxy's state."""
        result: dict[str, Any] = self._call("POST", "/lease", {"seconds": lease_seconds})
        return result

    def put_routes(
        self,
        stable: PoolRoute | None,
        canary: PoolRoute | None,
        canary_weight: int,
        drain_timeout: float,
        *,
        lease_seconds: float | None = None,
        mirror: int = 0,
        baseline: PoolRoute | None = None,
    ) -> RoutesResult:
        """Replace the routing table; returns once removed workers are drained (bounded).
        With ``lease_seconds`` a split of traffic lasts only as long as it is renewed."""
        body: dict[str, Any] = {
            "stable": stable.to_json() if stable else None,
            "canary": canary.to_json() if canary else None,
            "baseline": baseline.to_json() if baseline else None,
            "canary_weight": canary_weight,
            "drain_timeout": drain_timeout,
            "mirror": mirror,
        }
        if lease_seconds is not None:
            body["lease_seconds"] = lease_seconds
        data = self._call("PUT", "/routes", body, timeout=drain_timeout + self._timeout)
        return RoutesResult(tuple(data["drained"]), tuple(data["timed_out"]), data["state"])

    def samples(self, since: int, limit: int = 10_000) -> SamplePage:
        data = self._call("GET", f"/samples?since={int(since)}&limit={int(limit)}")
        return SamplePage(
            tuple(Sample.from_json(item) for item in data["samples"]),
            int(data["next"]),
            int(data["dropped"]),
        )


class Heartbeat:
    """Renews a lease from a daemon thread of the deployer, every third of the lease, by
    calling ``renew`` (which names the proxy of the moment: a restarted proxy has a new admin
    port). It lives and dies with the deployer's process: a ``kill -9`` stops the beats, and
    the proxy heals the split on its own one lease later."""

    def __init__(self, renew: Callable[[float], object], lease_seconds: float) -> None:
        self._renew = renew
        self.lease_seconds = lease_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            with contextlib.suppress(DeployError):  # a missed beat is retried at the next
                self._renew(self.lease_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.lease_seconds)
            self._thread = None


class SampleFeed:
    """The in-process sink for a proxy in another process: each :meth:`take` returns the
    samples recorded since the previous one (one analysis interval), and how many were lost
    because the proxy's buffer wrapped — the judge must treat a gap as missing data."""

    def __init__(self, client: ProxyClient, *, start_at_now: bool = True) -> None:
        self._client = client
        self._next = int(client.state()["samples_next"]) if start_at_now else 1

    def take(self) -> tuple[list[Sample], int]:
        samples: list[Sample] = []
        dropped = 0
        while True:
            page = self._client.samples(self._next)
            samples.extend(page.samples)
            dropped += page.dropped
            self._next = page.next_seq
            if len(page.samples) < 10_000:
                return samples, dropped
