"""``gatekeeper check``: conftest-compatible evaluation of raw configuration documents.

Conftest's ``conftest test`` behaviour is reproduced here so existing conftest policies and the
CI expectations built on its output keep working: which rules run (``deny``/``violation``/
``warn`` with ``_suffix``), how ``exception`` rules exempt them, how many "tests" are counted,
how multi-document YAML is split. Where conftest would pass without checking anything (a rule
value it silently ignores, a namespace that does not exist) Gatekeeper fails closed instead;
docs/conftest-compat.md lists every such case.

Evaluation goes through the guarded engines, one engine call per document (all namespaces'
queries at once), documents evaluated in parallel worker processes.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from gatekeeper.config import parse_yaml_text
from gatekeeper.errors import ConfigError, InputError, PolicyError
from gatekeeper.evidence import DEFAULT_MAX_BYTES

# The evidence reader's JSON parsing (NaN refused, line:column, truncation named) is exactly
# what conftest inputs need too.
from gatekeeper.evidence.loading import parse_json
from gatekeeper.gate.evaluate import data_ref
from gatekeeper.policy.bundle import PolicyBundle, load_bundle
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S, Engine
from gatekeeper.policy.engines.registry import DEFAULT_ENGINE, get_engine
from gatekeeper.policy.rego_source import scan_rego

STDIN = "-"
COMBINED = "Combined"  # conftest's file name for --combine results
DEFAULT_POLICY = "policy"
DEFAULT_NAMESPACE = "main"
PARSERS = ("json", "yaml")
# Every parser conftest has; files of these kinds are ones conftest would check, so a directory
# walk must not skip them silently (we refuse them instead: we cannot read them the same way).
CONFTEST_PARSERS = frozenset(
    {
        "cue", "cyclonedx", "dockerfile", "edn", "groovy", "hcl1", "hcl2", "hocon", "ignore",
        "ini", "json", "jsonc", "jsonnet", "nginx", "properties", "spdx", "textproto", "toml",
        "vcl", "xml", "yaml", "dotenv",
    }
)  # fmt: skip
# A YAML document of a few KB can expand to billions of values through aliases; bound the
# values we are willing to hand to an engine.
MAX_DOCUMENT_VALUES = 2_000_000

# conftest policy/engine.go: the rule names that decide (note: `deny_` alone or `deny__x` do not).
_FAILURE_RE = re.compile(r"^(deny|violation)(_[a-zA-Z0-9]+)*$")
_WARNING_RE = re.compile(r"^warn(_[a-zA-Z0-9]+)*$")


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


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedFile:
    """One input file: its documents (several for multi-document YAML or a top-level array)."""

    name: str  # as shown in results
    documents: tuple[Any, ...]


def conftest_parser_for(path: str) -> str | None:
    """The parser conftest picks for ``path`` (parser/parser.go NewFromPath), or None."""
    if path == STDIN:
        return "yaml"
    name = Path(path).name.lower()
    ext = Path(path).suffix[1:].lower()
    if name == "dockerfile" or name.startswith("dockerfile.") or ext == "dockerfile":
        return "dockerfile"
    if ext in ("yml", "yaml"):
        return "yaml"
    if ext in ("hcl", "tf", "tfvars"):
        return "hcl2"
    if ext in ("gitignore", "dockerignore"):
        return "ignore"
    if name == ".env" or name.startswith(".env.") or ext == "env":
        return "dotenv"
    if name == "nginx.conf":
        return "nginx"
    if name == "jenkinsfile" or name.startswith("jenkinsfile."):
        return "groovy"
    if ext in ("textproto", "textpb"):
        return "textproto"
    return ext if ext in CONFTEST_PARSERS else None


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
                if item.is_file() and conftest_parser_for(shown) is not None:
                    files.append(shown)
        elif path.exists():
            files.append(given)
        else:
            raise InputError("file not found", path=given)
    if not files:
        raise InputError(f"no files found in {', '.join(paths) or 'the arguments'}")
    return tuple(files)


def _read_file(path: str, max_bytes: int) -> bytes:
    try:
        info = Path(path).stat()
        if not stat.S_ISREG(info.st_mode):
            raise InputError("is not a regular file", path=path)
        if info.st_size > max_bytes:
            raise InputError(f"file is over the limit of {max_bytes} bytes", path=path)
        with Path(path).open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    if len(raw) > max_bytes:
        raise InputError(f"file is over the limit of {max_bytes} bytes", path=path)
    return raw


def _decode(raw: bytes, shown: str) -> str:
    try:
        return raw.decode("utf-8-sig")  # conftest strips a UTF-8 BOM too
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", path=shown) from None


def split_yaml_documents(text: str) -> list[tuple[int, str]]:
    """(first line, text) of each sub-document, split exactly as conftest's YAML parser does.

    conftest splits on a line that is exactly ``---`` between two line breaks (CRLF when the
    file has any); a leading ``%`` directive stays with the first document. Other document
    markers (``--- # comment``, a leading ``---``) are left to the YAML parser.
    """
    linebreak = "\r\n" if "\r\n" in text else "\n"
    separator = f"{linebreak}---{linebreak}"
    parts = text.split(separator)
    if text.startswith("%") and len(parts) > 2:
        parts = [parts[0] + separator + parts[1], *parts[2:]]
    elif text.startswith("%") or len(parts) <= 1:
        return [(1, text)]
    result: list[tuple[int, str]] = []
    line = 1
    for part in parts:
        result.append((line, part))
        line += part.count("\n") + 2  # the separator's own line and the break before it
    return result


def _parse_yaml_part(text: str, shown: str, first_line: int) -> Any:
    try:
        return parse_yaml_text(text, display=shown, error=InputError).data
    except InputError as exc:
        where = exc.where
        if where and where.isdigit():
            where = str(int(where) + first_line - 1)
        raise InputError(exc.message, path=shown, where=where) from None


def parse_yaml(text: str, shown: str) -> Any:
    parts = split_yaml_documents(text)
    if len(parts) == 1:
        return _parse_yaml_part(text, shown, 1)
    return [_parse_yaml_part(part, shown, line) for line, part in parts]


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    return str(key)


def to_json_value(value: Any, shown: str, budget: int = MAX_DOCUMENT_VALUES) -> Any:
    """A JSON-compatible copy of a parsed YAML value, refusing alias bombs and cycles.

    YAML maps may have non-string keys (converted to strings, as conftest's YAML library does)
    and timestamps (written in ISO 8601 form).
    """
    remaining = [budget]

    def convert(item: Any, depth: int) -> Any:
        remaining[0] -= 1
        if remaining[0] < 0:
            raise InputError(
                f"document expands to more than {budget} values (YAML aliases?)", path=shown
            )
        if isinstance(item, str) or item is None or isinstance(item, bool | int):
            return item
        if depth > 512:
            raise InputError("document is nested too deeply", path=shown)
        if isinstance(item, dict):
            return {_json_key(k): convert(v, depth + 1) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [convert(v, depth + 1) for v in item]
        if isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise InputError(f"{item} has no JSON form", path=shown)
            return item
        if isinstance(item, datetime | date):
            return item.isoformat()
        if isinstance(item, bytes):
            return item.decode("utf-8", "replace")
        return str(item)

    try:
        return convert(value, 0)
    except RecursionError:
        raise InputError("document is nested too deeply", path=shown) from None


def parse_input(shown: str, raw: bytes, parser: str | None) -> ParsedFile:
    """Parse one input as conftest would: by --parser, else by the file's name."""
    chosen = parser or conftest_parser_for(shown)
    if chosen is None:
        ext = Path(shown).suffix[1:]
        raise InputError(
            f"unknown file type {ext or '(no extension)'!r}; "
            "gatekeeper check reads .json, .yaml and .yml files (or use --parser)",
            path=shown,
        )
    if chosen not in PARSERS:
        raise InputError(
            f"conftest would read this file with its {chosen} parser; "
            "gatekeeper check reads only JSON and YAML",
            path=shown,
        )
    text = _decode(raw, shown)
    if chosen == "json":
        value = parse_json(shown, text)
    else:
        value = to_json_value(parse_yaml(text, shown), shown)
    # conftest evaluates every element of a top-level list as its own document (multi-document
    # YAML arrives as a list too), aggregating the results under the file name.
    if isinstance(value, list):
        return ParsedFile(shown, tuple(value))
    return ParsedFile(shown, (value,))


def read_inputs(request: CheckRequest) -> tuple[ParsedFile, ...]:
    if request.parser is not None and request.parser not in PARSERS:
        known = "supported by conftest only" if request.parser in CONFTEST_PARSERS else "unknown"
        raise ConfigError(
            f"--parser {request.parser}: {known}; gatekeeper check parses: {', '.join(PARSERS)}"
        )
    parsed: list[ParsedFile] = []
    for path in expand_paths(request.files, request.ignore):
        if path == STDIN:
            raw = request.stdin if request.stdin is not None else b""
            if len(raw) > request.max_bytes:
                raise InputError(f"over the limit of {request.max_bytes} bytes", path="stdin")
            item = parse_input(STDIN, raw, request.parser)
            if request.stdin_filename:
                item = replace(item, name=request.stdin_filename)
            parsed.append(item)
        else:
            parsed.append(parse_input(path, _read_file(path, request.max_bytes), request.parser))
    return tuple(parsed)


def combine_inputs(files: Sequence[ParsedFile]) -> ParsedFile:
    """conftest --combine: one document, a list of {path, contents} sorted by path."""
    entries = [{"path": f.name, "contents": doc} for f in files for doc in f.documents]
    entries.sort(key=lambda e: str(e["path"]))
    return ParsedFile(COMBINED, (entries,))


# --------------------------------------------------------------------------------------------
# Namespaces and rules
# --------------------------------------------------------------------------------------------


def _has_wildcard(patterns: Sequence[str]) -> bool:
    return any(ch in p for p in patterns for ch in "*?[")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Go's path.Match syntax (``*``, ``?``, ``[...]``/``[^...]``, ``\\`` escapes) as a regex."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("^", "]") else i + 1)
            if end < 0:
                raise ConfigError(f"namespace pattern {pattern!r}: unterminated '['")
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            if not body:
                raise ConfigError(f"namespace pattern {pattern!r}: empty character class")
            escaped = "".join("\\" + c if c in "\\]^[" else c for c in body)
            out.append(f"[{'^' if negate else ''}{escaped}]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z")


def select_namespaces(
    packages: Sequence[str], patterns: Sequence[str], all_namespaces: bool
) -> tuple[str, ...]:
    """conftest runner/test.go: all packages, or the glob matches, or the literal list.

    Unlike conftest, a namespace (or pattern) that names no package is an error: conftest
    would report "0 tests" for it and exit 0, a gate that passes without checking anything.
    """
    if all_namespaces:
        return tuple(packages)
    if not patterns:
        raise ConfigError("no namespace given")
    if not _has_wildcard(patterns):
        for name in patterns:
            if name not in packages:
                raise PolicyError(
                    f"namespace '{name}' matches no package in the policies "
                    f"(packages: {', '.join(packages) or 'none'}); "
                    "use -n/--namespace or --all-namespaces"
                )
        return tuple(patterns)
    regexes = [glob_regex(p) for p in patterns]
    selected = tuple(p for p in packages if any(rx.match(p) for rx in regexes))
    if not selected:
        raise PolicyError(
            f"namespace patterns {', '.join(patterns)} match no package in the policies "
            f"(packages: {', '.join(packages) or 'none'})"
        )
    return selected


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
            if definition.is_function or not (_FAILURE_RE.match(name) or _WARNING_RE.match(name)):
                continue
            count += 1
            if name not in names:
                names.append(name)
    return NamespaceRules(namespace, tuple(names), count)


def exception_rule_name(rule: str) -> str:
    """The name conftest looks up in ``exception`` for ``rule`` (policy/engine.go
    removeRulePrefix): "" for bare deny/violation/warn, prefixes trimmed in turn otherwise.
    gatekeeper.gate.evaluate.exception_name differs on both points, hence this function."""
    if rule in ("deny", "violation", "warn"):
        return ""
    for prefix in ("violation_", "deny_", "warn_"):
        rule = rule.removeprefix(prefix)
    return rule


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


def exception_matches(value: Any, name: str) -> int:
    """How many solutions conftest's ``data.<ns>.exception[_][_] == "<name>"`` query has."""
    if isinstance(value, dict):
        outer: list[Any] = list(value.values())
    elif isinstance(value, list):
        outer = value
    else:
        return 0
    count = 0
    for entry in outer:
        # `[_]` iterates an array's items or an object's values; on anything else it is
        # undefined, so a set of plain strings exempts nothing (as in conftest).
        inner = list(entry.values()) if isinstance(entry, dict) else entry
        if isinstance(inner, list):
            count += sum(1 for v in inner if v == name)
    return count


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
            elif _FAILURE_RE.match(rule):
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


def _with_file_info(bundle: PolicyBundle, name: str) -> PolicyBundle:
    """conftest exposes the file being checked as data.conftest.file {name, dir}."""
    # Go's filepath.Abs: joined to the working directory and cleaned, symlinks left alone.
    absolute = Path(os.path.normpath(Path(name).absolute()))
    data = dict(bundle.data)
    existing = data.get("conftest")
    conftest = dict(existing) if isinstance(existing, dict) else {}
    conftest["file"] = {"name": absolute.name, "dir": str(absolute.parent)}
    data["conftest"] = conftest
    return replace(bundle, data=data)


@dataclass(frozen=True)
class _Unit:
    """One engine call: one document of one file."""

    file_index: int
    bundle: PolicyBundle
    input_json: str


def _units(files: Sequence[ParsedFile], bundle: PolicyBundle) -> Iterator[_Unit]:
    for index, parsed in enumerate(files):
        file_bundle = _with_file_info(bundle, parsed.name)
        for document in parsed.documents:
            yield _Unit(index, file_bundle, json.dumps(document, separators=(",", ":")))


def _evaluate_all(
    engine: Engine,
    units: Sequence[_Unit],
    queries: tuple[str, ...],
    timeout: float,
) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    def run(unit: _Unit) -> tuple[dict[str, Any], tuple[str, ...]]:
        result = engine.evaluate(unit.bundle, unit.input_json, queries, timeout=timeout)
        return result.values, result.prints

    if len(units) <= 1:
        return [run(u) for u in units]
    # Each evaluation is a worker process; run as many as there are cores.
    with ThreadPoolExecutor(max_workers=min(len(units), os.cpu_count() or 1)) as pool:
        return list(pool.map(run, units))


def run_check(
    request: CheckRequest, *, engine_factory: Callable[[str], Engine] = get_engine
) -> CheckReport:
    """Parse the inputs, load the policies, evaluate every document, count as conftest does."""
    # Inputs first (as conftest and `gate run`): a bad file is bad input, exit 2.
    files = read_inputs(request)
    if request.combine:
        files = (combine_inputs(files),)
    engine = engine_factory(request.engine)
    bundle = load_bundle(request.policies, data_paths=request.data)
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
    units = list(_units(files, bundle))
    evaluated = _evaluate_all(engine, units, queries, request.timeout)

    tallies = {(ns, i): _Tally() for ns in rules for i in range(len(files))}
    first_namespace = namespaces[0]
    for unit, (values, prints) in zip(units, evaluated, strict=True):
        for ns, ns_rules in rules.items():
            tally_document(values, ns_rules, tallies[(ns, unit.file_index)])
        tallies[(first_namespace, unit.file_index)].outputs.extend(prints)
    # conftest's order: namespaces outermost, then files.
    results = tuple(
        tallies[(ns, i)].freeze(files[i].name, ns) for ns in namespaces for i in range(len(files))
    )
    return CheckReport(results=results, namespaces=namespaces, engine=request.engine)


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
