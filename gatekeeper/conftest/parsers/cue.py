"""A parser for the data subset of CUE (conftest parser/cue exports the file to JSON with
cuelang.org/go). There is no Python CUE implementation; this reads what a configuration
file written as data uses: ``package``/``import`` lines, structs with ``a: b: c: value``
shorthand, lists, strings (``"..."``, ``#"..."#`` not), numbers, ``true``/``false``/``null``,
``//`` comments. Constraints, unification (``&``, ``|``), references, comprehensions and
definitions are refused with a clear error rather than exported wrongly.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gatekeeper.conftest.parsers import Source
from gatekeeper.errors import InputError

_TOKEN_RE = re.compile(
    r"""(?P<ws>[ \t\r]+)|(?P<nl>\n)|(?P<comment>//[^\n]*)
    |(?P<string>"(?:[^"\\\n]|\\.)*")
    |(?P<number>-?(?:0|[1-9][0-9_]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    |(?P<ident>[A-Za-z_$#][A-Za-z0-9_$]*)
    |(?P<punct>[{}\[\]:,])
    |(?P<other>.)""",
    re.VERBOSE,
)
_MAX_DEPTH = 256


class _Cue:
    def __init__(self, text: str, source: Source) -> None:
        self.source = source
        self.tokens: list[tuple[str, str, int]] = []
        line = 1
        for match in _TOKEN_RE.finditer(text):
            kind = match.lastgroup or "other"
            if kind == "nl":
                self.tokens.append(("nl", "\n", line))
                line += 1
            elif kind not in ("ws", "comment"):
                self.tokens.append((kind, match.group(0), line))
        self.tokens.append(("eof", "", line))
        self.pos = 0

    def fail(self, message: str) -> InputError:
        line = self.tokens[min(self.pos, len(self.tokens) - 1)][2]
        return InputError(f"cue: {message}", path=self.source.shown, where=str(line))

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.pos]

    def skip_newlines(self) -> None:
        while self.peek()[0] == "nl":
            self.pos += 1

    def file(self) -> dict[str, Any]:
        self.skip_newlines()
        if self.peek()[1] == "package":
            self.pos += 2
        self.skip_newlines()
        while self.peek()[1] == "import":
            raise self.fail("imports are not supported")
        return self.fields("eof", 0)

    def fields(self, close: str, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            self.skip_newlines()
            kind, text, _ = self.peek()
            if kind == close or (close == "}" and text == "}"):
                if close == "}":
                    self.pos += 1
                return result
            if text == ",":
                self.pos += 1
                continue
            self.field(result, depth)
            nxt = self.peek()
            if nxt[0] not in ("nl", "eof") and nxt[1] not in (",", "}"):
                raise self.fail(f"unexpected {nxt[1]!r} after a field")

    def label(self) -> str:
        kind, text, _ = self.peek()
        self.pos += 1
        if kind == "ident" and not text.startswith("#"):
            return text
        if kind == "string":
            return str(json.loads(text))
        raise self.fail(f"expected a field name, found {text!r}")

    def field(self, into: dict[str, Any], depth: int) -> None:
        name = self.label()
        if self.peek()[1] != ":":
            raise self.fail(f"expected ':' after {name!r} (only data fields are supported)")
        self.pos += 1
        if self.peek()[0] in ("ident", "string") and self.tokens[self.pos + 1][1] == ":":
            nested: dict[str, Any] = {}
            existing = into.get(name)
            if isinstance(existing, dict):
                nested = existing
            self.field(nested, depth + 1)
            into[name] = nested
            return
        value = self.value(depth + 1)
        existing = into.get(name)
        if isinstance(existing, dict) and isinstance(value, dict):
            existing.update(value)  # CUE unifies repeated struct fields
        elif name in into and existing != value:
            raise self.fail(f"conflicting values for {name!r}")
        else:
            into[name] = value

    def value(self, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail("nested too deeply")
        kind, text, _ = self.peek()
        self.pos += 1
        if text == "{":
            return self.fields("}", depth)
        if text == "[":
            items: list[Any] = []
            while True:
                self.skip_newlines()
                if self.peek()[1] == "]":
                    self.pos += 1
                    return items
                items.append(self.value(depth + 1))
                self.skip_newlines()
                if self.peek()[1] == ",":
                    self.pos += 1
                elif self.peek()[1] != "]":
                    raise self.fail("expected ',' or ']' in a list")
        if kind == "string":
            return json.loads(text)
        if kind == "number":
            number = text.replace("_", "")
            return float(number) if any(c in number for c in ".eE") else int(number)
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        raise self.fail(f"{text!r} is not a concrete value (only data is supported)")


class CueParser:
    def parse(self, text: str, source: Source) -> Any:
        parser = _Cue(text, source)
        result = parser.file()
        return result
