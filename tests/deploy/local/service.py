"""A tiny HTTP service for the local-target tests (run as a real worker process).

Environment: PORT (required), VERSION (echoed in every body), ERROR_RATE (0..1, share of
``/`` answered 500), LATENCY_MS (added to every ``/``), STARTUP_DELAY (seconds before it
listens), NEVER_READY=1 (``/healthz`` answers 503 forever), IGNORE_SIGTERM=1.
``/slow?ms=N`` sleeps N ms (for draining). SIGTERM: stop accepting, finish in-flight, exit 0.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

VERSION = os.environ.get("VERSION", "v0")
ERROR_RATE = float(os.environ.get("ERROR_RATE", "0"))
LATENCY_MS = float(os.environ.get("LATENCY_MS", "0"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections must not hold up a graceful stop forever

    def log_message(self, format: str, *args: object) -> None:
        return

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus delayed ACKs
        # add ~40 ms to every keep-alive request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            if os.environ.get("NEVER_READY") == "1":
                self._send(503, "not ready")
            else:
                self._send(200, "ok")
            return
        if url.path == "/slow":
            time.sleep(int(parse_qs(url.query).get("ms", ["1000"])[0]) / 1000.0)
            self._send(200, f"slow {VERSION}")
            return
        if LATENCY_MS:
            time.sleep(LATENCY_MS / 1000.0)
        if random.random() < ERROR_RATE:  # noqa: S311 - simulated errors, not crypto
            print(f"ERROR boom in {VERSION}", flush=True)
            self._send(500, f"error {VERSION}")
            return
        self._send(200, f"hello {VERSION}")

    def _send(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = False  # in-flight requests finish before exit (graceful stop)
    block_on_close = True
    request_queue_size = 128


def main() -> int:
    time.sleep(float(os.environ.get("STARTUP_DELAY", "0")))
    server = Server(("127.0.0.1", int(os.environ["PORT"])), Handler)
    print(f"service {VERSION} listening on {server.server_address[1]}", flush=True)

    def stop(_signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    if os.environ.get("IGNORE_SIGTERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, stop)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    print(f"service {VERSION} stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
