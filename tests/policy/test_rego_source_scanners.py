"""The Rego source scanners (one compiled pattern) agree with a plain character loop.

`top_level_lines` finds rule heads, packages and test names; `blank_literals` hides strings and
comments from the builtin-call scan. Both were loops over every character; the references
below are those loops, kept to check the pattern-based scanners line for line on every
policy of the built-in library and on fuzzed sources full of quotes, escapes, raw strings,
comments and unbalanced brackets.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gatekeeper.policy.rego_source import blank_literals, top_level_lines

POLICIES = sorted((Path(__file__).resolve().parents[2] / "policies").rglob("*.rego"))


def reference_top_level_lines(source: str) -> list[tuple[int, str]]:
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


def reference_blank_literals(source: str) -> str:
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


def _fuzzed(count: int) -> list[str]:
    rng = random.Random(5)  # noqa: S311 - reproducible test data, not secrets
    pieces = ['"', "`", "#", "\\", "\n", "{", "}", "[", "]", "(", ")", "a", " ", "x := 1", '\\"']
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(count)]


SOURCES = [path.read_text("utf-8") for path in POLICIES] + _fuzzed(4000)


def test_the_library_is_scanned() -> None:
    assert len(POLICIES) > 40


@pytest.mark.parametrize("source", SOURCES)
def test_scanners_agree_with_the_character_loops(source: str) -> None:
    assert top_level_lines(source) == reference_top_level_lines(source)
    assert blank_literals(source) == reference_blank_literals(source)
