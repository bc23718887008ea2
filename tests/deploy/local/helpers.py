"""Test helpers: the fixture service, configs, and a bounded load generator."""

from __future__ import annotations

import http.client
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from gatekeeper.deploy.service_config import ServiceDeployConfig
from gatekeeper.deploy.state import ReleaseRecord

SERVICE = Path(__file__).with_name("service.py")


def service_config(replicas: int = 2, **overrides: object) -> ServiceDeployConfig:
    values: dict[str, object] = {
        "start": [sys.executable, str(SERVICE)],
        "replicas": replicas,
        "readiness_timeout": 10.0,
        "stop_grace_period": 3.0,
        "drain_timeout": 5.0,
    }
    values.update(overrides)
    return ServiceDeployConfig.model_validate(values)


def release(version: str, workdir: Path, **env: str) -> ReleaseRecord:
    return ReleaseRecord(version=version, workdir=str(workdir), env={"VERSION": version, **env})


@dataclass
class LoadResult:
    statuses: Counter[int] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + len(self.errors)

    @property
    def failed(self) -> int:
        return len(self.errors) + sum(n for status, n in self.statuses.items() if status >= 500)


class LoadGenerator:
    """Steady GET / traffic through the proxy from ``threads`` keep-alive clients, until
    stopped or ``max_seconds`` (a bound, so a broken test cannot hang)."""

    def __init__(self, port: int, *, threads: int = 2, max_seconds: float = 30.0) -> None:
        self.port = port
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> LoadGenerator:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> LoadResult:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        return self.result

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.result.total < count and time.monotonic() < deadline:
            time.sleep(0.02)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                conn.request("GET", "/")
                response = conn.getresponse()
                body = response.read().decode()
                with self._lock:
                    self.result.statuses[response.status] += 1
                    self.result.versions[body.rsplit(" ", 1)[-1]] += 1
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self.result.errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            time.sleep(0.002)
        conn.close()


def get(port: int, path: str = "/", timeout: float = 10.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()
