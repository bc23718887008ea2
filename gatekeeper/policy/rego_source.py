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


# The lexical tokens the scanners care about; everything between them is plain code. A string
# ends at its closing quote or at the end of its line (an unterminated string is the engine's
# error), a backslash escapes the next character of the line; a raw string may span lines; a
# comment runs to the end of its line. Scanning with one compiled pattern instead of a Python
# loop per character keeps loading the built-in library (~90 modules, scanned twice) cheap.
_TOKEN_RE = re.compile(r'"(?:[^"\\\n]|\\[^\n]?)*"?|`[^`]*`?|#[^\n]*|[{}\[\]()]|\n')
_OPENERS = frozenset("{[(")


def top_level_lines(source: str) -> list[tuple[int, str]]:
    """(1-based line number, text) of every line that starts outside any bracket or string.

    Braces, brackets and parentheses inside strings, raw strings and comments do not count.
    """
    lines = source.split("\n")
    top = [0]  # 0-based indexes of the lines that start at depth 0, outside a raw string
    depth = 0
    line = 0
    for match in _TOKEN_RE.finditer(source):
        token = match.group()
        first = token[0]
        if first == "\n":
            line += 1
            if depth == 0:
                top.append(line)
        elif first == "`":
            line += token.count("\n")  # lines starting inside a raw string are not top level
        elif first in _OPENERS:
            depth += 1
        elif first in "}])":
            # Unbalanced closers are the engine's business; never go negative here.
            depth = max(0, depth - 1)
    return [(index + 1, lines[index]) for index in top]


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


_LITERAL_RE = re.compile(
    r'"(?P<string>(?:[^"\\\n]|\\[^\n]?)*)(?P<closed>")?|`(?P<raw>[^`]*)(?P<raw_closed>`)?|#[^\n]*'
)
_NOT_NEWLINE_RE = re.compile(r"[^\n]")


def _blank(match: re.Match[str]) -> str:
    text = match.group()
    if text[0] == "#":
        return " " * len(text)
    if text[0] == '"':
        return '"' + " " * len(match["string"]) + ('"' if match["closed"] else "")
    # A raw string keeps its line breaks, so line numbers after it stay right.
    return "`" + _NOT_NEWLINE_RE.sub(" ", match["raw"]) + ("`" if match["raw_closed"] else "")


def blank_literals(source: str) -> str:
    """``source`` with comments and the contents of strings and raw strings replaced by spaces,
    line structure kept, so a scan for code never sees text inside a literal."""
    return _LITERAL_RE.sub(_blank, source)


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
