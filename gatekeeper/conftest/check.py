"""``gatekeeper check``: conftest-compatible evaluation of raw configuration documents.

Conftest's ``conftest test`` behaviour is reproduced here so existing conftest policies and the
CI expectations built on its output keep working: which rules run (``deny``/``violation``/
``warn`` with ``_suffix``), how ``exception`` rules exempt them, how many "tests" are counted,
how multi-document YAML is split. Where conftest would pass without checking anything (a rule
value it silently ignores, a namespace that does not exist) Gatekeeper fails closed instead;
docs/conftest-compat.md lists every such case.

Evaluation goes through the guarded engines: all documents in one engine session (the bundle
compiled once, each document set as the input in turn, all namespaces' queries on each), a
large stream split into one session per core; ``--trace`` takes one engine call per document.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gatekeeper.conftest.parsers import (
    PARSERS,
    Source,
    parse_document,
    parser_for_path,
    parser_names,
)
from gatekeeper.errors import ConfigError, InputError, PolicyError
from gatekeeper.evidence import DEFAULT_MAX_BYTES

# The evidence reader's JSON parsing (NaN refused, line:column, truncation named) is exactly
# what conftest inputs need too.
from gatekeeper.gate.evaluate import data_ref
from gatekeeper.loading import read_regular_file
from gatekeeper.policy.bundle import PolicyBundle, load_bundle
from gatekeeper.policy.conventions import (
    exception_matches,
    exception_rule_name,
    is_failure_rule,
    is_warning_rule,
    select_namespaces,
)
from gatekeeper.policy.engines.guard import discard_spare, prestart_worker
from gatekeeper.policy.engines.interface import (
    DEFAULT_TIMEOUT_S,
    BatchEngine,
    DocumentBatch,
    Engine,
)
from gatekeeper.policy.engines.registry import DEFAULT_ENGINE, get_engine
from gatekeeper.policy.rego_source import scan_rego

STDIN = "-"
COMBINED = "Combined"  # conftest's file name for --combine results
DEFAULT_POLICY = "policy"
DEFAULT_NAMESPACE = "main"


# --------------------------------------------------------------------------------------------
# Results: the shape of conftest's output.CheckResult
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """conftest's ``_loc`` field of a rule's value: where in the input the problem is."""

    file: str = ""
    line: int | float | None = None


@dataclass(frozen=True)
class Message:
    """One failure, warning or exception (conftest ``output.Result``)."""

    msg: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    loc: Location | None = None


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one namespace on one file (all its documents), as conftest counts it."""

    filename: str
    namespace: str
    successes: int = 0
    warnings: tuple[Message, ...] = ()
    failures: tuple[Message, ...] = ()
    exceptions: tuple[Message, ...] = ()
    outputs: tuple[str, ...] = ()  # print() output of the policy while evaluating this file

    @property
    def tests(self) -> int:
        return self.successes + len(self.warnings) + len(self.failures) + len(self.exceptions)


@dataclass(frozen=True)
class CheckReport:
    results: tuple[CheckResult, ...]
    namespaces: tuple[str, ...]
    engine: str
    trace: tuple[str, ...] = ()  # --trace: the engine's evaluation trace, document by document

    @property
    def tests(self) -> int:
        return sum(r.tests for r in self.results)

    @property
    def successes(self) -> int:
        return sum(r.successes for r in self.results)

    @property
    def warnings(self) -> int:
        return sum(len(r.warnings) for r in self.results)

    @property
    def failures(self) -> int:
        return sum(len(r.failures) for r in self.results)

    @property
    def exceptions(self) -> int:
        return sum(len(r.exceptions) for r in self.results)

    def exit_code(self, *, fail_on_warn: bool = False) -> int:
        """conftest output/result.go: 1 on failures; with --fail-on-warn 2 on failures and 1
        on warnings only. (--no-fail, which makes it 0, is applied by the command.)"""
        if fail_on_warn:
            if self.failures:
                return 2
            return 1 if self.warnings else 0
        return 1 if self.failures else 0


