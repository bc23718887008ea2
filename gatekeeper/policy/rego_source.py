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
