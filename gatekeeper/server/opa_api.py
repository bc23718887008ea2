"""OPA's REST API over the policies the service holds, so OPA tooling can query them.

``POST|GET /v1/data/{path}`` evaluate ``data.<path>`` as OPA's Data API does (``{"result": …}``,
``{}`` when undefined), and ``GET|PUT|DELETE /v1/policies[/{id}]`` list and manage modules as
OPA's Policy API does. Evaluation goes through the service's own guarded engine with its
timeout, and builtins are checked first exactly as in a gate run (network builtins refused):
an error is an error answer, never an empty result that a caller could read as "allowed".

Modules put through ``PUT /v1/policies`` join what the Data API evaluates, kept in this
process's memory as OPA keeps them without persistence. They never change what ``/v1/gate``
judges with: the gate's bundle is the one the service was started with, so every recorded
decision names a bundle an operator chose (docs/server.md).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gatekeeper.errors import EXIT_INPUT, GatekeeperError, InputError, PolicyError
from gatekeeper.gate.run import load_gate_bundle
from gatekeeper.loading import parse_json_text
from gatekeeper.policy.builtins import check_builtins
from gatekeeper.policy.bundle import PolicyBundle, RegoModule, with_modules
from gatekeeper.policy.engines.guard import query_for_path
from gatekeeper.policy.engines.registry import get_engine
from gatekeeper.server.service import DecisionService
from gatekeeper.server.tokens import Scope, TokenInfo

# OPA's package/rule path segments; anything else in a URL path is refused before evaluation.
_SEGMENT = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_MAX_POLICY_ID = 256
_MAX_SEGMENTS = 32


class HeldPolicies:
    """The service's bundle plus the modules put through the Policy API (memory only)."""

    def __init__(self, service: DecisionService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._put: dict[str, str] = {}

    def base(self) -> PolicyBundle:
        settings = self.service.settings
        return load_gate_bundle(settings.policies, settings.data)

    def bundle(self, extra: tuple[str, str] | None = None) -> PolicyBundle:
        with self._lock:
            added = dict(self._put)
        if extra is not None:
            added[extra[0]] = extra[1]
        return with_modules(self.base(), sorted(added.items()))

    def put(self, module_id: str, source: str) -> None:
        with self._lock:
            self._put[module_id] = source

    def delete(self, module_id: str) -> bool:
        with self._lock:
            return self._put.pop(module_id, None) is not None

    def is_put(self, module_id: str) -> bool:
        with self._lock:
            return module_id in self._put


def _opa_error(status: int, code: str, message: str) -> JSONResponse:
    """OPA's error shape: ``{"code": …, "message": …}``."""
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _module_document(module: RegoModule) -> dict[str, Any]:
    """A policy as OPA lists it: id, raw source and the parts of the AST tools read (the
    package path and the rule heads)."""
    path = [{"type": "var", "value": "data"}] + [
        {"type": "string", "value": part} for part in module.package.split(".")
    ]
    return {
        "id": module.path,
        "raw": module.source,
        "ast": {
            "package": {"path": path},
            "rules": [{"head": {"name": rule.name}} for rule in module.rules],
        },
    }


def _segments(path: str) -> list[str]:
    parts = [part for part in path.strip("/").split("/") if part]
    if len(parts) > _MAX_SEGMENTS or not all(_SEGMENT.match(part) for part in parts):
        raise InputError(f"not a data path: {path[:200]!r}")
    return parts


def _input_of(body: bytes) -> str | None:
    """The ``input`` of an OPA query body, as JSON text (None: no input given)."""
    if not body.strip():
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("request body is not UTF-8") from None
    document = parse_json_text(text, display="request body")
    if not isinstance(document, dict):
        raise InputError('request body must be a JSON object like {"input": …}')
    if "input" not in document:
        return None
    return json.dumps(document["input"], separators=(",", ":"), allow_nan=False)


def add_opa_api(app: FastAPI, service: DecisionService, *, authenticated: Any) -> None:
    """Mount OPA's Data and Policy APIs on ``app``. ``authenticated`` is the app's token
    dependency: any valid token may query; putting and deleting policies needs admin."""
    held = HeldPolicies(service)
    settings = service.settings
    app.state.opa_policies = held

    def evaluate(path: str, input_json: str | None) -> dict[str, Any]:
        bundle = held.bundle()
        engine = get_engine(settings.engine)
        check_builtins(bundle, engine, allow_network=False)
        query = query_for_path(_segments(path))
        # No input given: OPA leaves `input` undefined; null reads the same in every rule.
        result = engine.evaluate(
            bundle,
            input_json if input_json is not None else "null",
            (query,),
            timeout=settings.timeout,
        )
        return {"result": result.values[query]} if query in result.values else {}

    async def answer(path: str, body: bytes) -> JSONResponse:
        try:
            document = await run_in_threadpool(evaluate, path, _input_of(body))
        except GatekeeperError as error:
            status = 400 if error.exit_code == EXIT_INPUT else 500
            code = "invalid_parameter" if status == 400 else "internal_error"
            return _opa_error(status, code, error.one_line())
        return JSONResponse(document)

    async def data_post(request: Request, path: str = "") -> JSONResponse:
        authenticated(request)
        return await answer(path, await request.body())

    async def data_get(request: Request, path: str = "") -> JSONResponse:
        authenticated(request)
        given = request.query_params.get("input")  # OPA's ?input=<JSON>
        body = b'{"input":' + given.encode("utf-8") + b"}" if given else b""
        return await answer(path, body)

    for route in ("/v1/data", "/v1/data/", "/v1/data/{path:path}"):
        app.add_api_route(route, data_post, methods=["POST"], include_in_schema=False)
        app.add_api_route(route, data_get, methods=["GET"], include_in_schema=False)

    def list_policies(request: Request) -> dict[str, Any]:
        authenticated(request)
        try:
            bundle = held.bundle()
        except GatekeeperError as error:
            raise HTTPException(500, error.one_line()) from None
        return {"result": [_module_document(m) for m in bundle.modules]}

    for route in ("/v1/policies", "/v1/policies/"):
        app.add_api_route(route, list_policies, methods=["GET"], include_in_schema=False)

    @app.get("/v1/policies/{module_id:path}")
    def get_policy(module_id: str, request: Request) -> JSONResponse:
        authenticated(request)
        for module in held.bundle().modules:
            if module.path == module_id:
                return JSONResponse({"result": _module_document(module)})
        return _opa_error(
            404, "resource_not_found", f"storage_not_found_error: policy id {module_id!r}"
        )

    @app.put("/v1/policies/{module_id:path}")
    async def put_policy(module_id: str, request: Request) -> JSONResponse:
        token: TokenInfo = authenticated(request)
        if token.scope is not Scope.ADMIN:
            raise HTTPException(403, "forbidden")
        if not module_id or len(module_id) > _MAX_POLICY_ID or ".." in module_id.split("/"):
            return _opa_error(400, "invalid_parameter", "policy id must be 1-256 characters")
        try:
            source = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            return _opa_error(400, "invalid_parameter", "policy is not UTF-8")

        def compile_it() -> None:
            bundle = held.bundle(extra=(module_id, source))
            engine = get_engine(settings.engine)
            check_builtins(bundle, engine, allow_network=False)
            engine.check(bundle, timeout=settings.timeout)

        try:
            await run_in_threadpool(compile_it)
        except PolicyError as error:
            return _opa_error(400, "invalid_parameter", error.one_line())
        except GatekeeperError as error:
            return _opa_error(500, "internal_error", error.one_line())
        held.put(module_id, source)
        return JSONResponse({})

    @app.delete("/v1/policies/{module_id:path}")
    def delete_policy(module_id: str, request: Request) -> JSONResponse:
        token: TokenInfo = authenticated(request)
        if token.scope is not Scope.ADMIN:
            raise HTTPException(403, "forbidden")
        if held.delete(module_id):
            return JSONResponse({})
        # The service's own bundle is not the Policy API's to delete.
        return _opa_error(
            404, "resource_not_found", f"storage_not_found_error: policy id {module_id!r}"
        )
