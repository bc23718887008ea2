"""``gatekeeper.yaml``: project-level defaults for every command.

Precedence, lowest first: built-in defaults < ``GATEKEEPER_*`` environment variables < the
config file < command-line flags (the CLI applies flags with
:meth:`GatekeeperConfig.with_overrides`).
The file wins over the environment on purpose: the file is reviewed and committed with the
service, the environment is whatever the CI runner happens to have.

Everything that can be wrong is a :class:`~gatekeeper.errors.ConfigError` (exit 2) naming the
file or variable, the key and, for the file, the line. Relative paths in the file resolve
against the file's directory, relative paths in the environment against the working directory.

This module also holds the small guarded YAML reader that the waivers file shares: bounded in
size, ``safe`` construction only, duplicate keys rejected, and a line number for every key so
that validation errors can point at it.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gatekeeper.errors import ConfigError, InputError
from gatekeeper.loading import YamlPath, load_yaml_file
from gatekeeper.loading import parse_yaml_text as parse_bounded_yaml
from gatekeeper.model import EVIDENCE_KINDS, Level
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S

CONFIG_FILE_NAMES = ("gatekeeper.yaml", "gatekeeper.yml")
DEFAULT_ENGINE = "regorus"
DEFAULT_FORMAT = "table"
DEFAULT_MAX_WAIVER_DAYS = 90
# A config or waivers file is a few kilobytes; anything near this is a mistake or an attack.
MAX_YAML_BYTES = 1024 * 1024

# ---------------------------------------------------------------------------------------------
# Guarded YAML reading (shared with gatekeeper.gate.waivers)
# ---------------------------------------------------------------------------------------------

ModelT = TypeVar("ModelT", bound=BaseModel)

# Evidence requirements (gatekeeper/gate/requirements.py): environment -> the evidence kinds a
# release must come with. Without configuration every release needs an SBOM, and production
# also a vulnerability scan (what every golden-path pipeline produces); SAST and provenance are
# one line of gatekeeper.yaml away (docs/configuration.md).
DEFAULT_ENVIRONMENT = "default"
DEFAULT_EVIDENCE_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    DEFAULT_ENVIRONMENT: ("sbom",),
    "production": ("sbom", "vulnerability-scan"),
}


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML document plus the 1-based line of every key/item, for error messages."""

    data: Any
    lines: dict[YamlPath, int]

    def line_of(self, path: Iterable[str | int]) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get(())

    def validate_as(
        self, model: type[ModelT], *, display: str, error: type[InputError], label: str = ""
    ) -> ModelT:
        """The document as ``model``; the first validation problem becomes one ``error`` line
        naming the key path (or ``label`` for the whole document) and its line."""
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = tuple(first["loc"])
            line = self.line_of(loc)
            where = format_loc(loc) or label
            message = describe_validation_error(first)
            raise error(
                f"{where}: {message}" if where else message,
                path=display,
                where=str(line) if line else None,
            ) from None


def read_yaml_file(
    path: Path,
    *,
    display: str,
    error: type[InputError],
    max_bytes: int = MAX_YAML_BYTES,
) -> YamlDocument:
    """Read one YAML document from ``path`` with :mod:`gatekeeper.loading`'s bounds (regular
    files only, size, depth, aliases, duplicate keys); every failure raises ``error``."""
    data, lines = load_yaml_file(path, display=display, error=error, max_bytes=max_bytes)
    return YamlDocument(data=data, lines=lines)


def parse_yaml_text(text: str, *, display: str, error: type[InputError]) -> YamlDocument:
    data, lines = parse_bounded_yaml(text, display=display, error=error)
    return YamlDocument(data=data, lines=lines)


