"""The one bounded path every conftest input goes through: size, nesting depth, value count.

Every parser of :mod:`gatekeeper.conftest.parsers` receives its text from :func:`bounded_text`
and hands its result to :func:`bounded_document`, so the limits are enforced in one place
whatever the format (a YAML alias bomb, a Jsonnet program that builds a huge value, an XML
file nested ten thousand levels deep). Text is decoded by the project's shared bounded loader
(:mod:`gatekeeper.loading`, which also parses every YAML input, conftest's included); the
limits here are conftest's own (configuration files nest deeper than evidence does).
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any

from gatekeeper.errors import InputError
from gatekeeper.loading import decode_utf8

# conftest reads config files, not SBOM dumps; 64 MiB is far above any real one.
MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 512
# A document of a few KB can expand to billions of values (YAML aliases, Jsonnet); bound
# what we are willing to hand to an engine.
MAX_DOCUMENT_VALUES = 2_000_000


def bounded_text(raw: bytes, shown: str, *, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of an input (BOM dropped, as conftest does), refusing oversized ones."""
    if len(raw) > max_bytes:
        raise InputError(f"file is over the limit of {max_bytes} bytes", path=shown)
    return decode_utf8(raw, display=shown)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    return str(key)


def bounded_document(value: Any, shown: str, *, budget: int = MAX_DOCUMENT_VALUES) -> Any:
    """A JSON-compatible copy of a parsed value, refusing alias bombs, cycles and deep nesting.

    Maps may have non-string keys (converted to strings, as conftest's libraries do) and
    dates (written in ISO 8601 form).
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
        if depth > MAX_DEPTH:
            raise InputError(f"document is nested deeper than {MAX_DEPTH} levels", path=shown)
        if isinstance(item, dict):
            return {_json_key(k): convert(v, depth + 1) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [convert(v, depth + 1) for v in item]
        if isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise InputError(f"{item} has no JSON form", path=shown)
            return item
        if isinstance(item, datetime | date | time):
            return item.isoformat()
        if isinstance(item, bytes):
            return item.decode("utf-8", "replace")
        return str(item)

    try:
        return convert(value, 0)
    except RecursionError:
        raise InputError("document is nested too deeply", path=shown) from None
