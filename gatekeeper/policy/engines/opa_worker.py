"""Child side of the ``opa`` engine: runs inside the worker process (see ``worker.py``).

The only code that imports ``opa_bindings``. Guards (docs/engines.md):

- network builtins (``http.send``, ``net.lookup_ip_addr``) cannot be switched off in the
  binding, so modules calling them are refused before anything is evaluated;
- the binding re-parses the input on every query, so all queries of an evaluation are batched
  into one query (``q0 := [v | v := data.a.deny]; q1 := ...``: a one-element array when the
  rule is defined, an empty one when it is not) and the input is passed once;
- ``print()`` goes to a handler here, never to stderr;
- builtin errors are errors (OPA's strict builtin errors are on in the binding).

Custom builtins (``parse_config`` …) can be registered by the caller's request for policy
unit tests (see :mod:`gatekeeper.conftest.builtins`).
"""

from __future__ import annotations

import importlib
import json
import re
import time
from typing import Any

from gatekeeper.errors import EngineError, PolicyError

NETWORK_BUILTINS = ("http.send", "net.lookup_ip_addr")
_NETWORK_RE = re.compile(r"\b(http\.send|net\.lookup_ip_addr)\s*\(")
_LOCATION_RE = re.compile(r"^(?P<path>[^:\s]+\.rego):(?P<line>\d+)(?::\d+)?:\s*(?P<msg>.*)$", re.S)


def preload() -> None:
    import opa_bindings  # noqa: F401


def refuse_network(modules: list[list[str]]) -> None:
    for path, source in modules:
        for number, line in enumerate(source.split("\n"), start=1):
            code = line.split("#", 1)[0]
            found = _NETWORK_RE.search(code)
            if found:
                raise PolicyError(
                    f"built-in error: {found.group(1)} needs the network and is refused before "
                    "evaluation (a gate never reaches out)",
                    path=path,
                    where=str(number),
                )


def _split_error(exc: Any) -> tuple[str, str | None, str | None]:
    message = str(getattr(exc, "message", "") or exc)
    message = " ".join(message.split())
    found = _LOCATION_RE.match(message)
    if found:
        return found.group("msg")[:400], found.group("path"), found.group("line")
    return message[:400], None, None


def _engine(request: dict[str, Any], prints: list[str]) -> Any:
    from opa_bindings import OpaEngine, OpaError

    modules: list[list[str]] = request.get("modules", [])
    refuse_network(modules)
    engine = OpaEngine()
    engine.print_handler = lambda message, location: prints.append(f"{location}: {message}")
    for path, source in modules:
        try:
            engine.add_policy(path, source)
        except OpaError as exc:
            message, where_path, line = _split_error(exc)
            raise PolicyError(message, path=where_path or path, where=line) from None
    data = request.get("data") or {}
    if data:
        try:
            engine.add_data(data)
        except OpaError as exc:
            raise EngineError(f"opa rejected the bundle data: {_split_error(exc)[0]}") from None
    builtins = request.get("builtins")
    if builtins:
        register_builtins_hook(str(builtins.get("hook", "")))(engine, builtins)
    return engine


def register_builtins_hook(hook: str) -> Any:
    """The caller's builtin registration, named ``module:function`` in the request: the engine
    layer knows no caller (conftest's ``parse_config*`` live in :mod:`gatekeeper.conftest`).
    Only Gatekeeper's own modules are imported."""
    module_name, _, attr = hook.partition(":")
    if not module_name.startswith("gatekeeper.") or not attr:
        raise EngineError(
            f"opa: custom builtins need a gatekeeper module:function hook, got {hook!r}"
        )
    return getattr(importlib.import_module(module_name), attr)


def _run(engine: Any, query: str, input_value: Any, *, trace: bool = False) -> list[Any]:
    from opa_bindings import OpaError

    try:
        return list(engine.eval_query(query, input_value, trace=trace))
    except OpaError as exc:
        message, path, line = _split_error(exc)
        if exc.code in ("compile_error", "rego_parse_error") or "rego_" in message.split(":")[0]:
            raise PolicyError(message, path=path, where=line) from None
        raise EngineError(f"opa: {message}", path=path, where=line) from None
    except BaseException as exc:
        raise EngineError(f"opa crashed: {type(exc).__name__}: {exc}") from None


def batched_query(queries: list[str]) -> str:
    return "; ".join(f"q{i} := [v | v := {q}]" for i, q in enumerate(queries))