@dataclass(frozen=True)
class CheckRequest:
    files: tuple[str, ...]
    policies: tuple[str, ...] = (DEFAULT_POLICY,)
    data: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = (DEFAULT_NAMESPACE,)
    all_namespaces: bool = False
    parser: str | None = None  # None: by file extension, as conftest
    combine: bool = False
    ignore: str | None = None  # regex of paths to skip when walking directories
    stdin: bytes | None = None  # the bytes of `-`
    stdin_filename: str | None = None
    engine: str = DEFAULT_ENGINE
    timeout: float = DEFAULT_TIMEOUT_S
    max_bytes: int = DEFAULT_MAX_BYTES
    trace: bool = False
    capabilities: str | None = None  # an OPA capabilities file: builtins outside it refused
    proto_dirs: tuple[str, ...] = ()  # --proto-file-dirs: message types for textproto files


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedFile:
    """One input file: its documents (several for multi-document YAML or a top-level array)."""

    name: str  # as shown in results
    documents: tuple[Any, ...]


def expand_paths(paths: Sequence[str], ignore: str | None = None) -> tuple[str, ...]:
    """Files to check: given files as they are, directories walked for files conftest reads."""
    try:
        ignored = re.compile(ignore) if ignore else None
    except re.error as exc:
        raise ConfigError(f"--ignore is not a valid regular expression: {exc}") from None
    files: list[str] = []
    for given in paths:
        if not given:
            continue
        if given == STDIN:
            files.append(STDIN)
            continue
        path = Path(given)
        if path.is_dir():
            for item in sorted(path.rglob("*")):
                shown = str(item)
                if ignored is not None and ignored.search(shown):
                    continue
                if item.is_file() and parser_for_path(shown) is not None:
                    files.append(shown)
        elif path.exists():
            files.append(given)
        else:
            raise InputError("file not found", path=given)
    if not files:
        raise InputError(f"no files found in {', '.join(paths) or 'the arguments'}")
    return tuple(files)


def _read_file(path: str, max_bytes: int) -> bytes:
    return read_regular_file(path, max_bytes=max_bytes)


def parse_input(
    shown: str, raw: bytes, parser: str | None, proto_dirs: tuple[str, ...] = ()
) -> ParsedFile:
    """Parse one input as conftest would: by --parser, else by the file's name."""
    path = None if shown == STDIN else Path(shown)
    value = parse_document(raw, Source(shown, path, proto_dirs), parser)
    # conftest evaluates every element of a top-level list as its own document (multi-document
    # YAML arrives as a list too, and so does a Dockerfile's list of instructions), aggregating
    # the results under the file name.
    if isinstance(value, list):
        return ParsedFile(shown, tuple(value))
    return ParsedFile(shown, (value,))


def read_inputs(request: CheckRequest) -> tuple[ParsedFile, ...]:
    if request.parser is not None and request.parser not in PARSERS:
        raise ConfigError(
            f"--parser {request.parser}: unknown parser; known: {', '.join(parser_names())}"
        )
    parsed: list[ParsedFile] = []
    for path in expand_paths(request.files, request.ignore):
        if path == STDIN:
            raw = request.stdin if request.stdin is not None else b""
            if len(raw) > request.max_bytes:
                raise InputError(f"over the limit of {request.max_bytes} bytes", path="stdin")
            item = parse_input(STDIN, raw, request.parser, request.proto_dirs)
            if request.stdin_filename:
                item = replace(item, name=request.stdin_filename)
            parsed.append(item)
        else:
            raw = _read_file(path, request.max_bytes)
            parsed.append(parse_input(path, raw, request.parser, request.proto_dirs))
    return tuple(parsed)


def combine_inputs(files: Sequence[ParsedFile]) -> ParsedFile:
    """conftest --combine: one document, a list of {path, contents} sorted by path."""
    entries = [{"path": f.name, "contents": doc} for f in files for doc in f.documents]
    entries.sort(key=lambda e: str(e["path"]))
    return ParsedFile(COMBINED, (entries,))


# --------------------------------------------------------------------------------------------
# Namespaces and rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NamespaceRules:
    namespace: str
    rules: tuple[str, ...]  # distinct deny/violation/warn rule names, in source order
    definitions: int  # conftest's rule count: every definition of those rules

    @property
    def exception_query(self) -> str:
        return data_ref(self.namespace, "exception")


