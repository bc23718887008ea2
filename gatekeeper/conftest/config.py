"""conftest's configuration file: ``conftest.toml`` in the working directory, or the file
named by ``--config-file``/``-c``. Its keys are flag names (``policy``, ``namespace``,
``data``, ``all-namespaces``, ``fail-on-warn``, ``no-fail``); a flag given on the command
line wins over the file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatekeeper.errors import ConfigError

DEFAULT_FILE = "conftest.toml"
_KNOWN = {
    "policy", "namespace", "data", "all-namespaces", "fail-on-warn", "no-fail", "output",
    "parser", "combine", "ignore", "no-color", "suppress-exceptions", "quiet", "trace",
}  # fmt: skip


@dataclass(frozen=True)
class ConftestConfig:
    policies: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    data: tuple[str, ...] = ()
    all_namespaces: bool = False
    fail_on_warn: bool = False
    no_fail: bool = False


def _strings(value: Any, key: str, path: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{key!r} must be a string or a list of strings", path=path)


def _flag(value: Any, key: str, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key!r} must be true or false", path=path)
    return value


def conftest_config(explicit: str | None) -> ConftestConfig:
    """The given file (it must exist), else ./conftest.toml when present, else defaults."""
    path = Path(explicit) if explicit else Path(DEFAULT_FILE)
    if not path.is_file():
        if explicit:
            raise ConfigError("config file not found", path=explicit)
        return ConftestConfig()
    shown = str(path)
    try:
        raw = path.read_bytes()
        if len(raw) > 1_000_000:
            raise ConfigError("config file is over 1 MB", path=shown)
        document = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read conftest config: {exc}", path=shown) from None
    unknown = sorted(set(document) - _KNOWN)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in conftest config", path=shown)
    get = document.get
    # Relative policy and data paths are as conftest reads them: from the working directory.
    return ConftestConfig(
        policies=_strings(get("policy"), "policy", shown) if "policy" in document else (),
        namespaces=_strings(get("namespace"), "namespace", shown)
        if "namespace" in document
        else (),
        data=_strings(get("data"), "data", shown) if "data" in document else (),
        all_namespaces=_flag(get("all-namespaces", False), "all-namespaces", shown),
        fail_on_warn=_flag(get("fail-on-warn", False), "fail-on-warn", shown),
        no_fail=_flag(get("no-fail", False), "no-fail", shown),
    )
