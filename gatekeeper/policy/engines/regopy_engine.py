"""The regopy engine (Microsoft rego-cpp, official Python binding ``regopy``).

The class is the parent-side face; :func:`handle` runs inside the worker child and is the only
code that imports ``regopy``. Hazards guarded here (see docs/engines.md): without
``strict_built_in_errors`` a missing or failing builtin evaluates to *undefined* (a deny rule
silently does not fire), so it is always on; a query run after another on the same interpreter
can return the previous result, so every query gets a fresh interpreter; diagnostics are
printed on stdout, which the worker points at stderr; ``sprintf("%q")`` returns the format
unchanged instead of failing, so such modules are refused before evaluation.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import time
from typing import Any, ClassVar

from gatekeeper.errors import EngineError, PolicyError
from gatekeeper.policy.engines.base import GuardedEngine, describe_value

# `%q` inside a string literal given to sprintf (regopy answers "%q" verbatim, silently).
_SPRINTF_Q_RE = re.compile(r'sprintf\(\s*"(?:[^"\\]|\\.)*%q')


class RegopyEngine(GuardedEngine):
    name: ClassVar[str] = "regopy"
    description: ClassVar[str] = "Microsoft rego-cpp (C++), official binding; slower on big inputs"
    distribution: ClassVar[str] = "regopy"
    supports_coverage: ClassVar[bool] = False


# ---- child side ------------------------------------------------------------------------------


def _lint(modules: list[list[str]]) -> None:
    for path, source in modules:
        for number, line in enumerate(source.split("\n"), start=1):
            if not line.lstrip().startswith("#") and _SPRINTF_Q_RE.search(line):
                raise PolicyError(
                    "sprintf verb %q is not supported by regopy (it would return the format "
                    "unformatted); use %s or %v",
                    path=path,
                    where=str(number),
                )


def _length_prefixed(text: bytes, start: int) -> tuple[str, int] | None:
    """Read ``<n>:<n bytes>`` at ``start`` (rego-cpp's error s-expression encoding)."""
    m = re.compile(rb"(\d+):").match(text, start)
    if not m:
        return None
    size = int(m.group(1))
    end = m.end() + size
    return text[m.end() : end].decode("utf-8", "replace"), end


def _compile_error(exc: BaseException, sources: dict[str, str]) -> PolicyError | EngineError:
    """Map a rego-cpp error sequence to PolicyError at our file:line (first error wins)."""
    raw = str(exc).encode("utf-8")
    message = "regopy error"
    at = raw.find(b"(errormsg ")
    if at >= 0:
        parsed = _length_prefixed(raw, at + len(b"(errormsg "))
        if parsed:
            message = parsed[0]
    at = raw.find(b"(error ")
    if at >= 0:
        parsed = _length_prefixed(raw, at + len(b"(error "))
        if parsed:
            name, end = parsed
            offset = re.compile(rb"\|(\d+)\|").match(raw, end)
            if name in sources:
                line = None
                if offset:
                    prefix = sources[name].encode("utf-8")[: int(offset.group(1))]
                    line = str(prefix.count(b"\n") + 1)
                return PolicyError(message, path=name, where=line)
    return EngineError(f"regopy: {message}")


def _runtime_error(output: Any) -> str:
    """The error messages carried by a failed regopy output (ErrorSeq node tree)."""
    from regopy import NodeKind

    # Low-level node access (the Node class cannot read error nodes); imported by name because
    # the submodule has no type information.
    shared: Any = importlib.import_module("regopy.rego_shared")
    messages: list[str] = []

    def walk(impl: Any, depth: int) -> None:
        if depth > 50:
            return
        if shared.rego.regoNodeType(impl) == NodeKind.ErrorMessage:
            messages.append(shared.rego_node_value(impl))
        for i in range(shared.rego_node_size(impl)):
            walk(shared.rego_node_get(impl, i), depth + 1)

    # The tree only feeds the message; the failure itself is already certain.
    with contextlib.suppress(Exception):
        walk(output.node()._impl, 0)
    return "; ".join(dict.fromkeys(messages)) or "evaluation failed"


def _interpreter(request: dict[str, Any], input_text: str) -> Any:
    """A fresh, strict interpreter loaded with the bundle (and the input, if any)."""
    from regopy import Interpreter

    interpreter = Interpreter()
    interpreter.strict_built_in_errors = True
    sources = {path: source for path, source in request.get("modules", [])}
    for path, source in sources.items():
        try:
            interpreter.add_module(path, source)
        except Exception as exc:
            raise _compile_error(exc, sources) from None
    data = request.get("data") or {}
    if data:
        try:
            interpreter.add_data_json(json.dumps(data))
        except Exception as exc:
            raise EngineError(f"regopy rejected the bundle data: {exc}") from None
    if input_text:
        try:
            interpreter.set_input_term(input_text)
        except Exception:
            raise EngineError("regopy rejected the input document (not valid JSON?)") from None
    return interpreter


def _run(request: dict[str, Any], input_text: str, query: str, label: str) -> Any:
    """Run one query on a fresh interpreter; return the regopy Output (ok) or raise."""
    interpreter = _interpreter(request, input_text)
    sources = {path: source for path, source in request.get("modules", [])}
    try:
        output = interpreter.query(query)
    except Exception as exc:  # compile errors surface here, at the first query
        error = _compile_error(exc, sources)
        if isinstance(error, EngineError):
            raise EngineError(f"evaluating {label}: {error.message}") from None
        raise error from None
    if not output.ok():
        raise EngineError(f"evaluating {label}: {_runtime_error(output)}")
    return output


def _first_result(output: Any) -> Any:
    results = getattr(output, "results", [])
    return results[0] if results else None


def _evaluate(request: dict[str, Any], input_text: str) -> dict[str, Any]:
    started = time.perf_counter()
    queries: list[str] = list(request.get("queries", []))
    values: dict[str, Any] = {}
    if queries:
        # One query on one fresh interpreter: each result wrapped in an array comprehension,
        # so an undefined query gives [] instead of making the whole conjunction undefined.
        combined = "; ".join(f"r{i} := [v | v := {q}]" for i, q in enumerate(queries))
        try:
            output = _run(request, input_text, combined, ", ".join(queries))
        except EngineError:
            # Name the failing query: re-run them one by one (only on this error path).
            for query in queries:
                _run(request, input_text, f"r := [v | v := {query}]", query)
            raise
        result = _first_result(output)
        bindings = getattr(result, "bindings", None)
        if not isinstance(bindings, dict):
            raise EngineError("regopy returned no bindings for the queries")
        for i, query in enumerate(queries):
            found = bindings.get(f"r{i}")
            if not isinstance(found, list) or len(found) > 1:
                raise EngineError(f"evaluating {query}: unexpected result shape")
            if found:
                values[query] = found[0]
    elapsed = (time.perf_counter() - started) * 1000
    return {"values": values, "prints": [], "elapsed_ms": elapsed}


def _outcome(found: Any) -> str | None:
    """The error of a test from its ``[v | v := test]`` value (None: it passed)."""
    if not found:
        return "undefined"
    if found[0] is not True:
        return f"got {describe_value(found[0])}, expected true"
    return None


def _run_tests_at_once(
    request: dict[str, Any], tests: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """All tests as one query on one interpreter, or None when any of them errors.

    rego-cpp compiles the whole bundle at every query (seconds for the built-in library), so
    one query per test does not scale; the gate's evaluate path batches the same way. A
    runtime error in any test fails the whole query: the caller then runs them one by one.
    """
    combined = "; ".join(f"r{i} := [v | v := {t['query']}]" for i, t in enumerate(tests))
    started = time.perf_counter()
    try:
        output = _run(request, "{}", combined, "tests")
    except PolicyError:
        raise
    except EngineError:
        return None
    bindings = getattr(_first_result(output), "bindings", None)
    if not isinstance(bindings, dict) or any(f"r{i}" not in bindings for i in range(len(tests))):
        return None
    each_ms = (time.perf_counter() - started) * 1000 / max(1, len(tests))
    cases = []
    for i in range(len(tests)):
        error = _outcome(bindings[f"r{i}"])
        cases.append({"passed": error is None, "error": error, "elapsed_ms": each_ms})
    return {"cases": cases, "coverage": []}


def _run_tests(request: dict[str, Any]) -> dict[str, Any]:
    tests = request.get("tests", [])
    if len(tests) > 1:
        batched = _run_tests_at_once(request, tests)
        if batched is not None:
            return batched
    cases = []
    for test in tests:
        started = time.perf_counter()
        error: str | None = None
        try:
            output = _run(request, "{}", f"r := [v | v := {test['query']}]", test["query"])
            bindings = getattr(_first_result(output), "bindings", None) or {}
            error = _outcome(bindings.get("r"))
        except PolicyError:
            raise  # the bundle does not compile: that is not one test failing
        except EngineError as exc:
            error = exc.one_line()
        cases.append(
            {
                "passed": error is None,
                "error": error,
                "elapsed_ms": (time.perf_counter() - started) * 1000,
            }
        )
    return {"cases": cases, "coverage": []}


def handle(request: dict[str, Any], input_text: str) -> dict[str, Any]:
    """Worker entry point for this engine."""
    _lint(request.get("modules", []))
    op = request.get("op")
    if op == "check":
        _run(request, "", "true", "check")
        return {}
    if op == "evaluate":
        return _evaluate(request, input_text)
    if op == "run_tests":
        return _run_tests(request)
    raise EngineError(f"regopy: unknown operation {op!r}")