def _batched_values(rows: list[Any], queries: list[str]) -> dict[str, Any]:
    """The defined queries' values from the one answer of :func:`batched_query`."""
    if len(rows) != 1:
        raise EngineError("opa: the batched query gave no single answer")
    values: dict[str, Any] = {}
    for index, query in enumerate(queries):
        found = rows[0].get(f"q{index}")
        if not isinstance(found, list) or len(found) > 1:
            raise EngineError(f"evaluating {query}: unexpected result shape")
        if found:
            values[query] = found[0]
    return values


def _trace_lines(events: Any) -> list[str]:
    lines: list[str] = []
    for event in events or []:
        if isinstance(event, dict):
            depth = "| " * int(event.get("query_id", 0) > 0)
            if event.get("op") == "Note":
                lines.append(f"{depth}Note {json.dumps(str(event.get('message', '')))}")
            else:
                lines.append(f"{depth}{event.get('op', '')} {event.get('node', '')}")
    return lines


def _evaluate(request: dict[str, Any], input_text: str) -> dict[str, Any]:
    from gatekeeper.policy.engines.tasks import assigned_queries

    started = time.perf_counter()
    prints: list[str] = []
    engine = _engine(request, prints)
    try:
        input_value = json.loads(input_text) if input_text.strip() else None
    except json.JSONDecodeError:
        raise EngineError("opa: the input document is not JSON") from None
    values: dict[str, Any] = {}
    groups: list[int] = []
    trace: list[str] = []
    for group, queries in assigned_queries(request):
        if queries:
            rows = _run(
                engine, batched_query(queries), input_value, trace=bool(request.get("trace"))
            )
            values.update(_batched_values(rows, queries))
            if request.get("trace"):
                trace.extend(_trace_lines(engine.last_trace))
        groups.append(group)
    elapsed = (time.perf_counter() - started) * 1000
    return {
        "values": values,
        "prints": prints,
        "trace": trace,
        "elapsed_ms": elapsed,
        "groups": groups,
    }


def evaluate_documents(request: dict[str, Any], input_text: str) -> dict[str, Any]:
    """Every document of a batch in this one worker: the policies are compiled once per
    distinct data (once per file for ``check``), then all queries run as one batched query
    per document."""
    from gatekeeper.policy.engines.worker import batch_documents

    started = time.perf_counter()
    documents = batch_documents(request, input_text)
    queries = [str(q) for q in request.get("queries", [])]
    query = batched_query(queries)
    prints: list[str] = []
    engine: Any = None
    current: int | None = None
    results = []
    try:
        for number, data, text in documents:
            if number != current:
                if engine is not None:
                    engine.close()
                engine = _engine({**request, "data": data}, prints)
                current = number
            try:
                input_value = json.loads(text)
            except json.JSONDecodeError:
                raise EngineError("opa: the input document is not JSON") from None
            prints.clear()
            values = _batched_values(_run(engine, query, input_value), queries) if queries else {}
            results.append({"values": values, "prints": list(prints)})
    finally:
        if engine is not None:
            engine.close()
    return {"results": results, "elapsed_ms": (time.perf_counter() - started) * 1000}


def _run_tests(request: dict[str, Any]) -> dict[str, Any]:
    prints: list[str] = []
    engine = _engine(request, prints)
    cases = []
    for test in request.get("tests", []):
        started = time.perf_counter()
        prints.clear()
        error = None
        trace: list[str] = []
        try:
            rows = _run(
                engine, f"q := [v | v := {test['query']}]", None, trace=bool(request.get("trace"))
            )
            found = rows[0].get("q") if len(rows) == 1 else None
            if not found:
                error = "undefined"
            elif found[0] is not True:
                from gatekeeper.policy.engines.base import describe_value

                error = f"got {describe_value(found[0])}, expected true"
            if request.get("trace"):
                trace = _trace_lines(engine.last_trace)
        except EngineError as exc:
            error = exc.one_line()
        cases.append(
            {
                "passed": error is None,
                "error": error,
                "prints": list(prints),
                "trace": trace,
                "elapsed_ms": (time.perf_counter() - started) * 1000,
            }
        )
    return {"cases": cases, "coverage": []}


def handle(request: dict[str, Any], input_text: str) -> dict[str, Any]:
    """Worker entry point for this engine."""
    op = request.get("op")
    if op == "check":
        _run(_engine(request, []), "true", None)
        return {}
    if op == "evaluate":
        return _evaluate(request, input_text)
    if op == "run_tests":
        return _run_tests(request)
    raise EngineError(f"opa: unknown operation {op!r}")
