"""Template parameters: typed, validated answers from ``--set``, an answers file, or prompts.

Validation is the first line of defence against path traversal and injection: answers end up
in file names and in YAML/TOML/Python files, so a value is checked against its parameter's type,
pattern or choices, and strings may never hold control characters (a newline in a YAML value
could add keys). Rendered paths are checked again on their own (see ``render.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from jinja2 import TemplateError

from gatekeeper.config import read_yaml_file, unknown_key_message
from gatekeeper.errors import InputError
from gatekeeper.scaffold.jinja import render_string
from gatekeeper.scaffold.template import Parameter, ParamType, TemplateManifest

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}

# ask(parameter, default, validate) -> the validated value. ``validate`` raises ValueError
# with a message to show; an interactive asker re-asks until it passes.
Asker = Callable[[Parameter, Any, Callable[[Any], Any]], Any]


def coerce(param: Parameter, raw: Any) -> Any:
    """The typed, validated value of ``raw`` for ``param``; ValueError says what is wrong."""
    if param.type is ParamType.BOOL:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    if param.type is ParamType.INT:
        if isinstance(raw, bool):
            raise ValueError(f"expected a whole number, got {raw!r}")
        try:
            value = raw if isinstance(raw, int) else int(str(raw).strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {raw!r}") from None
        if param.min is not None and value < param.min:
            raise ValueError(f"must be at least {param.min}, got {value}")
        if param.max is not None and value > param.max:
            raise ValueError(f"must be at most {param.max}, got {value}")
        return value
    if isinstance(raw, bool | dict | list) or raw is None:
        raise ValueError(f"expected text, got {raw!r}")
    text = str(raw)
    if _CONTROL.search(text):
        raise ValueError("must not contain control characters or line breaks")
    if len(text) > param.max_length:
        raise ValueError(f"must be at most {param.max_length} characters")
    if param.type is ParamType.CHOICE:
        if text not in param.choices:
            raise ValueError(f"must be one of {', '.join(param.choices)}, got {text!r}")
        return text
    if param.pattern is not None and not re.fullmatch(param.pattern, text):
        hint = f" ({param.help})" if param.help else ""
        raise ValueError(f"{text!r} does not match {param.pattern}{hint}")
    return text


def parse_set_options(values: tuple[str, ...]) -> dict[str, str]:
    """``k=v`` pairs from ``--set``."""
    given: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set expects NAME=VALUE, got {item!r}")
        given[key.strip()] = value
    return given


def read_answers_file(path: Path) -> dict[str, Any]:
    document = read_yaml_file(path, display=str(path), error=InputError)
    if document.data is None:
        return {}
    if not isinstance(document.data, dict):
        raise InputError("answers file must be a mapping of parameter: value", path=str(path))
    return {str(k): v for k, v in document.data.items()}


def _default(param: Parameter, answers: Mapping[str, Any]) -> Any:
    """The default, with Jinja expressions in str defaults rendered over earlier answers."""
    default = param.default
    if isinstance(default, str) and param.type is ParamType.STR and "{" in default:
        try:
            return render_string(default, dict(answers))
        except TemplateError as exc:
            raise InputError(
                f"default of parameter {param.name!r} does not render: {exc}"
            ) from None
    return default


def resolve_answers(
    manifest: TemplateManifest,
    given: Mapping[str, Any],
    *,
    ask: Asker | None = None,
    source: str = "--set",
) -> dict[str, Any]:
    """Every parameter's value, in manifest order. Unknown keys, invalid values and missing
    required answers (when nobody can be asked) are InputErrors naming the parameter."""
    known = {p.name for p in manifest.parameters}
    for key in given:
        if key not in known:
            raise InputError(f"{source}: {unknown_key_message(key, known)} for {manifest.id}")
    answers: dict[str, Any] = {}
    for param in manifest.parameters:
        default = _default(param, answers)
        if param.name in given:
            try:
                answers[param.name] = coerce(param, given[param.name])
            except ValueError as exc:
                raise InputError(f"parameter {param.name}: {exc}") from None
            continue
        if ask is not None:
            answers[param.name] = ask(param, default, partial(coerce, param))
            continue
        if default is not None:
            try:
                answers[param.name] = coerce(param, default)
            except ValueError as exc:
                raise InputError(
                    f"parameter {param.name}: default {exc}; pass --set {param.name}=VALUE"
                ) from None
            continue
        if param.required:
            raise InputError(
                f"missing required parameter {param.name!r}"
                f"{' (' + param.help + ')' if param.help else ''}: pass --set {param.name}=VALUE"
            )
        answers[param.name] = None
    return answers
