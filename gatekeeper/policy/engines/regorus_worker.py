"""Child side of the regorus engine: runs inside the worker process (see ``worker.py``).

The only code that imports ``regorus``. Hazards guarded here (see docs/engines.md): Rust
panics arrive as ``PanicException`` (a ``BaseException``), source lines over 1,024 columns are
rejected, and ``sprintf("%q")`` raises. Rego v0 mode is switched off explicitly.

Imports stay light (errors, the task claims, the standard library): every gate run starts two
of these workers while the parent reads evidence, and importing the pydantic models here cost
each ~0.09 s of CPU the parent needed.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from gatekeeper.errors import EngineError, PolicyError
from gatekeeper.policy.engines.tasks import assigned_queries
from gatekeeper.policy.engines.worker import ForkedHelper, forking_supported

_LOCATION_RE = re.compile(r"-->\s*(?P<path>.+?):(?P<line>\d+):(?P<col>\d+)")
_ERROR_RE = re.compile(r"^error:\s*(?P<msg>.+)$", re.MULTILINE)
# A package path made of identifiers only (probe queries are built from it).
_PACKAGE_RE = re.compile(
    r"^package\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(?:#.*)?$", re.M
)


# Operations whose large input this module reads from the request's ``input_file`` itself:
# regorus parses the file directly, without the worker holding the 11 MB (at 20,000
# components) as bytes and text first.
FILE_INPUT_OPS = frozenset({"evaluate"})


def preload() -> None:
    """Load the native library now, while the parent is still reading evidence."""
    import regorus  # noqa: F401


def _message_of(exc: BaseException) -> tuple[str, str | None, str | None]:
    """(message, path, line) from a regorus error, without the source excerpt or backtrace."""
    text = str(exc).split("Stack backtrace:", 1)[0]
    location = _LOCATION_RE.search(text)
    error = _ERROR_RE.search(text)
    if error:
        message = error.group("msg").strip()
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        message = lines[0] if lines else type(exc).__name__
    if len(message) > 300:
        message = message[:297] + "..."
    if location:
        return message, location.group("path"), location.group("line")
    return message, None, None


def _new_engine(request: dict[str, Any], *, coverage: bool = False) -> Any:
    import regorus

    engine = regorus.Engine()
    engine.set_rego_v0(False)  # Rego v1 only, whatever the build's default
    if coverage:
        engine.set_enable_coverage(True)
    for path, source in request.get("modules", []):
        try:
            engine.add_policy(path, source)
        except BaseException as exc:  # a parse error, or a panic in the parser
            message, where_path, line = _message_of(exc)
            raise PolicyError(message, path=where_path or path, where=line) from None
    data = request.get("data") or {}
    if data:
        try:
            engine.add_data_json(json.dumps(data))
        except BaseException as exc:
            raise EngineError(f"regorus rejected the bundle data: {_message_of(exc)[0]}") from None
    return engine


def _query(engine: Any, query: str) -> tuple[bool, Any]:
    """(defined, value) of one query; any engine failure becomes EngineError naming it."""
    try:
        answer = json.loads(engine.eval_query_as_json(query))
    except BaseException as exc:  # includes pyo3 PanicException
        message, path, line = _message_of(exc)
        raise EngineError(f"evaluating {query}: {message}", path=path, where=line) from None
    results = answer.get("result") if isinstance(answer, dict) else None
    if not results:
        return False, None
    if len(results) != 1 or not results[0].get("expressions"):
        raise EngineError(f"evaluating {query}: unexpected result shape")
    return True, results[0]["expressions"][0].get("value")


def _evaluate(request: dict[str, Any], input_text: str) -> dict[str, Any]:
    started = time.perf_counter()
    engine = _new_engine(request)
    input_file = request.get("input_file")
    try:
        if input_file is not None:  # a large input's file (worker.FILE_INPUT_OPS), read in Rust
            engine.set_input_from_json_file(str(input_file))
        else:
            engine.set_input_json(input_text)
    except BaseException as exc:
        raise EngineError(f"regorus rejected the input document: {_message_of(exc)[0]}") from None
    engine.set_gather_prints(True)

    def claimed() -> dict[str, Any]:
        values: dict[str, Any] = {}
        groups: list[int] = []
        # The whole request's queries, or the groups this process claims when several share it.
        for group, queries in assigned_queries(request):
            for query in queries:
                defined, value = _query(engine, query)
                if defined:
                    values[query] = value
            groups.append(group)
        prints = [str(p) for p in engine.take_prints()]
        return {"values": values, "groups": groups, "prints": prints}

    # Shared evaluation with forking (see worker.FORKING_ENGINES): copies of this process,
    # engine and input already loaded, claim groups beside this one.
    helpers = [ForkedHelper(claimed) for _ in range(_forks(request))]
    answer = claimed()
    for helper in helpers:
        part = helper.result()
        values, groups, prints = part.get("values"), part.get("groups"), part.get("prints")
        if not isinstance(values, dict) or not isinstance(groups, list):
            raise EngineError("a forked engine worker returned an unusable result")
        if set(values) & set(answer["values"]):
            raise EngineError("a forked engine worker answered a query twice")
        answer["values"].update(values)
        answer["groups"].extend(groups)
        answer["prints"].extend(str(p) for p in prints or ())
    answer["elapsed_ms"] = (time.perf_counter() - started) * 1000
    return answer


def _forks(request: dict[str, Any]) -> int:
    """How many forked copies share this evaluation: ``fork`` of a shared request (claimed
    groups), on a system that forks; else none."""
    forks = request.get("fork")
    if request.get("tasks") is None or not isinstance(forks, int) or forks < 1:
        return 0
    if not forking_supported():
        raise EngineError("engine worker asked to fork where os.fork is not available")
    return min(forks, 7)


def evaluate_documents(request: dict[str, Any], input_text: str) -> dict[str, Any]:
    """Every document of a batch on one engine: the policies are parsed once, the data is
    replaced only when the next document's overrides differ, each document is set as the
    input in turn and every query evaluated on it."""
    from gatekeeper.policy.engines.worker import batch_documents

    started = time.perf_counter()
    documents = batch_documents(request, input_text)
    engine = _new_engine({**request, "data": {}})
    engine.set_gather_prints(True)
    queries = [str(q) for q in request.get("queries", [])]
    current: int | None = None
    results = []
    for number, data, text in documents:
        if number != current:
            engine.clear_data()
            if data:
                try:
                    engine.add_data_json(json.dumps(data))
                except BaseException as exc:
                    message = _message_of(exc)[0]
                    raise EngineError(f"regorus rejected the bundle data: {message}") from None
            current = number
        try:
            engine.set_input_json(text)
        except BaseException as exc:
            message = _message_of(exc)[0]
            raise EngineError(f"regorus rejected the input document: {message}") from None
        values: dict[str, Any] = {}
        for query in queries:
            defined, value = _query(engine, query)
            if defined:
                values[query] = value
        results.append({"values": values, "prints": [str(p) for p in engine.take_prints()]})
    return {"results": results, "elapsed_ms": (time.perf_counter() - started) * 1000}


def _coverage(engine: Any) -> list[dict[str, Any]]:
    try:
        report = json.loads(engine.get_coverage_report_as_json())
    except BaseException as exc:
        raise EngineError(f"regorus coverage report failed: {_message_of(exc)[0]}") from None
    return [
        {
            "file": f["path"],
            "covered": sorted(f.get("covered", [])),
            "not_covered": sorted(f.get("not_covered", [])),
        }
        for f in report.get("files", [])
    ]


_PROBE_RULE = "gatekeeper_coverage_probe_{index}"


def _unvisited_coverage(request: dict[str, Any], visited: set[str]) -> list[dict[str, Any]]:
    """Coverage entries for modules no test touched: every coverable line not covered.

    regorus leaves a module out of its report until some line of it is evaluated, which would
    make an untested policy vanish from the total instead of counting as 0%. To learn which
    lines regorus counts in such a module, a fresh engine loads each one with a trivial rule
    appended, evaluates only that rule, and keeps the module's own lines (all not covered).
    """
    modules: list[list[str]] = request.get("modules", [])
    unvisited = {path for path, _ in modules} - visited
    if not unvisited:
        return []
    probes: dict[str, tuple[str, int]] = {}  # path -> (probe query, last original line)
    probed_modules = []
    for index, (path, source) in enumerate(modules):
        if path in unvisited:
            rule = _PROBE_RULE.format(index=index)
            package = _PACKAGE_RE.search(source)
            if package is None:
                continue
            probes[path] = (f"data.{package.group(1)}.{rule}", source.count("\n") + 1)
            source = f"{source}\n\n{rule} := true\n"
        probed_modules.append([path, source])
    engine = _new_engine({**request, "modules": probed_modules}, coverage=True)
    engine.set_input_json("{}")
    for query, _ in probes.values():
        _query(engine, query)
    entries = []
    for entry in _coverage(engine):
        probe = probes.get(entry["file"])
        if probe is None:
            continue
        lines = {n for n in [*entry["covered"], *entry["not_covered"]] if n <= probe[1]}
        entries.append({"file": entry["file"], "covered": [], "not_covered": sorted(lines)})
    return entries


def _run_tests(request: dict[str, Any]) -> dict[str, Any]:
    coverage = bool(request.get("coverage"))
    engine = _new_engine(request, coverage=coverage)
    engine.set_input_json("{}")
    cases = []
    for test in request.get("tests", []):
        started = time.perf_counter()
        try:
            defined, value = _query(engine, test["query"])
            error = None
            if not defined:
                error = "undefined"
            elif value is not True:
                from gatekeeper.policy.engines.base import describe_value  # tests only

                error = f"got {describe_value(value)}, expected true"
        except EngineError as exc:
            error = exc.one_line()
        cases.append(
            {
                "passed": error is None,
                "error": error,
                "elapsed_ms": (time.perf_counter() - started) * 1000,
            }
        )
    if not coverage:
        return {"cases": cases, "coverage": []}
    report = _coverage(engine)
    report += _unvisited_coverage(request, {entry["file"] for entry in report})
    return {"cases": cases, "coverage": report}


def handle(request: dict[str, Any], input_text: str) -> dict[str, Any]:
    """Worker entry point for this engine."""
    op = request.get("op")
    if op == "check":
        _new_engine(request)
        return {}
    if op == "evaluate":
        return _evaluate(request, input_text)
    if op == "run_tests":
        return _run_tests(request)
    raise EngineError(f"regorus: unknown operation {op!r}")