def closest_key(unknown: str, known: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(unknown, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_key_message(unknown: object, known: Iterable[str]) -> str:
    suggestion = closest_key(str(unknown), known)
    hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
    return f"unknown key '{unknown}'{hint}"


def format_loc(loc: Iterable[str | int]) -> str:
    """('outputs', 'json') -> outputs.json ; ('policies', 0) -> policies[0]."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# Plainer wording than pydantic's for the type errors people make in YAML.
_PLAIN_MESSAGES = {
    "path_type": "expected a path",
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "dict_type": "expected a mapping",
}


def describe_validation_error(error: Mapping[str, Any]) -> str:
    """One readable phrase from one pydantic error entry."""
    message = _PLAIN_MESSAGES.get(str(error.get("type")), str(error.get("msg", "invalid value")))
    message = message.removeprefix("Value error, ")
    if "input" in error and error.get("type") != "missing":
        value = error["input"]
        shown = repr(value.isoformat() if isinstance(value, date) else value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        message = f"{message} (got {shown})"
    return message


# ---------------------------------------------------------------------------------------------
# The configuration model
# ---------------------------------------------------------------------------------------------

_PATH_LIST_FIELDS = ("policies", "data", "evidence")
_PATH_FIELDS = ("waivers", "release")


class GatekeeperConfig(BaseModel):
    """Settings shared by the gate commands. Field names are the YAML keys except ``validate``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    policies: tuple[Path, ...] = Field(
        default=(), description="policy directories or bundles; empty: the built-in library"
    )
    data: tuple[Path, ...] = Field(default=(), description="extra data files/directories")
    engine: str = Field(default=DEFAULT_ENGINE, min_length=1, description="Rego engine name")
    waivers: Path | None = Field(
        default=None, description="waivers file; None: .gatekeeper/waivers.yaml when present"
    )
    max_waiver_days: int = Field(default=DEFAULT_MAX_WAIVER_DAYS, ge=1, le=3650, strict=True)
    fail_on: Level = Field(default=Level.DENY, description="lowest level that fails the gate")
    format: str = Field(default=DEFAULT_FORMAT, min_length=1, description="stdout report format")
    outputs: dict[str, Path] = Field(
        default_factory=dict, description="extra reports to write: {format: path}"
    )
    namespaces: tuple[str, ...] = Field(
        default=(), description="package globs to evaluate; empty: every package"
    )
    # ``validate`` would shadow BaseModel.validate, hence the alias.
    validate_evidence: bool = Field(
        default=False, alias="validate", strict=True, description="schema-validate evidence"
    )
    engine_timeout: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, description="seconds")
    evidence_requirements: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_EVIDENCE_REQUIREMENTS),
        description="environment (or 'default') -> evidence kinds the release must come with",
    )
    allow_network_builtins: bool = Field(
        default=False,
        strict=True,
        description="let policies call http.send / net.lookup_ip_addr in gate evaluation",
    )
    release: Path | None = Field(default=None, description="release metadata file")
    evidence: tuple[Path, ...] = Field(default=(), description="evidence files")
    ledger: str | None = Field(
        default=None,
        description="decision ledger: a SQLite path (relative to this file) or postgresql:// URL",
    )
    # Read and validated by `gatekeeper deploy` (gatekeeper/deploy/service_config.py); the gate
    # only has to accept it, since golden-path services keep it in the same file.
    deploy: dict[str, Any] | None = Field(
        default=None, description="how `gatekeeper deploy` runs the service (docs/templates.md)"
    )
    config_path: Path | None = Field(
        default=None, description="the file this was loaded from (not a YAML key)"
    )

    @field_validator(*_PATH_LIST_FIELDS, "namespaces", mode="before")
    @classmethod
    def _one_item_as_list(cls, value: object) -> object:
        # "policies: policy/" is what people write for a single entry.
        return [value] if isinstance(value, str) else value

    @field_validator("evidence_requirements")
    @classmethod
    def _known_evidence_kinds(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for environment, kinds in value.items():
            unknown = [k for k in kinds if k not in EVIDENCE_KINDS]
            if unknown:
                raise ValueError(
                    f"{environment}: {unknown[0]!r} is not an evidence kind "
                    f"({', '.join(EVIDENCE_KINDS)})"
                )
        return value

    @field_validator("engine_timeout")
    @classmethod
    def _finite_timeout(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number of seconds")
        return value

    @field_validator("outputs")
    @classmethod
    def _output_formats_named(cls, value: dict[str, Path]) -> dict[str, Path]:
        if any(not name.strip() for name in value):
            raise ValueError("output format names must not be empty")
        return value

    @field_validator(*_PATH_LIST_FIELDS, *_PATH_FIELDS, mode="before")
    @classmethod
    def _no_blank_path(cls, value: object) -> object:
        # Path("") is ".", which would silently mean "this directory".
        items = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(item, str) and not item.strip() for item in items):
            raise ValueError("paths must not be empty")
        return value

    def with_overrides(self, **flags: Any) -> GatekeeperConfig:
        """A copy with command-line values applied. ``None`` (and an empty tuple, which is what
        click gives for a repeatable option that was not used) means "not given"."""
        given = {
            name: value
            for name, value in flags.items()
            if value is not None and not (isinstance(value, tuple | list) and not value)
        }
        if not given:
            return self
        unknown = sorted(set(given) - set(_FIELD_NAMES) - set(_FILE_KEYS))
        if unknown:
            raise TypeError(f"with_overrides() got unknown settings: {', '.join(unknown)}")
        merged = {**self.model_dump(), **{_FILE_KEYS.get(k, k): v for k, v in given.items()}}
        try:
            return GatekeeperConfig.model_validate(merged)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ConfigError(
                f"option {format_loc(first['loc'])}: {describe_validation_error(first)}"
            ) from None


# YAML key -> field name, for every key the file may hold (config_path is not one of them).
_FILE_KEYS: dict[str, str] = {
    (info.alias or name): name
    for name, info in GatekeeperConfig.model_fields.items()
    if name != "config_path"
}
_FIELD_NAMES = tuple(GatekeeperConfig.model_fields)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EnvSetting:
    field: str
    kind: str  # "str" | "paths" | "path" | "int" | "float" | "level"


ENV_VARIABLES: dict[str, _EnvSetting] = {
    "GATEKEEPER_ENGINE": _EnvSetting("engine", "str"),
    "GATEKEEPER_FAIL_ON": _EnvSetting("fail_on", "level"),
    "GATEKEEPER_FORMAT": _EnvSetting("format", "str"),
    "GATEKEEPER_POLICY": _EnvSetting("policies", "paths"),
    "GATEKEEPER_DATA": _EnvSetting("data", "paths"),
    "GATEKEEPER_WAIVERS": _EnvSetting("waivers", "path"),
    "GATEKEEPER_MAX_WAIVER_DAYS": _EnvSetting("max_waiver_days", "int"),
    "GATEKEEPER_ENGINE_TIMEOUT": _EnvSetting("engine_timeout", "float"),
}
CONFIG_ENV_VARIABLE = "GATEKEEPER_CONFIG"


def load_config(path: Path | None, *, cwd: Path, env: Mapping[str, str]) -> GatekeeperConfig:
    """Defaults < environment < config file. ``path`` None: $GATEKEEPER_CONFIG, else
    ./gatekeeper.yaml or ./gatekeeper.yml in ``cwd``, else no file (defaults)."""
    settings: dict[str, Any] = dict(_settings_from_env(env, cwd=cwd))
    config_file = _find_config_file(path, cwd=cwd, env=env)
    if config_file is not None:
        file_path, display = config_file
        settings.update(_settings_from_file(file_path, display=display))
        settings["config_path"] = file_path
    try:
        return GatekeeperConfig.model_validate(settings)
    except ValidationError as exc:  # pragma: no cover - each source was validated on its own
        first = exc.errors()[0]
        raise ConfigError(
            f"{format_loc(first['loc'])}: {describe_validation_error(first)}"
        ) from None


def _find_config_file(
    path: Path | None, *, cwd: Path, env: Mapping[str, str]
) -> tuple[Path, str] | None:
    """The config file to read and how to name it in messages; an explicit one must exist."""
    if path is None and env.get(CONFIG_ENV_VARIABLE, "").strip():
        path = Path(env[CONFIG_ENV_VARIABLE].strip())
        explicit_from = f"{CONFIG_ENV_VARIABLE}={path}"
    else:
        explicit_from = str(path) if path is not None else ""
    if path is not None:
        full = path if path.is_absolute() else cwd / path
        if not full.is_file():
            reason = "is not a file" if full.exists() else "not found"
            raise ConfigError(f"config file {reason}", path=explicit_from)
        return full, str(path)
    present = [cwd / name for name in CONFIG_FILE_NAMES if (cwd / name).is_file()]
    if len(present) > 1:
        raise ConfigError(
            "both gatekeeper.yaml and gatekeeper.yml exist; keep one so it is clear which applies",
            path=str(cwd),
        )
    return (present[0], present[0].name) if present else None


def _settings_from_file(path: Path, *, display: str) -> dict[str, Any]:
    document = read_yaml_file(path, display=display, error=ConfigError)
    raw = document.data
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"expected a mapping of settings, got {_yaml_type(raw)}", path=display, where="1"
        )
    for key in raw:
        if key not in _FILE_KEYS:
            line = document.line_of((str(key),))
            raise ConfigError(
                unknown_key_message(key, _FILE_KEYS),
                path=display,
                where=str(line) if line else None,
            )
    parsed = document.validate_as(GatekeeperConfig, display=display, error=ConfigError)
    values = {name: getattr(parsed, name) for name in parsed.model_fields_set}
    return _resolve_paths(values, base=path.parent)


