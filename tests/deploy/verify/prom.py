"""A real Prometheus server for tests: our tiny exporter on loopback, scraped every 250 ms.

The exporter serves, per version label, a request counter (by status code) whose values grow
with time at a fixed rate and error share, and a latency gauge that moves through a fixed,
deterministic sequence — so every scrape adds one point to each series.
"""

from __future__ import annotations

import contextlib
import http.server
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCRAPE_INTERVAL = "250ms"
# version -> (requests per second, error share, latency gauge mean in ms)
VERSIONS = {
    "v1": (200.0, 0.01, 100.0),
    "v2": (200.0, 0.01, 100.0),  # healthy: behaves as v1
    "v3": (200.0, 0.30, 200.0),  # bad: 30 % errors, twice the latency
}
# A fixed zig-zag around the mean (no randomness: tests must be reproducible).
_WIGGLE = (-9.0, 4.0, -2.0, 7.0, -5.0, 1.0, 8.0, -7.0, 3.0, -1.0, 6.0, -4.0, 0.0, 5.0, -8.0, 2.0)


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Exporter(http.server.BaseHTTPRequestHandler):
    started = time.monotonic()
    scrapes = itertools.count()

    def do_GET(self) -> None:
        if self.path != "/metrics":
            self.send_error(404)
            return
        elapsed = time.monotonic() - self.started
        step = next(self.scrapes)
        lines = [
            "# TYPE app_requests_total counter",
        ]
        for version, (rps, errors, _) in VERSIONS.items():
            total = int(rps * elapsed)
            failed = int(total * errors)
            lines.append(f'app_requests_total{{version="{version}",code="200"}} {total - failed}')
            lines.append(f'app_requests_total{{version="{version}",code="500"}} {failed}')
        lines.append("# TYPE app_latency_ms gauge")
        for offset, (version, (_, _, mean)) in enumerate(VERSIONS.items()):
            wiggle = _WIGGLE[(step + 5 * offset) % len(_WIGGLE)]
            lines.append(f'app_latency_ms{{version="{version}"}} {mean + wiggle * mean / 100}')
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


@dataclass
class RunningPrometheus:
    url: str
    process: subprocess.Popen[bytes]


def _get_json(url: str) -> dict[str, object]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as response:
        data: dict[str, object] = json.loads(response.read())
        return data


@contextlib.contextmanager
def prometheus_server(
    binary: str, *, job: str, target: str, scrape_interval: str, scrape_timeout: str
) -> Iterator[RunningPrometheus]:
    """The real binary on a free loopback port scraping ``target`` (host:port) as ``job``,
    with a throwaway config and storage; stopped (then killed if it must be) on exit."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="gk-prom-") as tmp:
        config = Path(tmp) / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {scrape_interval}\n"
            f"  scrape_timeout: {scrape_timeout}\n"
            "scrape_configs:\n"
            f"  - job_name: {job}\n"
            "    static_configs:\n"
            f"      - targets: ['{target}']\n"
        )
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={Path(tmp) / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            yield RunningPrometheus(url=f"http://127.0.0.1:{port}", process=process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def exited_error(process: subprocess.Popen[bytes]) -> RuntimeError:
    """What a Prometheus that died during start-up said, as an error to raise."""
    err = process.stderr.read().decode(errors="replace") if process.stderr else ""
    return RuntimeError(f"prometheus exited with {process.returncode}: {err[-2000:]}")


@contextlib.contextmanager
def running_prometheus(binary: str, *, min_points: int = 16) -> Iterator[RunningPrometheus]:
    """Start the exporter and Prometheus; yield once every series has ``min_points`` scrapes."""
    exporter = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
    thread = threading.Thread(target=exporter.serve_forever, daemon=True)
    thread.start()
    try:
        with prometheus_server(
            binary,
            job="app",
            target=f"127.0.0.1:{exporter.server_address[1]}",
            scrape_interval=SCRAPE_INTERVAL,
            scrape_timeout="200ms",
        ) as running:
            _wait_for_points(running.url, running.process, min_points)
            yield running
    finally:
        exporter.shutdown()
        exporter.server_close()


def _wait_for_points(url: str, process: subprocess.Popen[bytes], min_points: int) -> None:
    deadline = time.monotonic() + 60
    query = urllib.parse.urlencode({"query": "count_over_time(app_latency_ms[1m])"})
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise exited_error(process)
        with contextlib.suppress(OSError, ValueError):
            data = _get_json(f"{url}/api/v1/query?{query}")
            result = data.get("data", {}).get("result", [])  # type: ignore[union-attr]
            if len(result) == len(VERSIONS) and all(
                float(series["value"][1]) >= min_points for series in result
            ):
                return
        time.sleep(0.25)
    raise RuntimeError("prometheus did not collect enough scrapes within 60 s")
