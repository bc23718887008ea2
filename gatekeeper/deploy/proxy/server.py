"""The built-in HTTP reverse proxy of the local target, and its admin API.

Threaded (``http.server`` + ``http.client``): each client connection gets a thread, HTTP/1.1
keep-alive to clients, and a keep-alive connection pool per upstream worker. Stdlib parsers on
both sides keep the HTTP handling battle-tested rather than hand-written. Only 127.0.0.1 is
ever bound.

Failed-request policy (so a healthy rollout loses no request): a connection refused by a
worker (it just stopped, or not yet listening) is retried on another worker — nothing was sent,
so this is safe for every method; a reused keep-alive connection that the worker had closed is
retried for idempotent methods. Only when no worker could answer does the client get a 502
(503 when there is no worker at all), and that is measured against the chosen version.

Admin API (separate port, loopback): ``GET /metrics`` (Prometheus text), ``GET /healthz``,
``GET /state`` (pools, weight, in-flight), ``GET /samples?since=N`` (per-request samples);
mutating calls need ``Authorization: Bearer <token>``: ``PUT /routes`` (the whole table at
once; removed workers are drained before the call returns), ``POST /weight``, ``POST
/lease``.

Lease (the traffic layer heals on its own): ``PUT /routes`` and ``POST /weight`` may carry
``lease_seconds``. While traffic is split (a canary weight above 0 and a stable pool to fall
back to) the controller must renew the lease (``POST /lease {"seconds": N}``, its heartbeat)
before it runs out. When it does run out — the deployer was killed, hung or lost — the proxy
sends all traffic back to the stable pool, which holds the last promoted version, logs one
line saying why and keeps that record in ``GET /state`` (``lease.expired``), so the next
``deploy status`` or recovery can tell what happened. An unjudged canary never keeps its share
of traffic longer than one lease.
"""

from __future__ import annotations

import hmac
import http.client
import json
import logging
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gatekeeper.deploy.proxy.metrics import ProxyMetrics, SampleSink
from gatekeeper.deploy.proxy.router import BASELINE, CANARY, POOLS, STABLE, Backend, Pick, Router

MAX_LEASE_S = 3600.0
LEASE_CHECK_S = 0.2

LOG = logging.getLogger("gatekeeper.deploy.proxy")
LISTEN_HOST = "127.0.0.1"
MAX_REQUEST_BODY = 16 * 1024 * 1024
MAX_RESPONSE_BODY = 64 * 1024 * 1024
MAX_ADMIN_BODY = 1024 * 1024
MAX_ATTEMPTS = 3
# Only safe requests are mirrored: a copy of a POST could charge a card twice.
MIRRORED_METHODS = frozenset({"GET", "HEAD"})
# Copies in flight at most; beyond that a copy is dropped, never queued behind live traffic.
MAX_MIRRORED_INFLIGHT = 32
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler], owner: ProxyServer):
        self.owner = owner
        super().__init__((LISTEN_HOST, port), handler)

    def server_bind(self) -> None:
        # TCP_NODELAY: small responses must not wait for Nagle on keep-alive connections.
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()