def _settings_from_env(env: Mapping[str, str], *, cwd: Path) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for variable, setting in ENV_VARIABLES.items():
        text = env.get(variable, "").strip()
        if not text:  # unset and empty mean the same: CI systems often export empty values
            continue
        value: Any
        if setting.kind == "paths":
            value = [part for part in text.split(os.pathsep) if part.strip()]
        elif setting.kind == "level":
            value = text.lower()
        elif setting.kind == "int":
            try:
                value = int(text)
            except ValueError:
                raise ConfigError(
                    f"environment variable {variable}: expected a whole number, got {text!r}"
                ) from None
        elif setting.kind == "float":
            try:
                value = float(text)
            except ValueError:
                raise ConfigError(
                    f"environment variable {variable}: expected a number of seconds, got {text!r}"
                ) from None
        else:
            value = text
        try:
            parsed = GatekeeperConfig.model_validate({setting.field: value})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ConfigError(
                f"environment variable {variable}: {describe_validation_error(first)}"
            ) from None
        values[setting.field] = getattr(parsed, setting.field)
    return _resolve_paths(values, base=cwd)


def _resolve_paths(values: dict[str, Any], *, base: Path) -> dict[str, Any]:
    def resolve(item: Path) -> Path:
        return item if item.is_absolute() else base / item

    resolved = dict(values)
    for name in _PATH_LIST_FIELDS:
        if name in resolved:
            resolved[name] = tuple(resolve(item) for item in resolved[name])
    for name in _PATH_FIELDS:
        if resolved.get(name) is not None:
            resolved[name] = resolve(resolved[name])
    if "outputs" in resolved:
        resolved["outputs"] = {fmt: resolve(item) for fmt, item in resolved["outputs"].items()}
    return resolved


def _yaml_type(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__
