"""Golden-path templates on disk: the ``template.yaml`` manifest and where versions live.

Layout (one directory per shipped version, so ``scaffold update`` can re-render the exact
version a service was generated from — the "base" of its three-way merge)::

    templates/<id>/<version>/template.yaml
    templates/<id>/<version>/files/...      # rendered into the service

Every error is an :class:`~gatekeeper.errors.InputError` naming the file (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from gatekeeper.config import read_yaml_file
from gatekeeper.errors import InputError
from gatekeeper.model.base import Frozen

MANIFEST_NAME = "template.yaml"
FILES_DIR = "files"
TEMPLATES_ENV_VARIABLE = "GATEKEEPER_TEMPLATES"

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_TEMPLATE_ID = re.compile(r"^[a-z][a-z0-9-]*$")


def parse_semver(text: str) -> tuple[int, int, int]:
    """``1.2.3`` -> (1, 2, 3). Only plain MAJOR.MINOR.PATCH: templates have no pre-releases."""
    match = _SEMVER.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a MAJOR.MINOR.PATCH version")
    return int(match[1]), int(match[2]), int(match[3])


class ParamType(StrEnum):
    STR = "str"
    INT = "int"
    BOOL = "bool"
    CHOICE = "choice"


class Parameter(Frozen):
    name: str = Field(description="answer key, also the Jinja variable name")
    type: ParamType = ParamType.STR
    help: str = ""
    required: bool = True
    default: Any = Field(
        default=None,
        description="a value, or for str a Jinja expression over earlier answers",
    )
    pattern: str | None = Field(default=None, description="regex the whole str value must match")
    choices: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    max_length: int = Field(default=200, ge=1, le=10_000)

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError("must be a lowercase identifier (a-z, 0-9, _)")
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex: {exc}") from None
        return value

    @model_validator(mode="after")
    def _choices_for_choice(self) -> Parameter:
        if self.type is ParamType.CHOICE and not self.choices:
            raise ValueError(f"parameter {self.name}: type choice needs `choices`")
        if self.type is not ParamType.CHOICE and self.choices:
            raise ValueError(f"parameter {self.name}: `choices` only applies to type choice")
        return self


class TemplateManifest(Frozen):
    id: str
    version: str
    description: str = ""
    parameters: tuple[Parameter, ...] = ()

    @field_validator("id")
    @classmethod
    def _template_id(cls, value: str) -> str:
        if not _TEMPLATE_ID.match(value):
            raise ValueError("must be lowercase letters, digits and dashes")
        return value

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        parse_semver(value)
        return value

    @model_validator(mode="after")
    def _unique_parameters(self) -> TemplateManifest:
        names = [p.name for p in self.parameters]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate parameters: {', '.join(duplicates)}")
        return self


@dataclass(frozen=True)
class Template:
    """One version of one template, loaded."""

    manifest: TemplateManifest
    root: Path  # templates/<id>/<version>

    @property
    def files_dir(self) -> Path:
        return self.root / FILES_DIR

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def version(self) -> str:
        return self.manifest.version


def builtin_template_dir() -> Path:
    """The shipped templates: ``_builtin/templates`` in a wheel, else ``templates`` in a
    checkout (the same rule as the built-in policies)."""
    package_dir = Path(__file__).resolve().parents[1]
    installed = package_dir / "_builtin" / "templates"
    if installed.is_dir():
        return installed
    return package_dir.parent / "templates"


def load_manifest(path: Path) -> TemplateManifest:
    shown = str(path)
    document = read_yaml_file(path, display=shown, error=InputError)
    if not isinstance(document.data, dict):
        raise InputError("template manifest must be a mapping", path=shown)
    return document.validate_as(TemplateManifest, display=shown, error=InputError, label="manifest")


class TemplateStore:
    """Templates under one directory: ``<root>/<id>/<version>/``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else builtin_template_dir()

    def ids(self) -> tuple[str, ...]:
        if not self.root.is_dir():
            return ()
        return tuple(
            sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))
        )

    def versions(self, template_id: str) -> tuple[str, ...]:
        """Shipped versions, oldest first."""
        base = self.root / template_id
        if not _TEMPLATE_ID.match(template_id) or not base.is_dir():
            return ()
        found = []
        for child in base.iterdir():
            if (child / MANIFEST_NAME).is_file() and _SEMVER.match(child.name):
                found.append(child.name)
        return tuple(sorted(found, key=parse_semver))

    def latest(self, template_id: str) -> str:
        versions = self.versions(template_id)
        if not versions:
            known = ", ".join(self.ids()) or "none"
            raise InputError(f"unknown template {template_id!r} (available: {known})")
        return versions[-1]

    def load(self, template_id: str, version: str | None = None) -> Template:
        version = version or self.latest(template_id)
        versions = self.versions(template_id)
        if version not in versions:
            if not versions:
                self.latest(template_id)  # raises "unknown template"
            raise InputError(
                f"template {template_id} has no version {version} (shipped: {', '.join(versions)})"
            )
        root = self.root / template_id / version
        manifest = load_manifest(root / MANIFEST_NAME)
        if manifest.id != template_id or manifest.version != version:
            raise InputError(
                f"manifest says {manifest.id} {manifest.version}, but it is stored as "
                f"{template_id}/{version}",
                path=str(root / MANIFEST_NAME),
            )
        if not (root / FILES_DIR).is_dir():
            raise InputError(f"template has no {FILES_DIR}/ directory", path=str(root))
        return Template(manifest=manifest, root=root)
