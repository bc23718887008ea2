"""A small scanner of Rego v1 source: the ``package`` line and the top-level rule heads.

It is not a parser. It knows just enough of the lexical structure (comments, strings, raw
strings, bracket depth) to tell which lines start a top-level statement, because rules in the
policies we load start at column 0. The engine remains the judge of whether the source is valid;
this scanner only has to find names and lines for messages, metadata and test discovery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gatekeeper.errors import PolicyError

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PACKAGE_RE = re.compile(r"^package\s+(?P<path>\S.*?)\s*(?:#.*)?$")
_HEAD_RE = re.compile(rf"^(?P<default>default\s+)?(?P<name>{_IDENT})(?P<rest>.*)$")
# Words that can appear at column 0 without starting a rule.
_NOT_RULES = frozenset({"package", "import", "else", "some", "every", "not", "with", "as"})


@dataclass(frozen=True)
class RuleDefinition:
    """One definition of a top-level rule (a name may be defined several times)."""

    name: str
    line: int
    is_default: bool = False
    is_function: bool = False


@dataclass(frozen=True)
class ScannedSource:
    package: str
    package_line: int
    definitions: tuple[RuleDefinition, ...]

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Distinct rule names (functions excluded) in order of first appearance."""
        seen: dict[str, None] = {}
        for d in self.definitions:
            if not d.is_function:
                seen.setdefault(d.name, None)
        return tuple(seen)

    def first_line(self, name: str) -> int | None:
        for d in self.definitions:
            if d.name == name:
                return d.line
        return None


def top_level_lines(source: str) -> list[tuple[int, str]]:
    """(1-based line number, text) of every line that starts outside any bracket or string.

    Braces, brackets and parentheses inside strings, raw strings and comments do not count.
    """
    result: list[tuple[int, str]] = []
    depth = 0
    in_raw = False  # inside a `raw string`, which may span lines
    lines = source.split("\n")
    for number, text in enumerate(lines, start=1):
        if depth == 0 and not in_raw:
            result.append((number, text))
        i = 0
        in_str = False
        while i < len(text):
            ch = text[i]
            if in_raw:
                if ch == "`":
                    in_raw = False
            elif in_str:
                if ch == "\\":
                    i += 1  # skip the escaped character
                elif ch == '"':
                    in_str = False
            elif ch == "#":
                break  # rest of the line is a comment
            elif ch == '"':
                in_str = True
            elif ch == "`":
                in_raw = True
            elif ch in "{[(":
                depth += 1
            elif ch in "}])":
                # Unbalanced closers are the engine's business; never go negative here.
                depth = max(0, depth - 1)
            i += 1
    return result


def _normalize_package(raw: str) -> str:
    # `a.b["c-d"]` -> `a.b.c-d`: keep the segments as written, minus quotes and brackets.
    text = raw.strip()
    text = re.sub(r'\[\s*"([^"]*)"\s*\]', r".\1", text)
    return text.strip(".")


def scan_rego(source: str, path: str) -> ScannedSource:
    """Find the package and every top-level rule definition of a module.

    Raises PolicyError when there is no ``package`` line.
    """
    package: str | None = None
    package_line = 0
    definitions: list[RuleDefinition] = []
    for number, text in top_level_lines(source):
        if not text or text[0] in " \t#":
            continue
        if package is None:
            m = _PACKAGE_RE.match(text)
            if m:
                package = _normalize_package(m.group("path"))
                package_line = number
                continue
        head = _HEAD_RE.match(text)
        if not head or head.group("name") in _NOT_RULES:
            continue
        rest = head.group("rest")
        definitions.append(
            RuleDefinition(
                name=head.group("name"),
                line=number,
                is_default=bool(head.group("default")),
                is_function=rest.startswith("("),
            )
        )
    if package is None:
        raise PolicyError("no `package` line", path=path)
    return ScannedSource(package, package_line, tuple(definitions))


# A call: a (dotted) name directly followed by '('. Not preceded by a name character, a dot or
# a closing bracket, so `x.y[0].f(` and `a.b(` after `]` are not taken for builtins.
_CALL_RE = re.compile(rf"(?<![A-Za-z0-9_.\]\)])(?P<name>{_IDENT}(?:\.{_IDENT})*)\s*\(")
_IMPORT_RE = re.compile(
    rf"^import\s+(?P<ref>{_IDENT}(?:\.{_IDENT})*)(?:\s+as\s+(?P<alias>{_IDENT}))?", re.M
)
# Words followed by '(' that are syntax, not calls.
_KEYWORDS = frozenset(
    {"not", "if", "in", "contains", "else", "some", "every", "with", "as", "default", "import"}
)


def blank_literals(source: str) -> str:
    """``source`` with comments and the contents of strings and raw strings replaced by spaces,
    line structure kept, so a scan for code never sees text inside a literal."""
    out: list[str] = []
    in_str = in_raw = in_comment = False
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "\n":
            in_comment = False
            in_str = False  # an unterminated string is the engine's error; stop blanking
            out.append(ch)
        elif in_comment:
            out.append(" ")
        elif in_raw:
            in_raw = ch != "`"
            out.append("`" if not in_raw else " ")
        elif in_str:
            if ch == "\\" and i + 1 < len(source) and source[i + 1] != "\n":
                out.append("  ")
                i += 1
            else:
                in_str = ch != '"'
                out.append('"' if not in_str else " ")
        elif ch == "#":
            in_comment = True
            out.append(" ")
        elif ch in '"`':
            in_str, in_raw = ch == '"', ch == "`"
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def function_calls(source: str, defined: frozenset[str] = frozenset()) -> list[tuple[str, int]]:
    """(name, 1-based line) of every call in ``source`` that is not to an imported ref
    (``data.…``, an import alias) or to a rule named in ``defined`` (the package's own), i.e.
    the candidates for builtin calls. A definition ``f(x) := …`` counts as a call of ``f``,
    which ``defined`` then excludes."""
    code = blank_literals(source)
    local: set[str] = {"data", "input"}
    for m in _IMPORT_RE.finditer(code):
        local.add(m.group("alias") or m.group("ref").rsplit(".", 1)[-1])
    calls: list[tuple[str, int]] = []
    for number, text in enumerate(code.split("\n"), start=1):
        for m in _CALL_RE.finditer(text):
            name = m.group("name")
            head = name.split(".", 1)[0]
            if name in _KEYWORDS or head in local or name in defined:
                continue
            calls.append((name, number))
    return calls
