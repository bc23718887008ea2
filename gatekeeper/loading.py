"""One bounded reader for every file a user hands us: evidence, ``-d`` data, release, waivers,
config and ``check`` inputs.

Everything a hostile or broken file can do becomes one :class:`InputError` (or the caller's
subclass) naming the file and, where known, the line or field:

- only regular files are opened, and opening never blocks: a FIFO, ``/dev/zero`` or a
  directory is refused at once instead of hanging or reading until memory runs out;
- at most ``max_bytes`` are read, whatever the file claims in ``stat``;
- JSON: duplicate object keys, NaN/Infinity, numbers that overflow a float and integers of
  more than :data:`MAX_INT_DIGITS` digits are refused (a 400-digit CVSS score is bad input,
  not an internal error);
- YAML: the safe loader only (libyaml's ``CSafeLoader`` when it is installed: same
  constructors, faster), duplicate keys refused, at most ``max_aliases`` alias uses and
  ``max_nodes`` nodes *after* alias expansion (a "billion laughs" file stops at the bound
  instead of growing to gigabytes), nesting at most ``max_depth`` deep, and bad timestamps or
  over-long integers reported with their key path and line.

This module sits below every layer (like :mod:`gatekeeper.errors`), so evidence, policy,
gate and config reading share it.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import yaml

from gatekeeper.errors import GatekeeperError, InputError

# A hand-written file (release, waivers, config, data) is kilobytes; evidence may be large.
MAX_SMALL_FILE_BYTES = 1024 * 1024
# No real document nests this deep; Rego engines and our own walks recurse on depth.
MAX_DEPTH = 64
# YAML anchors are a convenience in config files; hundreds of uses is an attack.
MAX_ALIASES = 100
# Nodes after alias expansion: a 10,000-entry allow-list is ~20,000 nodes.
MAX_NODES = 1_000_000
# 19 digits hold any 64-bit integer; longer is never a count, a line or a score.
MAX_INT_DIGITS = 19

YamlPath = tuple[str | int, ...]
ErrorType = type[GatekeeperError]

_UTF8_BOM = b"\xef\xbb\xbf"
# Longest first: the UTF-32 little-endian mark begins with the UTF-16 one.
_UNICODE_BOMS = (
    (_UTF8_BOM, "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_JSON_WHITESPACE = " \t\r\n"
_LONG_INTEGER = re.compile(r"-?\d{" + str(MAX_INT_DIGITS + 1) + ",}")
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _quick_resolving(base: Any) -> Any:
    """``base`` (a safe loader) resolving implicit tags from a cache: the safe loaders have
    no path resolvers, so a plain scalar's tag depends on its text alone, and YAML streams
    repeat the same keys and values thousands of times. Same tags, same constructors."""
    if getattr(base, "yaml_path_resolvers", None):  # pragma: no cover - never for safe ones
        return base
    cache: dict[str, str] = {}

    class QuickResolving(base):  # type: ignore[misc]
        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            return None  # no path resolvers: nothing to track

        def ascend_resolver(self) -> None:
            return None

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is yaml.ScalarNode and implicit[0] and isinstance(value, str):
                tag = cache.get(value)
                if tag is None:
                    tag = super().resolve(kind, value, implicit)
                    if len(cache) > 50_000:
                        cache.clear()
                    cache[value] = tag
                return tag
            return super().resolve(kind, value, implicit)

    QuickResolving.__name__ = QuickResolving.__qualname__ = base.__name__
    return QuickResolving


_SafeLoader: Any = _quick_resolving(getattr(yaml, "CSafeLoader", yaml.SafeLoader))


# ---------------------------------------------------------------------------------------------
# Bytes
# ---------------------------------------------------------------------------------------------


def read_regular_file(
    path: str | os.PathLike[str],
    *,
    max_bytes: int,
    display: str | None = None,
    error: ErrorType = InputError,
    what: str = "file",
) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; anything else raises ``error``.

    The file is opened non-blocking and checked with ``fstat`` on the open descriptor, so a
    FIFO cannot hang the open and a path swapped between a check and the open is still caught.
    """
    shown = display if display is not None else os.fspath(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise error(f"{what} not found", path=shown) from None
    except PermissionError:
        raise error("cannot read: permission denied", path=shown) from None
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror or exc}", path=shown) from None
    try:
        info = os.fstat(descriptor)
        if stat.S_ISDIR(info.st_mode):
            raise error("is a directory, expected a regular file", path=shown)
        if not stat.S_ISREG(info.st_mode):
            raise error("is not a regular file (a pipe, socket or device); refused", path=shown)
        if info.st_size > max_bytes:
            raise error(
                f"{what} is {info.st_size} bytes, over the limit of {max_bytes} bytes", path=shown
            )
        os.set_blocking(descriptor, True)
        chunks: list[bytes] = []
        remaining = max_bytes + 1  # one byte past the bound: the file may grow after fstat
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror or exc}", path=shown) from None
    finally:
        os.close(descriptor)
    raw = b"".join(chunks)
    if len(raw) > max_bytes:
        raise error(f"{what} is over the limit of {max_bytes} bytes", path=shown)
    return raw