class _UpstreamError(Exception):
    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive client connections release their thread after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # one line per request would drown the proxy log; the metrics have the facts

    def _proxy(self) -> None:
        owner = self.server.owner
        started = time.perf_counter()
        if self.headers.get("Transfer-Encoding"):
            self._plain(501, "chunked request bodies are not supported", close=True)
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._plain(400, "bad Content-Length", close=True)
            return
        if length < 0 or length > MAX_REQUEST_BODY:
            self._plain(413, "request body too large", close=True)
            return
        body = self.rfile.read(length) if length else None
        headers = self._upstream_headers()
        tried: set[str] = set()
        last: Pick | None = None
        error: str | None = None
        for _attempt in range(MAX_ATTEMPTS):
            pick = owner.router.pick(frozenset(tried))
            if pick is None:
                break
            last = pick
            try:
                status, reason, resp_headers, data = self._forward(pick.backend, headers, body)
            except _UpstreamError as exc:
                error = exc.reason
                tried.add(pick.backend.id)
                if exc.retryable:
                    continue
                break
            finally:
                owner.router.release(pick.backend)
            self._respond(pick, status, reason, resp_headers, data, started)
            if body is None and self.command in MIRRORED_METHODS:
                owner.mirror(self.command, self.path, headers, served=pick.pool)
            return
        status = 503 if last is None else 502
        message = "no upstream worker" if last is None else f"upstream failed: {error}"
        owner.metrics.record(
            pool=last.pool if last else STABLE,
            version=last.version if last else "",
            backend=last.backend.id if last else "",
            method=self.command,
            status=status,
            latency_s=time.perf_counter() - started,
            upstream_error=error or "no upstream worker",
        )
        self._plain(status, message)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _proxy

    def _upstream_headers(self) -> list[tuple[str, str]]:
        listed = {
            token.strip().lower()
            for value in self.headers.get_all("Connection", [])
            for token in value.split(",")
        }
        headers = [
            (name, value)
            for name, value in self.headers.items()
            if name.lower() not in HOP_BY_HOP and name.lower() not in listed
        ]
        forwarded_for = self.headers.get("X-Forwarded-For")
        client = self.client_address[0]
        headers = [(n, v) for n, v in headers if n.lower() != "x-forwarded-for"]
        chain = f"{forwarded_for}, {client}" if forwarded_for else client
        headers.append(("X-Forwarded-For", chain))
        return headers

    def _forward(
        self, backend: Backend, headers: list[tuple[str, str]], body: bytes | None
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        owner = self.server.owner
        conn, reused = backend.checkout(owner.upstream_timeout)
        sent = False
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            if body is not None or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body)
            sent = True
            response = conn.getresponse()
            data = response.read(MAX_RESPONSE_BODY + 1)
            if len(data) > MAX_RESPONSE_BODY:
                conn.close()
                raise _UpstreamError("response body too large", retryable=False)
        except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError) as exc:
            conn.close()
            # Refused: nothing reached the worker. Reset/broken on a reused connection: the
            # worker closed an idle keep-alive connection before reading our request.
            retry = not sent or reused or self.command in IDEMPOTENT
            raise _UpstreamError(type(exc).__name__, retryable=retry) from None
        except http.client.RemoteDisconnected:
            conn.close()
            raise _UpstreamError(
                "worker closed the connection", retryable=reused or self.command in IDEMPOTENT
            ) from None
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _UpstreamError(f"{type(exc).__name__}: {exc}", retryable=not sent) from None
        if response.will_close:
            conn.close()
        else:
            backend.checkin(conn)
        kept = [(n, v) for n, v in response.getheaders() if n.lower() not in HOP_BY_HOP]
        if self.command == "HEAD":
            length = response.getheader("Content-Length")
            if length is not None:
                kept.append(("Content-Length", length))
        return response.status, response.reason, kept, data

    def _respond(
        self,
        pick: Pick,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        data: bytes,
        started: float,
    ) -> None:
        # Measured before writing to the client: the latency is the service's (plus the
        # proxy's), not the client's network, and a sample exists by the time a client has
        # its answer.
        self.server.owner.metrics.record(
            pool=pick.pool,
            version=pick.version,
            backend=pick.backend.id,
            method=self.command,
            status=status,
            latency_s=time.perf_counter() - started,
        )
        try:
            self.send_response_only(status, reason)
            for name, value in headers:
                self.send_header(name, value)
            no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
            if not no_body:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not no_body:
                self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client went away; nothing left to tell it

    def _plain(self, status: int, message: str, *, close: bool = False) -> None:
        payload = (message + "\n").encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True


