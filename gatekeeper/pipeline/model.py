"""``pipeline.yaml``: the stages of a service's pipeline, as data.

::

    version: 1
    stages:
      - name: sast
        env: {SEMGREP_ENABLE_VERSION_CHECK: "0"}
        steps:
          - run: [semgrep, scan, --config, .semgrep/rules.yml, --metrics=off, --json,
                  --output, .gatekeeper/out/semgrep.json, src]
        artifacts: [.gatekeeper/out/semgrep.json]
      - name: dependency-scan
        network: true               # skipped by offline runs (the default locally)
        steps:
          - run: [pip-audit, ...]
            ok_exit_codes: [0, 1]   # exit codes that still mean "the step worked"
        artifacts: [.gatekeeper/out/pip-audit.json]
      - name: gate
        gate:                       # runs `gatekeeper gate run` on the evidence
          release: release.yaml
          evidence: [.gatekeeper/out/semgrep.json, .gatekeeper/out/pip-audit.json]
          outputs: {json: .gatekeeper/out/decision.json}

Commands are argument lists and never go through a shell. Every path is relative to the service
directory and may not leave it.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gatekeeper.config import read_yaml_file
from gatekeeper.errors import InputError
from gatekeeper.model.base import Frozen

PIPELINE_FILE = "pipeline.yaml"
DEFAULT_STEP_TIMEOUT_S = 900.0
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _inside(path: str) -> str:
    """A relative path that stays inside the service directory, or ValueError."""
    pure = PurePosixPath(path)
    if not path.strip() or "\x00" in path or "\\" in path:
        raise ValueError(f"invalid path {path!r}")
    if pure.is_absolute() or ".." in pure.parts:
        raise ValueError(f"path {path!r} must stay inside the service directory")
    return path


def _env_names(value: dict[str, str]) -> dict[str, str]:
    bad = [name for name in value if not _ENV_NAME.match(name)]
    if bad:
        raise ValueError(f"not an environment variable name: {bad[0]!r}")
    return value


class Step(Frozen):
    run: tuple[str, ...] = Field(min_length=1, description="argv; no shell")
    env: dict[str, str] = Field(default_factory=dict)
    ok_exit_codes: tuple[int, ...] = Field(default=(0,), min_length=1)
    timeout: float = Field(default=DEFAULT_STEP_TIMEOUT_S, gt=0, le=24 * 3600)

    @field_validator("run", mode="before")
    @classmethod
    def _argv_not_string(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError("expected a list of arguments (argv), e.g. [python, -m, pytest]")
        return value

    @field_validator("run")
    @classmethod
    def _program_named(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value[0].strip():
            raise ValueError("the program name must not be empty")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        return _env_names(value)


class GateSpec(Frozen):
    release: str | None = None
    evidence: tuple[str, ...] = Field(min_length=1)
    outputs: dict[str, str] = Field(default_factory=dict, description="report format -> path")
    args: tuple[str, ...] = Field(default=(), description="extra `gate run` options")

    @field_validator("release")
    @classmethod
    def _release_inside(cls, value: str | None) -> str | None:
        return None if value is None else _inside(value)

    @field_validator("evidence")
    @classmethod
    def _evidence_inside(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_inside(v) for v in value)

    @field_validator("outputs")
    @classmethod
    def _outputs_inside(cls, value: dict[str, str]) -> dict[str, str]:
        return {k: _inside(v) for k, v in value.items()}


class Stage(Frozen):
    name: str
    description: str = ""
    env: dict[str, str] = Field(default_factory=dict)
    network: bool = Field(default=False, description="needs the network; offline runs skip it")
    steps: tuple[Step, ...] = ()
    gate: GateSpec | None = None
    artifacts: tuple[str, ...] = Field(default=(), description="files the stage produces")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _STAGE_NAME.match(value):
            raise ValueError("stage names are lowercase letters, digits, '-' and '_'")
        return value

    @field_validator("steps", mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        # `- [pytest, -q]` is short for `- run: [pytest, -q]`.
        if isinstance(value, list):
            return [{"run": item} if isinstance(item, list) else item for item in value]
        return value

    @field_validator("artifacts")
    @classmethod
    def _artifacts_inside(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_inside(v) for v in value)

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        return _env_names(value)

    @model_validator(mode="after")
    def _steps_or_gate(self) -> Stage:
        if bool(self.steps) == (self.gate is not None):
            raise ValueError(f"stage {self.name}: give either `steps` or `gate`")
        return self


class PipelineSpec(Frozen):
    version: Literal[1]
    stages: tuple[Stage, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> PipelineSpec:
        names = [s.name for s in self.stages]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate stage names: {', '.join(duplicates)}")
        return self

    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)


def load_pipeline(path: Path) -> PipelineSpec:
    """Read and validate a pipeline file; InputError (exit 2) names the file, key and line."""
    shown = str(path)
    document = read_yaml_file(path, display=shown, error=InputError)
    data: Any = document.data
    if not isinstance(data, dict):
        raise InputError("expected a mapping with `version` and `stages`", path=shown)
    return document.validate_as(PipelineSpec, display=shown, error=InputError, label="pipeline")