def decode_utf8(raw: bytes, *, display: str, error: ErrorType = InputError) -> str:
    """UTF-8 text (a leading byte-order mark dropped); anything else raises ``error``.

    UTF-16 and UTF-32 are read too when a byte-order mark says so: Windows PowerShell's ``>``
    writes a scanner's report as UTF-16 with a mark, and the mark makes the encoding certain.
    Without a mark only UTF-8 is accepted (guessing an encoding could misread a file)."""
    for bom, codec in _UNICODE_BOMS:
        if raw.startswith(bom):
            try:
                return raw[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise error(
                    f"not valid {codec.upper()} after its byte-order mark "
                    f"(bad byte at offset {exc.start + len(bom)})",
                    path=display,
                ) from None
    nul = raw.find(b"\x00")
    if nul >= 0:
        # Valid UTF-8, but no text format we read allows it: UTF-16 without a mark (every
        # other byte NUL in ASCII text) or a binary file.
        utf16 = len(raw) >= 4 and (
            (raw[1] == 0 and raw[3] == 0 and raw[0] != 0)
            or (raw[0] == 0 and raw[2] == 0 and raw[1] != 0)
        )
        what = (
            "UTF-16 without a byte-order mark? save it as UTF-8"
            if utf16
            else "binary data, not a text document"
        )
        raise error(f"contains a NUL byte at offset {nul}: {what}", path=display)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"not valid UTF-8 (bad byte at offset {exc.start})", path=display) from None


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


class _RefusedJson(ValueError):
    """A JSON value that parses but that we refuse (raised from the decoder's hooks)."""


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    built = dict(pairs)
    if len(built) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RefusedJson(f"duplicate key {key!r}")
            seen.add(key)
    return built


def _bounded_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise _RefusedJson(f"integer of {len(text)} digits is too large")
    return int(text)


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _RefusedJson(f"number {text[:20]}{'…' if len(text) > 20 else ''} overflows")
    return number


def _reject_constant(name: str) -> Any:
    # NaN/Infinity are not JSON; accepting them would let a score compare as neither high nor low.
    raise _RefusedJson(f"{name} is not valid JSON")