class _AdminHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        owner = self.server.owner
        url = urlsplit(self.path)
        if url.path == "/metrics":
            self._send(200, owner.prometheus_text().encode(), "text/plain; version=0.0.4")
        elif url.path == "/healthz":
            self._json(200, {"ok": True, "pid": os.getpid()})
        elif url.path == "/state":
            self._json(200, owner.state())
        elif url.path == "/samples":
            query = parse_qs(url.query)
            try:
                since = int(query.get("since", ["1"])[0])
                limit = min(int(query.get("limit", ["10000"])[0]), 50_000)
            except ValueError:
                self._json(400, {"error": "since and limit must be whole numbers"})
                return
            page = owner.metrics.samples_since(since, limit)
            self._json(
                200,
                {
                    "samples": [s.to_json() for s in page.samples],
                    "next": page.next_seq,
                    "dropped": page.dropped,
                },
            )
        else:
            self._json(404, {"error": "not found"})

    def do_PUT(self) -> None:
        self._mutate()

    def do_POST(self) -> None:
        self._mutate()

    def _mutate(self) -> None:
        owner = self.server.owner
        if not self._authorized():
            self._json(401, {"error": "missing or wrong bearer token"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_ADMIN_BODY:
                raise ValueError("body too large")
            payload = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("expected a JSON object")
            url = urlsplit(self.path).path
            if url == "/routes" and self.command == "PUT":
                result = owner.apply_routes(payload)
                self._json(200, result)
            elif url == "/weight" and self.command == "POST":
                owner.router.set_weight(_int(payload.get("canary_weight")))
                owner.lease.arm(_lease_seconds(payload))
                self._json(200, owner.state())
            elif url == "/lease" and self.command == "POST":
                seconds = _lease_seconds({"lease_seconds": payload.get("seconds")})
                if seconds is None:
                    raise ValueError("seconds: expected a number of seconds")
                owner.lease.renew(seconds)
                self._json(200, owner.state())
            else:
                self._json(404, {"error": "not found"})
        except (ValueError, TypeError, KeyError) as exc:
            self._json(400, {"error": str(exc)})

    def _authorized(self) -> bool:
        token = self.server.owner.token
        if token is None:
            return True
        given = self.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    return value


def _lease_seconds(payload: dict[str, Any]) -> float | None:
    value = payload.get("lease_seconds")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"lease_seconds: expected a number, got {value!r}")
    if not 0 < value <= MAX_LEASE_S:
        raise ValueError(f"lease_seconds: expected 0 < seconds <= {MAX_LEASE_S:g}")
    return float(value)


class Lease:
    """The controller's claim on a split of traffic, renewed by its heartbeat.

    Armed by a route or weight change that carries ``lease_seconds`` while traffic is split;
    disarmed when the split ends (weight 0) or by a change without a lease. On expiry the
    watchdog returns all traffic to the stable pool and records why."""

    def __init__(self, router: Router, clock: Any = time.monotonic) -> None:
        self._router = router
        self._clock = clock
        self._lock = threading.Lock()
        self._seconds: float | None = None
        self._expires: float | None = None
        self.expired: dict[str, Any] | None = None

    def arm(self, seconds: float | None) -> None:
        with self._lock:
            split = self._split()
            self._seconds = seconds if split else None
            self._expires = self._clock() + seconds if seconds is not None and split else None

    def renew(self, seconds: float) -> None:
        with self._lock:
            if self._expires is None:
                return  # nothing split, nothing to hold; a late heartbeat changes nothing
            self._seconds = seconds
            self._expires = self._clock() + seconds

    def _split(self) -> bool:
        snap = self._router.snapshot()
        driven = snap["canary_weight"] > 0 or snap["mirror"] > 0
        return bool(driven and snap["pools"][STABLE]["backends"])

    def check(self) -> dict[str, Any] | None:
        """Expire the lease if its time is up; returns the record of an expiry."""
        with self._lock:
            if self._expires is None or self._clock() < self._expires:
                return None
            snap = self._router.snapshot()
            weight = snap["canary_weight"]
            self._router.set_weight(0)
            self._router.set_mirror(0)
            self.expired = {
                "at": time.time(),
                "lease_seconds": self._seconds,
                "stable_version": snap["pools"][STABLE]["version"],
                "canary_version": snap["pools"][CANARY]["version"],
                "canary_weight_before": weight,
                "reason": (
                    f"lease of {self._seconds:g} s expired without a heartbeat from the "
                    f"deployer: all traffic returned to the last promoted version "
                    f"{snap['pools'][STABLE]['version'] or '-'} (canary "
                    f"{snap['pools'][CANARY]['version'] or '-'} had {weight} %)"
                ),
            }
            self._seconds = self._expires = None
            return self.expired

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            remaining = None if self._expires is None else max(0.0, self._expires - self._clock())
            return {"seconds": self._seconds, "expires_in": remaining, "expired": self.expired}


def _members(data: object, pool: str) -> tuple[str, list[tuple[str, int]]]:
    if data is None:
        return "", []
    if not isinstance(data, dict):
        raise ValueError(f"{pool}: expected an object")
    version = data.get("version", "")
    if not isinstance(version, str):
        raise ValueError(f"{pool}.version: expected a string")
    members: list[tuple[str, int]] = []
    for item in data.get("backends", []):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ValueError(f"{pool}.backends: expected objects with id and port")
        port = _int(item.get("port"))
        if not 0 < port < 65536:
            raise ValueError(f"{pool}.backends: port out of range: {port}")
        members.append((item["id"], port))
    return version, members


def _send_copy(
    backend: Backend, command: str, path: str, headers: list[tuple[str, str]], timeout: float
) -> tuple[int, str | None]:
    """Send a copy of a request to ``backend``: (status, upstream error or None). The answer
    is read and dropped; only the metrics see it."""
    conn, _reused = backend.checkout(timeout)
    try:
        conn.putrequest(command, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        data = response.read(MAX_RESPONSE_BODY + 1)
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        return 502, f"{type(exc).__name__}: {exc}"
    if len(data) > MAX_RESPONSE_BODY or response.will_close:
        conn.close()
    else:
        backend.checkin(conn)
    return response.status, None


class ProxyServer:
    """The proxy and its admin API, each on its own loopback port, each on its own thread."""

    def __init__(
        self,
        *,
        port: int = 0,
        admin_port: int = 0,
        token: str | None = None,
        sinks: tuple[SampleSink, ...] = (),
        upstream_timeout: float = 60.0,
    ) -> None:
        self.token = token
        self.upstream_timeout = upstream_timeout
        self.router = Router()
        self.lease = Lease(self.router)
        self._watching = threading.Event()
        self.metrics = ProxyMetrics(sinks=sinks)
        self._proxy = _Server(port, _ProxyHandler, self)
        self._admin = _Server(admin_port, _AdminHandler, self)
        self._threads: list[threading.Thread] = []
        self._mirror_slots = threading.BoundedSemaphore(MAX_MIRRORED_INFLIGHT)
        self.started_at = time.time()

    @property
    def port(self) -> int:
        return int(self._proxy.server_address[1])

    @property
    def admin_port(self) -> int:
        return int(self._admin.server_address[1])

    def start(self) -> ProxyServer:
        for server, name in ((self._proxy, "proxy"), (self._admin, "admin")):
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.2}, name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        watchdog = threading.Thread(target=self._watch_lease, name="lease", daemon=True)
        watchdog.start()
        self._threads.append(watchdog)
        return self

    def mirror(
        self, command: str, path: str, headers: list[tuple[str, str]], *, served: str
    ) -> None:
        """Send a copy of a request the ``served`` pool answered to the other pool while
        mirroring is on (its share of requests, :meth:`Router.pick_mirror`), on its own
        thread; measured like a live request of that pool's version. Never delays or changes
        the client's answer."""
        pick = self.router.pick_mirror(served)
        if pick is None:
            return
        if not self._mirror_slots.acquire(blocking=False):
            self.router.release(pick.backend)  # too many copies in flight: this one is dropped
            return

        def send() -> None:
            started = time.perf_counter()
            try:
                status, error = _send_copy(
                    pick.backend, command, path, headers, self.upstream_timeout
                )
                self.metrics.record(
                    pool=pick.pool,
                    version=pick.version,
                    backend=pick.backend.id,
                    method=command,
                    status=status,
                    latency_s=time.perf_counter() - started,
                    upstream_error=error,
                )
            finally:
                self.router.release(pick.backend)
                self._mirror_slots.release()

        threading.Thread(target=send, name="mirror", daemon=True).start()

    def _watch_lease(self) -> None:
        while not self._watching.wait(LEASE_CHECK_S):
            expired = self.lease.check()
            if expired is not None:
                LOG.warning("%s", expired["reason"])

    def stop(self, drain_timeout: float = 10.0) -> None:
        """Stop accepting, let in-flight requests finish (bounded), close both ports."""
        self._watching.set()
        self._proxy.shutdown()
        deadline = time.monotonic() + drain_timeout
        while self.router.total_inflight() > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.router.close_idle()
        self._admin.shutdown()
        self._proxy.server_close()
        self._admin.server_close()

    def apply_routes(self, payload: dict[str, Any]) -> dict[str, Any]:
        stable = _members(payload.get(STABLE), STABLE)
        canary = _members(payload.get(CANARY), CANARY)
        baseline = _members(payload.get(BASELINE), BASELINE)
        weight = _int(payload.get("canary_weight", 0))
        drain_timeout = payload.get("drain_timeout", 30.0)
        if not isinstance(drain_timeout, int | float) or not 0 <= drain_timeout <= 600:
            raise ValueError("drain_timeout: expected 0..600 seconds")
        lease = _lease_seconds(payload)
        mirror = _int(payload.get("mirror", 0))
        result = self.router.apply(stable, canary, weight, float(drain_timeout), baseline)
        self.router.set_mirror(mirror)
        self.lease.arm(lease)
        return {
            "drained": list(result.drained),
            "timed_out": list(result.timed_out),
            "state": self.state(),
        }

    def state(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "port": self.port,
            "admin_port": self.admin_port,
            "started_at": self.started_at,
            "samples_next": self.metrics.next_seq,
            "lease": self.lease.snapshot(),
            **self.router.snapshot(),
        }

    def prometheus_text(self) -> str:
        snap = self.router.snapshot()
        gauges: list[tuple[str, str, dict[str, str], float]] = [
            (
                "gatekeeper_proxy_canary_weight",
                "Percentage of requests sent to the canary pool.",
                {},
                float(snap["canary_weight"]),
            )
        ]
        for pool in POOLS:
            info = snap["pools"][pool]
            gauges.append(
                (
                    "gatekeeper_proxy_backends",
                    "Workers receiving traffic, by pool and version.",
                    {"pool": pool, "version": info["version"]},
                    float(len(info["backends"])),
                )
            )
        gauges.append(
            (
                "gatekeeper_proxy_inflight_requests",
                "Requests being served right now.",
                {},
                float(self.router.total_inflight()),
            )
        )
        return self.metrics.prometheus_text(gauges)
