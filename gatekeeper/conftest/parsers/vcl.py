"""A parser for Varnish VCL declarations as conftest reads them (parser/vcl over
KeisukeYamashita/go-vcl): ``backend NAME { .key = value; }`` becomes
``{"backend": {"NAME": {"key": "value"}}}``, ``acl NAME { "ip"; }`` a list of entries,
other top-level blocks (``sub``) their text. Values are strings as written (quotes removed).
There is no Python VCL library.
"""

from __future__ import annotations

import re
from typing import Any

from gatekeeper.conftest.parsers import Source
from gatekeeper.errors import InputError

_HEAD_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z_][A-Za-z0-9_.-]*)\s*\{")
_ASSIGN_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\"[^\"]*\"|[^;]*?)\s*;")


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"(?m)(//|#).*$", "", text)


def _block_end(text: str, start: int, source: Source) -> int:
    depth = 1
    index = start
    in_string = False
    while index < len(text):
        ch = text[index]
        if ch == '"':
            in_string = not in_string
        elif not in_string and ch == "{":
            depth += 1
        elif not in_string and ch == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    line = text.count("\n", 0, start) + 1
    raise InputError("decode vcl: unterminated block", path=source.shown, where=str(line))


class VclParser:
    def parse(self, text: str, source: Source) -> Any:
        text = _strip_comments(text)
        result: dict[str, Any] = {}
        pos = 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                return result
            if text.startswith("vcl ", pos):  # `vcl 4.0;`
                end = text.find(";", pos)
                pos = len(text) if end < 0 else end + 1
                continue
            head = _HEAD_RE.match(text, pos)
            if head is None:
                line = text.count("\n", 0, pos) + 1
                raise InputError("decode vcl: expected a block", path=source.shown, where=str(line))
            kind, name = head.group(1), head.group(2)
            end = _block_end(text, head.end(), source)
            body = text[head.end() : end]
            pos = end + 1
            if kind == "acl":
                entries = [e.strip().strip('"') for e in body.split(";") if e.strip()]
                value: Any = entries
            elif kind == "backend" or kind == "probe":
                value = {m.group(1): m.group(2).strip('"') for m in _ASSIGN_RE.finditer(body)}
            else:
                value = body.strip()
            result.setdefault(kind, {})[name] = value