def _line_col(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{column}"


def parse_json_text(text: str, *, display: str, error: ErrorType = InputError) -> Any:
    """Decode JSON; any problem is one ``error`` with line:column (and "truncated" when the
    document ends early). Duplicate keys, non-finite and over-long numbers are refused."""
    import json

    try:
        value = json.loads(
            text,
            object_pairs_hook=_object_without_duplicates,
            parse_int=_bounded_int,
            parse_float=_finite_float,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as exc:
        at_end = exc.pos >= len(text.rstrip(_JSON_WHITESPACE))
        truncated = at_end or exc.msg.startswith("Unterminated string")
        reason = f"{exc.msg}; the document is truncated" if truncated else exc.msg
        raise error(
            f"invalid JSON: {reason}", path=display, where=f"{exc.lineno}:{exc.colno}"
        ) from None
    except _RefusedJson as exc:
        where = None
        if "digits" in str(exc) or "overflows" in str(exc):
            found = _LONG_INTEGER.search(text) or re.search(r"\d[eE]\+?\d{3,}", text)
            where = _line_col(text, found.start()) if found else None
        raise error(f"invalid JSON: {exc}", path=display, where=where) from None
    except ValueError as exc:
        raise error(f"invalid JSON: {exc}", path=display) from None
    except RecursionError:
        raise error("invalid JSON: nested too deeply", path=display) from None
    # A \uD800-\uDFFF escape not part of a pair decodes to a lone surrogate, which is not
    # Unicode: it would pass here and break every later encoding (an internal error, exit 3,
    # instead of bad input). Only a document with such an escape is walked.
    found = _SURROGATE_ESCAPE.search(text)
    if found is not None and _has_lone_surrogate(value):
        found = _first_unpaired(text) or found
        raise error(
            "invalid JSON: a string holds an unpaired UTF-16 surrogate escape "
            f"({found.group()}), which is not valid Unicode",
            path=display,
            where=_line_col(text, found.start()),
        )
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _first_unpaired(text: str) -> re.Match[str] | None:
    """The first surrogate escape that is not a high one directly followed by a low one."""
    paired_end = -1
    for found in _SURROGATE_ESCAPE.finditer(text):
        if found.start() == paired_end:  # the low half of a pair
            continue
        after = _SURROGATE_ESCAPE.match(text, found.end())
        high = found.group()[3].lower() in "89ab"
        if high and after is not None and after.group()[3].lower() in "cdef":
            paired_end = found.end()
            continue
        return found
    return None


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings: Iterable[str] = (item,)
        elif isinstance(item, dict):
            strings = item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for text in strings:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def check_depth(
    value: Any, *, display: str, error: ErrorType = InputError, max_depth: int = MAX_DEPTH
) -> None:
    """Refuse a decoded value nested more than ``max_depth`` containers deep (iteratively: a
    deep value must not exhaust the stack of the check meant to refuse it)."""
    stack: list[tuple[Any, int, YamlPath]] = [(value, 1, ())]
    while stack:
        item, depth, path = stack.pop()
        if depth > max_depth:
            raise error(
                f"{_short_path(path)}: nested more than {max_depth} levels deep",
                path=display,
            )
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(child, dict | list):
                    stack.append((child, depth + 1, (*path, str(key))))
        elif isinstance(item, list):
            for index, child in enumerate(item):
                if isinstance(child, dict | list):
                    stack.append((child, depth + 1, (*path, index)))


def format_path(path: YamlPath) -> str:
    """('outputs', 'json') -> outputs.json ; ('policies', 0) -> policies[0]."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "the top level"


def _short_path(path: YamlPath) -> str:
    return format_path(path[:6]) + ("…" if len(path) > 6 else "")


# ---------------------------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class YamlLimits:
    max_depth: int = MAX_DEPTH
    max_aliases: int = MAX_ALIASES
    max_nodes: int = MAX_NODES


def parse_yaml_text(
    text: str,
    *,
    display: str,
    error: ErrorType = InputError,
    limits: YamlLimits = YamlLimits(),
) -> tuple[Any, dict[YamlPath, int]]:
    """One YAML document, safely constructed, plus the 1-based line of every key and item.

    The node graph is composed first (no Python objects yet) and walked once with alias
    expansion counted, so every limit is enforced before anything is built.
    """
    lines: dict[YamlPath, int] = {}
    data = _parse_yaml(text, display=display, error=error, limits=limits, lines=lines)
    return data, lines


def parse_yaml_data(
    text: str,
    *,
    display: str,
    error: ErrorType = InputError,
    limits: YamlLimits = YamlLimits(),
) -> Any:
    """:func:`parse_yaml_text` without the line of every key: the same loader and the same
    checks, for inputs read in bulk (``check`` on a stream of thousands of documents)."""
    return _parse_yaml(text, display=display, error=error, limits=limits, lines=None)


def yaml_loader_name() -> str:
    """``CSafeLoader`` (libyaml) or ``SafeLoader`` (pure Python): the loader in use."""
    return str(_SafeLoader.__name__)


def _parse_yaml(
    text: str,
    *,
    display: str,
    error: ErrorType,
    limits: YamlLimits,
    lines: dict[YamlPath, int] | None,
) -> Any:
    try:
        loader = _SafeLoader(text)
    except yaml.YAMLError as exc:  # the pure-Python reader rejects control characters here
        raise error(f"invalid YAML: {exc}".splitlines()[0], path=display) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        walk = _Walk(loader, display=display, error=error, limits=limits, lines=lines)
        built = walk.node(node, (), 1)
        # Anything but plain maps, sequences and the core scalar types (merge keys, !!set,
        # !!binary, complex keys ...) is built by the loader's own constructor, after the walk
        # has checked it like everything else.
        return loader.construct_document(node) if built is _GENERAL else built
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = str(mark.line + 1) if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise error(f"invalid YAML: {problem}", path=display, where=where) from None
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {exc}".splitlines()[0], path=display) from None
    except RecursionError:
        raise error("invalid YAML: nested too deeply", path=display) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise error(f"invalid YAML value: {exc}", path=display) from None
    finally:
        loader.dispose()


# The walk's "not built here": the node needs the loader's general constructor.
_GENERAL: Any = object()
_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_PLAIN_INT = re.compile(r"-?[1-9][0-9]*|0")


# A key path as the walk passes it down: (parent, key) pairs, () at the top, flattened
# only when a line is recorded or an error names it (no tuple copied per node).
_Link = tuple[Any, ...]


def _flat(link: _Link) -> YamlPath:
    parts: list[str | int] = []
    while link:
        link, key = link
        parts.append(key)
    return tuple(reversed(parts))


class _Walk:
    """One pass over a composed node graph, in document order: record lines, refuse duplicate
    keys, count aliases and expanded nodes, bound depth, check the scalars whose construction
    can fail (timestamps, integers) and, where the graph holds only plain maps, sequences and
    core scalars, build the value as the safe constructor would (one pass instead of two).

    Recursion is bounded: depth is checked before a node's children are visited, so the walk
    never goes deeper than ``limits.max_depth`` frames (64 by default).
    """

    def __init__(
        self,
        loader: Any,
        *,
        display: str,
        error: ErrorType,
        limits: YamlLimits,
        lines: dict[YamlPath, int] | None,
    ) -> None:
        self.loader = loader
        self.display = display
        self.error = error
        self.limits = limits
        self.lines = lines
        self.seen: set[int] = set()
        self.aliases = 0
        self.nodes = 0
        self.bool_values: dict[str, bool] = loader.bool_values

    def _fail(self, message: str, node: yaml.Node | None = None) -> GatekeeperError:
        where = str(node.start_mark.line + 1) if node is not None else None
        return self.error(message, path=self.display, where=where)

    def node(self, node: yaml.Node, path: _Link, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise self._fail(f"YAML expands to more than {self.limits.max_nodes} values (aliases?)")
        if self.lines is not None:
            self.lines.setdefault(_flat(path), node.start_mark.line + 1)
        if depth > self.limits.max_depth:
            raise self._fail(
                f"{_short_path(_flat(path))}: nested more than {self.limits.max_depth} levels deep",
                node,
            )
        key = id(node)
        if key in self.seen:
            self.aliases += 1
            if self.aliases > self.limits.max_aliases:
                raise self._fail(
                    f"document expands to more than {self.limits.max_aliases} YAML alias uses",
                    node,
                )
        else:
            self.seen.add(key)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            items = [self.node(item, (path, i), depth + 1) for i, item in enumerate(node.value)]
            if node.tag != _SEQ_TAG or any(item is _GENERAL for item in items):
                return _GENERAL
            return items
        return _GENERAL  # pragma: no cover - the composer makes only the three kinds

    def mapping(self, node: yaml.MappingNode, path: _Link, depth: int) -> Any:
        keys: set[str] = set()
        built: dict[Any, Any] | None = {} if node.tag == _MAP_TAG else None
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self.node(value_node, path, depth)
                built = None
                continue
            is_scalar = isinstance(key_node, yaml.ScalarNode)
            name = str(key_node.value) if is_scalar else "?"
            child = (path, name)
            if is_scalar:
                if name in keys:
                    raise self._fail(f"duplicate key '{name}'", key_node)
                keys.add(name)
                key = self.scalar(key_node, child)
            else:
                self.node(key_node, child, depth + 1)
                key = _GENERAL
            if self.lines is not None:
                self.lines[_flat(child)] = key_node.start_mark.line + 1
            value = self.node(value_node, child, depth + 1)
            if built is not None:
                if key is _GENERAL or value is _GENERAL:
                    built = None
                else:
                    built[key] = value
        return _GENERAL if built is None else built

    def scalar(self, node: yaml.ScalarNode, path: _Link) -> Any:
        tag = node.tag
        value = node.value
        if tag == _STR_TAG:
            return value
        if tag == _INT_TAG:
            digits = sum(ch.isdigit() for ch in str(value))
            if digits > MAX_INT_DIGITS:
                raise self._fail(
                    f"{format_path(_flat(path))}: integer of {digits} digits is too large", node
                )
            if _PLAIN_INT.fullmatch(value):
                return int(value)
            return self.loader.construct_yaml_int(node)
        if tag == _NULL_TAG:
            return None
        if tag == _BOOL_TAG:
            found = self.bool_values.get(str(value).lower())
            if found is None:
                raise self._fail(
                    f"{format_path(_flat(path))}: {value!r} is not true or false", node
                )
            return found
        if tag == _FLOAT_TAG:
            if len(str(value)) > 64:
                where = format_path(_flat(path))
                raise self._fail(
                    f"{where}: number of {len(str(value))} characters is too long", node
                )
            return self.loader.construct_yaml_float(node)
        if tag == _TIMESTAMP_TAG:
            try:
                return self.loader.construct_yaml_timestamp(node)
            except (ValueError, OverflowError) as exc:
                raise self._fail(
                    f"{format_path(_flat(path))}: {value!r} is not a valid date or time ({exc})",
                    node,
                ) from None
        return _GENERAL


def to_json_compatible(
    value: Any, *, display: str, error: ErrorType = InputError, what: str = "value"
) -> Any:
    """YAML data as JSON values, which is all a Rego engine takes.

    Unquoted ``2026-11-01`` (a date) and ``2026-11-01T10:00:00Z`` (a datetime) become ISO 8601
    strings (a datetime without a zone is UTC, as YAML specifies); non-string keys become
    their text. Anything else without a JSON form (``!!binary``, ``!!set``, NaN, infinity)
    raises ``error``. Call on a document already bounded by :func:`parse_yaml_text`.
    """

    def convert(item: Any) -> Any:
        if item is None or isinstance(item, str | bool | int):
            return item
        if isinstance(item, float):
            if not math.isfinite(item):
                raise error(f"{what} {item} has no JSON form", path=display)
            return item
        if isinstance(item, dict):
            return {_json_key(k): convert(v) for k, v in item.items()}
        if isinstance(item, list):
            return [convert(v) for v in item]
        if isinstance(item, datetime):
            return (item if item.tzinfo else item.replace(tzinfo=UTC)).isoformat()
        if isinstance(item, date):
            return item.isoformat()
        raise error(f"{what} of YAML type {type(item).__name__} has no JSON form", path=display)

    def _json_key(key: Any) -> str:
        if isinstance(key, str):
            return key
        if isinstance(key, datetime | date):
            return str(convert(key))
        if key is None or isinstance(key, bool | int | float):
            import json

            return json.dumps(key)
        raise error(f"{what} key of YAML type {type(key).__name__} has no JSON form", path=display)

    try:
        return convert(value)
    except RecursionError:
        raise error("nested too deeply", path=display) from None


def load_yaml_file(
    path: str | os.PathLike[str],
    *,
    display: str | None = None,
    error: ErrorType = InputError,
    max_bytes: int = MAX_SMALL_FILE_BYTES,
    limits: YamlLimits = YamlLimits(),
) -> tuple[Any, dict[YamlPath, int]]:
    """Read one bounded YAML (or JSON) file: data and the line of every key."""
    shown = display if display is not None else os.fspath(path)
    raw = read_regular_file(path, max_bytes=max_bytes, display=shown, error=error)
    return parse_yaml_text(
        decode_utf8(raw, display=shown, error=error), display=shown, error=error, limits=limits
    )
