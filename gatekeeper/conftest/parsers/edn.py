"""A small EDN reader (no maintained Python EDN library reads tagged literals it does not know,
such as ``#duration``), producing what conftest gives policies after its cleanup
(parser/edn): map keys and every scalar that is not a string become their Go ``%v`` text —
``:env``, ``5432``, ``true``, ``<nil>`` — lists, vectors and sets become arrays.
"""

from __future__ import annotations

import re
from typing import Any

from gatekeeper.errors import InputError

_DELIMITERS = set('()[]{}"; \t\r\n,')
_TOKEN_RE = re.compile(r"[^()\[\]{}\"; \t\r\n,]+")
_MAX_DEPTH = 256


class _Reader:
    def __init__(self, text: str, shown: str) -> None:
        self.text = text
        self.pos = 0
        self.shown = shown

    def fail(self, message: str) -> InputError:
        line = self.text.count("\n", 0, self.pos) + 1
        column = self.pos - (self.text.rfind("\n", 0, self.pos) + 1) + 1
        return InputError(f"invalid EDN: {message}", path=self.shown, where=f"{line}:{column}")

    def skip(self) -> None:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch in " \t\r\n,":
                self.pos += 1
            elif ch == ";":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif self.text.startswith("#_", self.pos):
                self.pos += 2
                self.value(0)  # discarded form
            else:
                return

    def value(self, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail("nested too deeply")
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of input")
        ch = self.text[self.pos]
        if ch in "([":
            return self.sequence(")" if ch == "(" else "]", depth)
        if ch == "{":
            self.pos += 1
            items = self.items("}", depth)
            if len(items) % 2:
                raise self.fail("map with an odd number of forms")
            return {_text(items[i]): items[i + 1] for i in range(0, len(items), 2)}
        if self.text.startswith("#{", self.pos):
            self.pos += 1
            return self.sequence("}", depth)
        if ch == '"':
            return self.string()
        if ch == "#":
            self.pos += 1
            tag = self.token()
            return self.value(depth + 1) if tag else self.fail("empty tag")
        if ch == "\\":
            self.pos += 1
            return self.token() or self.fail("empty character")
        if ch in ")]}":
            raise self.fail(f"unexpected {ch!r}")
        return self.scalar(self.token())

    def sequence(self, close: str, depth: int) -> list[Any]:
        self.pos += 1
        return self.items(close, depth)

    def items(self, close: str, depth: int) -> list[Any]:
        found: list[Any] = []
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise self.fail(f"missing {close!r}")
            if self.text[self.pos] == close:
                self.pos += 1
                return found
            found.append(self.value(depth + 1))

    def string(self) -> str:
        out: list[str] = []
        self.pos += 1
        escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "\\" and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                out.append(escapes.get(nxt, nxt))
                self.pos += 2
                continue
            out.append(ch)
            self.pos += 1
        raise self.fail("unterminated string")

    def token(self) -> str:
        match = _TOKEN_RE.match(self.text, self.pos)
        if not match:
            return ""
        self.pos = match.end()
        return match.group(0)

    def scalar(self, token: str) -> Any:
        if not token:
            raise self.fail("expected a value")
        return _Scalar(token)


class _Scalar(str):
    """A non-string EDN scalar, kept as its text (conftest prints it with ``%v``)."""


def _text(value: Any) -> str:
    if isinstance(value, str):
        return _scalar_text(value) if isinstance(value, _Scalar) else value
    return str(value)


def _scalar_text(token: str) -> str:
    if token == "nil":  # noqa: S105 - EDN nil, not a password
        return "<nil>"
    if re.fullmatch(r"[+-]?\d+N?", token):
        return str(int(token.rstrip("N")))
    return token


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, _Scalar):
        return _scalar_text(value)
    return value


def parse_edn(text: str, shown: str) -> Any:
    reader = _Reader(text, shown)
    value = reader.value(0)
    reader.skip()
    if reader.pos != len(text):
        raise reader.fail("more than one top-level form")
    return _clean(value)
