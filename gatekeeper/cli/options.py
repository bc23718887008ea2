"""Option helpers shared by commands."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from gatekeeper.errors import ConfigError
from gatekeeper.model import Decision
from gatekeeper.policy.engines.registry import DEFAULT_ENGINE, ENGINES
from gatekeeper.report.registry import REPORTERS, get_reporter

FC = TypeVar("FC", bound=Callable[..., Any])
ParsedT = TypeVar("ParsedT")


def parsed_into(
    options_type: Callable[..., ParsedT],
) -> Callable[[Callable[[ParsedT], None]], Callable[..., None]]:
    """Hand a command one parsed-options object instead of one parameter per option.

    Put it directly above the command function (below every ``click.option``): click's keyword
    arguments become ``options_type(**params)`` (a dataclass whose fields are the options'
    parameter names), so the command body and whatever it calls take one object.
    """

    def decorate(command: Callable[[ParsedT], None]) -> Callable[..., None]:
        @functools.wraps(command)
        def with_options(**params: Any) -> None:
            command(options_type(**params))

        return with_options

    return decorate


def engine_option(
    help_text: str = "Rego engine.", default: str | None = DEFAULT_ENGINE
) -> Callable[[FC], FC]:
    """``--engine`` with the registered engines as choices and the default engine (None: the
    command picks one)."""
    return click.option(
        "--engine",
        type=click.Choice(sorted(ENGINES)),
        default=default,
        show_default=default is not None,
        help=help_text,
    )


def use_color(no_color_flag: bool, stream: object = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if no_color_flag or os.environ.get("NO_COLOR"):
        return False
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def parse_outputs(values: Sequence[str]) -> dict[str, Path]:
    """``FORMAT=PATH`` pairs from ``--output``."""
    outputs: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--output expects FORMAT=PATH, got '{value}'")
        if name not in REPORTERS:
            raise ConfigError(
                f"--output: unknown format '{name}' (choose from {', '.join(sorted(REPORTERS))})"
            )
        outputs[name] = Path(path)
    return outputs


def write_reports(decision: Decision, outputs: dict[str, Path]) -> None:
    for name, path in outputs.items():
        text = get_reporter(name).render(decision, color=False)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot write {name} report: {exc.strerror}", path=str(path)
            ) from None


def silence_stdout() -> None:
    """Point stdout at /dev/null after the reader closed the pipe (``| head``), so that the
    interpreter's final flush does not fail a second time."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
