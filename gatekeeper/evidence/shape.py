"""Typed access to decoded JSON that fails with the file and a JSON pointer.

Readers never index raw dicts directly: every access goes through :class:`Shape`, so a value of
the wrong type or a missing required field becomes one InputError line such as
``sbom.json:/components/3/name: required string is missing`` instead of a KeyError.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

from gatekeeper.errors import InputError

JsonObject = dict[str, Any]


def pointer(parent: str, key: str | int) -> str:
    """Append one reference token to a JSON pointer (RFC 6901 escaping)."""
    if isinstance(key, int) or ("~" not in key and "/" not in key):
        # The common case, kept cheap: readers build a pointer for every array element.
        return f"{parent}/{key}"
    return f"{parent}/{key.replace('~', '~0').replace('/', '~1')}"


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class Shape:
    """Shape checks bound to one evidence file."""

    def __init__(self, path: str, kind: str):
        self.path = path
        self.kind = kind

    def fail(self, where: str, message: str) -> NoReturn:
        raise InputError(f"{self.kind}: {message}", path=self.path, where=where or "/")

    # -- whole values -------------------------------------------------------------------------

    def obj(self, value: object, where: str) -> JsonObject:
        if not isinstance(value, dict):
            self.fail(where, f"expected an object, found {_type_name(value)}")
        return value

    def arr(self, value: object, where: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(where, f"expected an array, found {_type_name(value)}")
        return value

    # -- fields of an object ------------------------------------------------------------------

    def get_obj(self, parent: JsonObject, key: str, where: str) -> JsonObject | None:
        value = parent.get(key)
        return None if value is None else self.obj(value, pointer(where, key))

    def get_arr(self, parent: JsonObject, key: str, where: str) -> list[Any]:
        value = parent.get(key)
        return [] if value is None else self.arr(value, pointer(where, key))

    def get_str(self, parent: JsonObject, key: str, where: str) -> str | None:
        value = parent.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(pointer(where, key), f"expected a string, found {_type_name(value)}")
        return value or None

    def req_str(self, parent: JsonObject, key: str, where: str) -> str:
        value = self.get_str(parent, key, where)
        if value is None:
            self.fail(pointer(where, key), "required string is missing or empty")
        return value

    def get_text(self, parent: JsonObject, key: str, where: str) -> str | None:
        """A string, or a number written unquoted (versions such as 1.0 often are)."""
        value = parent.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return self.get_str(parent, key, where)

    def get_num(self, parent: JsonObject, key: str, where: str) -> float | None:
        """A number; numeric strings are accepted (some tools quote scores)."""
        value = parent.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            self.fail(pointer(where, key), "expected a number, found boolean")
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                self.fail(pointer(where, key), f"expected a number, found {value!r}")
        elif isinstance(value, int | float):
            number = float(value)
        else:
            self.fail(pointer(where, key), f"expected a number, found {_type_name(value)}")
        if not math.isfinite(number):
            self.fail(pointer(where, key), "expected a finite number")
        return number

    def get_int(self, parent: JsonObject, key: str, where: str) -> int | None:
        value = parent.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(pointer(where, key), f"expected an integer, found {_type_name(value)}")
        return value

    def get_bool(self, parent: JsonObject, key: str, where: str) -> bool | None:
        value = parent.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.fail(pointer(where, key), f"expected true or false, found {_type_name(value)}")
        return value

    def str_list(self, parent: JsonObject, key: str, where: str) -> tuple[str, ...]:
        """An array of strings (empty strings dropped)."""
        here = pointer(where, key)
        items = self.get_arr(parent, key, where)
        out: list[str] = []
        for index, item in enumerate(items):
            if not isinstance(item, str):
                self.fail(pointer(here, index), f"expected a string, found {_type_name(item)}")
            if item:
                out.append(item)
        return tuple(out)

    def objects(self, parent: JsonObject, key: str, where: str) -> list[tuple[str, JsonObject]]:
        """An array of objects, each with its pointer."""
        items = parent.get(key)
        if items is None:
            return []  # the common case for optional arrays: no pointer work at all
        here = pointer(where, key)
        out: list[tuple[str, JsonObject]] = []
        for index, item in enumerate(self.arr(items, here)):
            item_where = f"{here}/{index}"
            out.append((item_where, self.obj(item, item_where)))
        return out


def unique(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Drop duplicates and empties, keeping first-seen order."""
    return tuple(dict.fromkeys(v for v in values if v))


def severity_from_score(score: float | None) -> str:
    """CVSS v3 qualitative rating of a base score."""
    if score is None:
        return "unknown"
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0.0:
        return "low"
    return "none"
