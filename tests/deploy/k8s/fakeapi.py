"""A small fake Kubernetes API server on loopback: just the endpoints the target calls.

Real HTTP (the official client talks to it through a kubeconfig), real JSON bodies that the
client's models must deserialize. Behaviour:

- ``PATCH`` deployments/services with ``application/apply-patch+yaml``: server-side apply,
  creating when absent. ``fieldManager`` is required (as the real server requires it for
  apply) and every applied object is validated against the Kubernetes OpenAPI schema
  (kubernetes-validate, strict: unknown fields are errors) — invalid gives 422 as a real API
  server would;
- ``PATCH`` deployments/NAME/scale with a merge patch;
- ``GET`` deployments (plain and ``/status``) and services.

A tiny "controller" moves each Deployment's status towards its spec: after a change, the
status catches up after ``ticks`` reads (scriptable per Deployment); ``stuck`` keeps pods from
becoming available; ``deadline`` reports ProgressDeadlineExceeded. ``faults`` inject HTTP
errors on matching requests. Every change is recorded in ``history`` (replicas, ready pods,
versions, Service selector), so tests can check what traffic could reach at every moment.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate

TOKEN = "fake-token"
SCHEMA_VERSION = "1.33.0"
_DEPLOY = re.compile(
    r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/deployments/(?P<name>[^/]+)(?P<sub>/status|/scale)?$"
)
_SERVICE = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/services/(?P<name>[^/]+)$")


@dataclass
class Fault:
    method: str
    path: str  # a regular expression searched in the request path
    status: int
    times: int = 1  # how many matching requests fail; -1: all


@dataclass
class Behaviour:
    ticks: int = 1  # status reads after a change before the rollout is complete
    stuck: bool = False  # pods never become available
    deadline: bool = False  # the controller reports ProgressDeadlineExceeded


@dataclass
class Snapshot:
    what: str
    selector: dict[str, str] | None
    pods: dict[str, tuple[int, int, str | None]]  # name -> (spec replicas, ready, version)


@dataclass
class FakeCluster:
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    behaviour: dict[str, Behaviour] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str, str, dict[str, list[str]]]] = field(default_factory=list)
    history: list[Snapshot] = field(default_factory=list)
    pending: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- views for tests -------------------------------------------------------------------

    def deployment(self, ns: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(("Deployment", ns, name))

    def service(self, ns: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(("Service", ns, name))

    def record(self, what: str) -> None:
        pods: dict[str, tuple[int, int, str | None]] = {}
        selector: dict[str, str] | None = None
        for (kind, _ns, name), obj in self.objects.items():
            if kind == "Deployment":
                labels = obj["spec"]["template"]["metadata"].get("labels", {})
                pods[name] = (
                    obj["spec"].get("replicas", 1),
                    obj.get("status", {}).get("readyReplicas", 0),
                    labels.get("version"),
                )
            else:
                selector = dict(obj["spec"].get("selector", {}))
        self.history.append(Snapshot(what, selector, pods))

    # -- the controller --------------------------------------------------------------------

    def _touch(self, name: str) -> None:
        self.pending[name] = self.behaviour.get(name, Behaviour()).ticks

    def _status(self, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        behave = self.behaviour.get(name, Behaviour())
        left = self.pending.get(name, 0)
        if left > 0:
            self.pending[name] = left - 1
            return  # the controller has not caught up yet
        want = obj["spec"].get("replicas", 1)
        generation = obj["metadata"]["generation"]
        status: dict[str, Any] = {"observedGeneration": generation}
        if behave.deadline:
            status.update(replicas=want, updatedReplicas=0, readyReplicas=0)
            status["conditions"] = [
                {
                    "type": "Progressing",
                    "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": f'ReplicaSet "{name}-abc" has timed out progressing.',
                }
            ]
        elif behave.stuck and want > 0:
            status.update(replicas=want, updatedReplicas=want, readyReplicas=0)
            status["unavailableReplicas"] = want
        else:
            status.update(
                replicas=want, updatedReplicas=want, readyReplicas=want, availableReplicas=want
            )
        if obj.get("status") != status:
            obj["status"] = status
            self.record(f"status {name}")

    # -- request handling ------------------------------------------------------------------

    def fault_for(self, method: str, path: str) -> int | None:
        for fault in self.faults:
            if fault.method == method and re.search(fault.path, path) and fault.times != 0:
                if fault.times > 0:
                    fault.times -= 1
                return fault.status
        return None

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], ctype: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append((method, path, ctype, query))
            injected = self.fault_for(method, path)
            if injected is not None:
                return injected, _status(injected, "injected fault")
            deploy = _DEPLOY.match(path)
            service = _SERVICE.match(path)
            if deploy:
                ns, name, sub = deploy["ns"], deploy["name"], deploy["sub"]
                key = ("Deployment", ns, name)
                if sub == "/scale":
                    return self._scale(key, method, ctype, body)
                if method == "GET":
                    obj = self.objects.get(key)
                    if obj is None:
                        return 404, _status(404, f'deployments.apps "{name}" not found')
                    self._status(obj)
                    return 200, obj
                if method == "PATCH":
                    return self._apply(key, "Deployment", query, ctype, body)
            if service:
                key = ("Service", service["ns"], service["name"])
                if method == "GET":
                    obj = self.objects.get(key)
                    if obj is None:
                        return 404, _status(404, f'services "{service["name"]}" not found')
                    return 200, obj
                if method == "PATCH":
                    return self._apply(key, "Service", query, ctype, body)
            return 404, _status(404, f"no route {method} {path}")

    def _apply(
        self,
        key: tuple[str, str, str],
        kind: str,
        query: dict[str, list[str]],
        ctype: str,
        body: bytes,
    ) -> tuple[int, dict[str, Any]]:
        if not ctype.startswith("application/apply-patch"):
            return 415, _status(415, f"this fake only does server-side apply, got {ctype}")
        if not query.get("fieldManager"):
            return 422, _status(422, "fieldManager is required for apply requests")
        applied = json.loads(body)
        if applied.get("kind") != kind or applied["metadata"]["name"] != key[2]:
            return 400, _status(400, "body does not match the URL")
        try:
            kubernetes_validate.validate(applied, SCHEMA_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            return 422, _status(422, f"{kind} is invalid: {where}: {exc.message}")
        current = self.objects.get(key)
        if current is None:
            obj = copy.deepcopy(applied)
            obj["metadata"].update(generation=1, uid=f"uid-{len(self.objects)}")
            if kind == "Deployment":
                obj["status"] = {}
                self._touch(key[2])
            self.objects[key] = obj
        else:
            obj = current
            obj["metadata"]["labels"] = applied["metadata"].get("labels", {})
            obj["metadata"]["annotations"] = applied["metadata"].get("annotations", {})
            if obj["spec"] != applied["spec"]:
                obj["spec"] = copy.deepcopy(applied["spec"])
                obj["metadata"]["generation"] += 1
                if kind == "Deployment":
                    self._touch(key[2])
        self.record(f"apply {kind} {key[2]}")
        return 200, obj

    def _scale(
        self, key: tuple[str, str, str], method: str, ctype: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        obj = self.objects.get(key)
        if obj is None:
            return 404, _status(404, f'deployments.apps "{key[2]}" not found')
        if method == "PATCH":
            if ctype != "application/merge-patch+json":
                return 415, _status(415, f"unexpected content type {ctype}")
            replicas = json.loads(body)["spec"]["replicas"]
            if obj["spec"].get("replicas") != replicas:
                obj["spec"]["replicas"] = replicas
                obj["metadata"]["generation"] += 1
                self._touch(key[2])
            self.record(f"scale {key[2]} {replicas}")
        return 200, {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": key[2], "namespace": key[1]},
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {"replicas": obj.get("status", {}).get("replicas", 0)},
        }


def _status(code: int, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "code": code,
    }


class FakeApiServer:
    def __init__(self, cluster: FakeCluster | None = None, token: str = TOKEN) -> None:
        self.cluster = cluster or FakeCluster()
        self.token = token
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Authorization") != f"Bearer {outer.token}":
                    code, payload = 401, _status(401, "Unauthorized")
                else:
                    code, payload = outer.cluster.handle(
                        self.command,
                        split.path,
                        parse_qs(split.query),
                        self.headers.get("Content-Type", ""),
                        body,
                    )
                raw = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_PATCH = do_POST = do_PUT = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeApiServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def write_kubeconfig(self, path: Path, *, namespace: str, token: str = TOKEN) -> Path:
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": token}}],
                    "contexts": [
                        {
                            "name": "fake",
                            "context": {
                                "cluster": "fake",
                                "user": "tester",
                                "namespace": namespace,
                            },
                        }
                    ],
                    "current-context": "fake",
                }
            ),
            encoding="utf-8",
        )
        return path
