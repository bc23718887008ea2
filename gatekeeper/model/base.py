"""Base class for every model: frozen, strict about unknown fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


M = TypeVar("M", bound=Frozen)

_new = object.__new__
_set = object.__setattr__


def checked_builder(cls: type[M]) -> Callable[[dict[str, Any]], M]:
    """A function making an instance of ``cls`` from ``values`` that the caller has already
    checked field by field to be exactly what validation would produce (the types, enum
    members, tuples and defaults validation gives), without validating again: ~0.9 µs
    instead of ~2.5 µs for a component, which matters at 20,000 components.

    ``values`` must name every field, in declaration order (serialization follows the
    instance's own key order, so the gate input's bytes depend on it); any other dict is
    validated normally instead. Only for readers' fast paths over plain data, whose results
    the tests compare with validated models (tests/evidence/test_evidence_checked.py).
    """
    names = tuple(cls.model_fields)
    validate = cls.model_validate
    # Every field is given, so every instance's set of given fields is this one. Shared, not
    # one set each (~0.7 kB for a component): frozen models never add to it, and pydantic
    # copies it before a model_copy(update=...) adds to the copy's.
    every_field = set(names)

    def build(values: dict[str, Any]) -> M:
        if tuple(values) != names:
            return validate(values)
        instance = _new(cls)
        _set(instance, "__dict__", values)
        _set(instance, "__pydantic_fields_set__", every_field)
        _set(instance, "__pydantic_extra__", None)
        _set(instance, "__pydantic_private__", None)
        return instance

    return build