def namespace_rules(bundle: PolicyBundle, namespace: str) -> NamespaceRules:
    """The rules conftest evaluates in ``namespace`` and how many definitions it counts."""
    names: list[str] = []
    count = 0
    for module in bundle.modules:
        if module.is_test or module.package != namespace:
            continue
        for definition in scan_rego(module.source, module.path).definitions:
            name = definition.name
            if definition.is_function or not (is_failure_rule(name) or is_warning_rule(name)):
                continue
            count += 1
            if name not in names:
                names.append(name)
    return NamespaceRules(namespace, tuple(names), count)


# --------------------------------------------------------------------------------------------
# Evaluation and counting
# --------------------------------------------------------------------------------------------


@dataclass
class _Tally:
    successes: int = 0
    warnings: list[Message] = field(default_factory=list)
    failures: list[Message] = field(default_factory=list)
    exceptions: list[Message] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def freeze(self, filename: str, namespace: str) -> CheckResult:
        return CheckResult(
            filename=filename,
            namespace=namespace,
            successes=self.successes,
            warnings=tuple(self.warnings),
            failures=tuple(self.failures),
            exceptions=tuple(self.exceptions),
            outputs=tuple(self.outputs),
        )


_PASSED = None  # one passing result (conftest: a Result with an empty message)


def _location(value: Any) -> Location | None:
    if not isinstance(value, dict):
        return None
    file = value.get("file")
    line = value.get("line")
    loc = Location(
        file=file if isinstance(file, str) else "",
        line=line if isinstance(line, int | float) and not isinstance(line, bool) else None,
    )
    return loc if loc.file or loc.line is not None else None


def rule_messages(value: Any, query: str) -> list[Message | None]:
    """A rule's value as conftest's results: messages, or ``None`` for a passing result.

    conftest silently passes a rule whose value is not a set or array (``deny if ...`` that is
    true) and silently drops set items that are neither strings nor objects; both would let a
    gate pass while the policy said no, so they are policy errors here, as is an empty message.
    """
    if value is None:
        return []  # undefined: no result; the rule count fills it in as passed
    if value is False:
        return [_PASSED]
    if not isinstance(value, list):
        raise PolicyError(
            f"rule {query} is {type(value).__name__} {_short(value)}, not a set of messages "
            "(conftest would count it as passed); write `deny contains msg if { ... }`"
        )
    if not value:
        return [_PASSED]
    messages: list[Message | None] = []
    for item in value:
        if isinstance(item, str):
            message = Message(msg=item, metadata={"query": query})
        elif isinstance(item, dict):
            msg = item.get("msg")
            if not isinstance(msg, str):
                raise PolicyError(f'rule {query}: "msg" field must be present and a string')
            metadata = {k: v for k, v in item.items() if k not in ("msg", "_loc")}
            metadata["query"] = query
            message = Message(msg=msg, metadata=metadata, loc=_location(item.get("_loc")))
        else:
            raise PolicyError(
                f"rule {query} contains {_short(item)}; items must be strings or objects with msg"
            )
        if not message.msg:
            raise PolicyError(
                f"rule {query} returned an empty message (conftest would count it as passed)"
            )
        messages.append(message)
    return messages


def tally_document(values: Mapping[str, Any], ns: NamespaceRules, tally: _Tally) -> None:
    """Add one document's results for one namespace, counted as conftest's Engine.check."""
    exception_value = values.get(ns.exception_query)
    warnings: list[Message] = []
    failures: list[Message] = []
    exceptions: list[Message] = []
    successes = 0
    for rule in ns.rules:
        name = exception_rule_name(rule)
        matched = exception_matches(exception_value, name)
        # conftest reports the exception query itself as the message.
        query_text = f"data.{ns.namespace}.exception[_][_] == {json.dumps(name)}"
        exceptions.extend(Message(msg=query_text) for _ in range(matched))
        conftest_query = f"data.{ns.namespace}.{rule}"
        results = rule_messages(values.get(data_ref(ns.namespace, rule)), conftest_query)
        if matched:
            continue  # an excepted rule's results are not counted at all
        for result in results:
            if result is None:
                successes += 1
            elif is_failure_rule(rule):
                failures.append(result)
            else:
                warnings.append(result)
    # conftest counts one success per rule name that passed, then tops the count up to the
    # number of rule definitions: two `deny` bodies that both pass are two tests.
    counted = len(failures) + len(warnings) + len(exceptions) + successes
    if counted < ns.definitions:
        successes += ns.definitions - counted
    tally.successes += successes
    tally.warnings.extend(warnings)
    tally.failures.extend(failures)
    tally.exceptions.extend(exceptions)


