"""Read one evidence file safely into a :class:`ParsedDocument`.

Everything a hostile or broken file can do is turned into one :class:`InputError` line naming
the file: too big, empty, unreadable, not UTF-8, neither JSON nor XML, malformed (with
line:column), XML with a DTD or entities (billion laughs, XXE), nested too deeply.
"""

from __future__ import annotations

import gc
import hashlib
import json
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError

from gatekeeper.errors import InputError
from gatekeeper.evidence.interface import ParsedDocument

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_JSON_WHITESPACE = " \t\r\n"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a burst of allocation.

    Reading evidence allocates millions of containers (decoded JSON, then models) that hold no
    reference cycles, so the collector frees nothing, yet each of its full passes rescans the
    whole growing heap: on a 20,000-component release that was ~0.35 s of a ~0.8 s ingestion.
    Reference counting still frees everything as usual; cycles wait for the collector's next
    pass after the block. Nests: only the outermost block re-enables the collector.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_document(path: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedDocument:
    """Read, bound, decode and parse one file. Raises InputError naming ``path``."""
    raw = _read_bytes(path, max_bytes)
    digest = hashlib.sha256(raw).hexdigest()
    text = _decode(path, raw)
    stripped = text.lstrip(_JSON_WHITESPACE)
    if not stripped:
        raise InputError("file is empty", path=path)
    first = stripped[0]
    syntax: Literal["json", "xml"]
    if first in "{[":
        syntax, data = "json", parse_json(path, text)
    elif first == "<":
        syntax, data = "xml", _parse_xml(path, stripped)
    else:
        raise InputError(
            f"not JSON or XML (starts with {first!r}); evidence must be a JSON or XML document",
            path=path,
        )
    return ParsedDocument(path=path, sha256=digest, syntax=syntax, data=data, size=len(raw))


def _read_bytes(path: str, max_bytes: int) -> bytes:
    file = Path(path)
    try:
        info = file.stat()
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError("is a directory, not an evidence file", path=path)
    if not stat.S_ISREG(info.st_mode):
        raise InputError("is not a regular file", path=path)
    if info.st_size > max_bytes:
        raise InputError(
            f"file is {info.st_size} bytes, over the limit of {max_bytes} bytes", path=path
        )
    try:
        with file.open("rb") as handle:
            # Read one byte past the bound: the file may have grown since stat().
            raw = handle.read(max_bytes + 1)
    except PermissionError:
        raise InputError("cannot read: permission denied", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    if len(raw) > max_bytes:
        raise InputError(f"file is over the limit of {max_bytes} bytes", path=path)
    if not raw.strip():
        raise InputError("file is empty", path=path)
    return raw


def _decode(path: str, raw: bytes) -> str:
    body = raw[len(_UTF8_BOM) :] if raw.startswith(_UTF8_BOM) else raw
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not valid UTF-8 (bad byte at offset {exc.start}); evidence must be UTF-8 text",
            path=path,
        ) from None


def _reject_constant(name: str) -> Any:
    # NaN/Infinity are not JSON; accepting them would let a score compare as neither high nor low.
    raise ValueError(f"{name} is not valid JSON")


def parse_json(path: str, text: str) -> Any:
    """Decode JSON text read from ``path``; any problem is one InputError with line:column
    (and "truncated" when the document ends early). Shared with `gatekeeper check`."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        at_end = exc.pos >= len(text.rstrip(_JSON_WHITESPACE))
        truncated = at_end or exc.msg.startswith("Unterminated string")
        reason = f"{exc.msg}; the document is truncated" if truncated else exc.msg
        raise InputError(
            f"invalid JSON: {reason}", path=path, where=f"{exc.lineno}:{exc.colno}"
        ) from None
    except ValueError as exc:
        raise InputError(f"invalid JSON: {exc}", path=path) from None
    except RecursionError:
        raise InputError("invalid JSON: nested too deeply", path=path) from None


class _StartLines:
    """Parser target that records the line each element starts on, in document order."""

    def __init__(self) -> None:
        self.lines: list[int] = []
        self.parser: Any = None

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.lines.append(self.parser.parser.CurrentLineNumber)

    def end(self, tag: str) -> None:
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> None:
        pass


def element_start_lines(doc: ParsedDocument) -> list[int] | None:
    """Start line of every element of an XML evidence file, in document order.

    Re-reads the file with the same bounds and defusing as :func:`read_document`; None when
    it no longer has the digest it was read with (or cannot be read again).
    """
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import DefusedXMLParser

    try:
        raw = _read_bytes(doc.path, max(doc.size, 1))
    except InputError:
        return None
    if hashlib.sha256(raw).hexdigest() != doc.sha256:
        return None
    target = _StartLines()
    parser = DefusedXMLParser(
        target=target, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    target.parser = parser
    try:
        parser.feed(_decode(doc.path, raw).lstrip(_JSON_WHITESPACE))
        parser.close()
    except (InputError, DefusedXmlException, ParseError, ValueError, RecursionError):
        return None
    return target.lines


def _parse_xml(path: str, text: str) -> Element:
    # Imported here: most evidence is JSON, and a gate run should not pay for XML parsers.
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring as defused_fromstring

    try:
        root: Element = defused_fromstring(
            text, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        # DTDs are forbidden outright: entity bombs and external entities (XXE) both need one.
        raise InputError(
            f"XML with a DTD, entity declaration or external reference is not accepted ({exc})",
            path=path,
        ) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise InputError(f"invalid XML: {exc}", path=path, where=f"{line}:{column}") from None
    except RecursionError:
        raise InputError("invalid XML: nested too deeply", path=path) from None
    except ValueError as exc:
        raise InputError(f"invalid XML: {exc}", path=path) from None
    return root