def _file_overrides(bundle: PolicyBundle, name: str) -> dict[str, Any]:
    """conftest exposes the file being checked as data.conftest.file {name, dir}: the
    top-level data key that differs from one checked file to the next."""
    # Go's filepath.Abs: joined to the working directory and cleaned, symlinks left alone.
    absolute = Path(os.path.normpath(Path(name).absolute()))
    existing = bundle.data.get("conftest")
    conftest = dict(existing) if isinstance(existing, dict) else {}
    conftest["file"] = {"name": absolute.name, "dir": str(absolute.parent)}
    return {"conftest": conftest}


@dataclass(frozen=True)
class _Unit:
    """One document of one file."""

    file_index: int
    input_json: str


def _units(files: Sequence[ParsedFile]) -> Iterator[_Unit]:
    for index, parsed in enumerate(files):
        for document in parsed.documents:
            yield _Unit(index, json.dumps(document, separators=(",", ":")))


# Below this many documents a second engine session costs more than it saves.
MIN_DOCUMENTS_PER_SESSION = 1000


def _expected_sessions(request: CheckRequest) -> int:
    """Sessions to start before parsing: a guess from the input's size (a Kubernetes
    document is ~400 bytes); a wrong guess costs a spare process, never a result."""
    size = len(request.stdin or b"")
    for path in request.files:
        with contextlib.suppress(OSError):
            if path != STDIN and Path(path).is_file():
                size += Path(path).stat().st_size
    return check_sessions(size // 400)


def check_sessions(documents: int) -> int:
    """Engine sessions for ``documents``: one per core for a large stream, else one."""
    return max(1, min(os.cpu_count() or 1, documents // MIN_DOCUMENTS_PER_SESSION))


_Evaluated = tuple[dict[str, Any], tuple[str, ...], tuple[str, ...]]


def _evaluate_all(
    engine: Engine,
    bundle: PolicyBundle,
    files: Sequence[ParsedFile],
    units: Sequence[_Unit],
    queries: tuple[str, ...],
    timeout: float,
    trace: bool = False,
) -> list[_Evaluated]:
    """Every document's query values, prints and trace, in the order of ``units``.

    Engines that can (:class:`BatchEngine`) evaluate all documents in one guarded session
    (the bundle compiled once); a stream of thousands of documents is split into one session
    per core. ``--trace`` and other engines take one guarded call per document.
    """
    overrides = tuple(_file_overrides(bundle, parsed.name) for parsed in files)
    if isinstance(engine, BatchEngine) and not trace:
        batch = DocumentBatch(
            inputs=tuple(u.input_json for u in units),
            data_index=tuple(u.file_index for u in units),
            overrides=overrides,
        )
        found = engine.evaluate_documents(
            bundle, batch, queries, timeout=timeout, sessions=check_sessions(len(units))
        )
        return [(r.values, r.prints, r.trace) for r in found]

    bundles = [replace(bundle, data={**bundle.data, **o}) for o in overrides]

    def run(unit: _Unit) -> _Evaluated:
        unit_bundle = bundles[unit.file_index]
        if trace:
            result = engine.evaluate(
                unit_bundle, unit.input_json, queries, timeout=timeout, trace=True
            )
        else:
            result = engine.evaluate(unit_bundle, unit.input_json, queries, timeout=timeout)
        return result.values, result.prints, result.trace

    if len(units) <= 1:
        return [run(u) for u in units]
    # Each evaluation is a worker process; run as many as there are cores.
    with ThreadPoolExecutor(max_workers=min(len(units), os.cpu_count() or 1)) as pool:
        return list(pool.map(run, units))


def run_check(
    request: CheckRequest, *, engine_factory: Callable[[str], Engine] = get_engine
) -> CheckReport:
    """Parse the inputs, load the policies, evaluate every document, count as conftest does."""
    if engine_factory is get_engine:
        # The engine's worker processes start (interpreter, engine library) while the inputs
        # are parsed, as `gate run` does; a spare that is not used is stopped.
        prestart_worker(request.engine, _expected_sessions(request))
    # Inputs first (as conftest and `gate run`): a bad file is bad input, exit 2.
    try:
        files = read_inputs(request)
    except BaseException:
        discard_spare()
        raise
    if request.combine:
        files = (combine_inputs(files),)
    engine = engine_factory(request.engine)
    policy_files = conftest_policy_files(request.policies)
    bundle = load_bundle(policy_files, data_paths=request.data)
    if request.capabilities is not None:
        check_capabilities(bundle, request.capabilities)
    packages = sorted({m.package for m in bundle.modules if not m.is_test})
    namespaces = select_namespaces(packages, request.namespaces, request.all_namespaces)
    rules = {ns: namespace_rules(bundle, ns) for ns in dict.fromkeys(namespaces)}
    if not any(r.definitions for r in rules.values()):
        raise PolicyError(
            f"no deny, violation or warn rules in namespace(s) {', '.join(namespaces)} "
            "(conftest would report 0 tests and pass)"
        )
    queries = tuple(
        dict.fromkeys(
            q
            for r in rules.values()
            if r.rules
            for q in (*(data_ref(r.namespace, rule) for rule in r.rules), r.exception_query)
        )
    )
    units = list(_units(files))
    evaluated = _evaluate_all(engine, bundle, files, units, queries, request.timeout, request.trace)
    trace_lines: list[str] = []

    tallies = {(ns, i): _Tally() for ns in rules for i in range(len(files))}
    first_namespace = namespaces[0]
    for unit, (values, prints, traced) in zip(units, evaluated, strict=True):
        trace_lines.extend(traced)
        for ns, ns_rules in rules.items():
            tally_document(values, ns_rules, tallies[(ns, unit.file_index)])
        tallies[(first_namespace, unit.file_index)].outputs.extend(
            _print_location(p, policy_files) for p in prints
        )
    # conftest's order: namespaces outermost, then files.
    results = tuple(
        tallies[(ns, i)].freeze(files[i].name, ns) for ns in namespaces for i in range(len(files))
    )
    return CheckReport(
        results=results, namespaces=namespaces, engine=request.engine, trace=tuple(trace_lines)
    )


def conftest_policy_files(paths: Sequence[str]) -> list[str]:
    """The policy paths as conftest loads them: the ``.rego`` files of each directory (data
    files inside policy directories are not policy, conftest ignores them), files and bundles
    as given. Each module is then shown by its path as given (``PRNT policy/main.rego:4``)."""
    files: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*.rego") if p.is_file())
            files.extend(found or [given])  # none: the loader names the empty directory
        else:
            files.append(given)
    return files


def _print_location(printed: str, policy_files: Sequence[str]) -> str:
    """The policy loader shows a lone ``.rego`` file by its base name; conftest's ``PRNT``
    line shows it as given."""
    if len(policy_files) == 1 and policy_files[0].endswith(".rego"):
        name = Path(policy_files[0]).name
        if printed.startswith(name + ":"):
            return policy_files[0] + printed[len(name) :]
    return printed


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# A call: a dotted name followed by "(" (keywords and our own functions filtered below).
_CALL_RE = re.compile(r"(?<![\w.])([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\s*\(")
_NOT_CALLS = frozenset({"if", "contains", "in", "not", "some", "every", "with", "else"})


def check_capabilities(bundle: PolicyBundle, capabilities_path: str) -> None:
    """conftest --capabilities: a policy calling a builtin the capabilities file does not
    list is refused before evaluation, as OPA's compiler does ("undefined function")."""
    try:
        document = json.loads(Path(capabilities_path).read_text(encoding="utf-8"))
        allowed = {str(b["name"]) for b in document.get("builtins", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"not an OPA capabilities file: {exc}", path=capabilities_path) from None
    defined = {d.name for m in bundle.modules for d in scan_rego(m.source, m.path).definitions}
    problems: list[PolicyError] = []
    for module in bundle.modules:
        for number, line in enumerate(module.source.split("\n"), start=1):
            code = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', '""', line).split("#", 1)[0]
            for match in _CALL_RE.finditer(code):
                name = match.group(1)
                if name in _NOT_CALLS or name in allowed or name.split(".")[-1] in defined:
                    continue
                problems.append(
                    PolicyError(
                        f"rego_type_error: undefined function {name}",
                        path=module.path,
                        where=str(number),
                    )
                )
    if problems:
        first = problems[0]
        first.errors = problems  # type: ignore[attr-defined]
        raise first
