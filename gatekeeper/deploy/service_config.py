"""The ``deploy`` section of a service's ``gatekeeper.yaml``: how to run one worker.

Example (the golden-path python-service template writes this)::

    deploy:
      start: ["python", "-m", "app"]   # argv, run in the release directory; no shell
      port_env: PORT                   # the worker reads its port from this variable
      health_path: /healthz            # GET must answer 2xx once the worker is ready
      replicas: 2
      readiness_timeout: 30            # seconds a worker may take to become ready
      stop_grace_period: 10            # seconds between SIGTERM and SIGKILL
      drain_timeout: 30                # seconds in-flight requests get before a worker stops
      proxy_port: 8080                 # where the local target's proxy listens; 0: any free
      env: {LOG_LEVEL: info}           # extra environment for every worker
      strategy: {kind: canary, steps: [{setWeight: 20}, {analysis: {interval: 30}}]}

Only this section is read here; the rest of the file belongs to the gate
(:mod:`gatekeeper.config`).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from gatekeeper.config import describe_validation_error, format_loc, read_yaml_file
from gatekeeper.deploy.k8s.config import KubernetesConfig
from gatekeeper.deploy.strategy import Strategy
from gatekeeper.deploy.verification_config import VerificationConfig
from gatekeeper.errors import ConfigError
from gatekeeper.model.base import Frozen

DEPLOY_KEY = "deploy"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ServiceDeployConfig(Frozen):
    """How the local target starts, checks and stops one worker of a service."""

    start: tuple[str, ...] = Field(min_length=1, description="argv of one worker; no shell")
    port_env: str = Field(default="PORT", description="environment variable carrying the port")
    health_path: str = Field(default="/healthz", description="readiness endpoint (GET, 2xx)")
    replicas: int = Field(default=2, ge=1, le=64, description="workers per version")
    readiness_timeout: float = Field(default=30.0, gt=0, le=600, description="seconds")
    stop_grace_period: float = Field(default=10.0, ge=0, le=600, description="seconds")
    drain_timeout: float = Field(default=30.0, ge=0, le=600, description="seconds")
    proxy_port: int = Field(default=0, ge=0, le=65535, description="0: any free port")
    lease_seconds: float = Field(
        default=10.0,
        ge=1,
        le=600,
        description="a split of traffic lasts this long without the deployer's heartbeat; "
        "then the proxy returns all traffic to the last promoted version",
    )
    env: dict[str, str] = Field(default_factory=dict, description="extra worker environment")
    strategy: Strategy | None = Field(default=None, description="default rollout strategy")
    kubernetes: KubernetesConfig | None = Field(
        default=None, description="the Kubernetes target's settings (docs/deployer.md)"
    )
    verification: VerificationConfig | None = Field(
        default=None, description="how the controller judges a canary (docs/deployer.md)"
    )

    @field_validator("start", mode="before")
    @classmethod
    def _argv_not_string(cls, value: object) -> object:
        # A string would be split on nothing and run as one program name with spaces; asking
        # for a list keeps it obvious that no shell is involved.
        if isinstance(value, str):
            raise ValueError("expected a list of arguments (argv), e.g. [python, -m, app]")
        return value

    @field_validator("start")
    @classmethod
    def _no_empty_args(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value[0].strip():
            raise ValueError("the program name must not be empty")
        return value

    @field_validator("port_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError("must be an environment variable name")
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [name for name in value if not _ENV_NAME.match(name)]
        if bad:
            raise ValueError(f"not an environment variable name: {bad[0]!r}")
        return value

    @field_validator("health_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(ch.isspace() for ch in value):
            raise ValueError("must be a URL path starting with '/'")
        return value


def load_service_deploy_config(path: Path) -> ServiceDeployConfig:
    """Read the ``deploy`` section of ``path``; ConfigError (exit 2) names file, key and line."""
    display = str(path)
    document = read_yaml_file(path, display=display, error=ConfigError)
    data = document.data
    if not isinstance(data, dict) or DEPLOY_KEY not in data:
        raise ConfigError(f"no '{DEPLOY_KEY}' section", path=display)
    try:
        return ServiceDeployConfig.model_validate(data[DEPLOY_KEY])
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = (DEPLOY_KEY, *first["loc"])
        line = document.line_of(loc)
        raise ConfigError(
            f"{format_loc(loc)}: {describe_validation_error(first)}",
            path=display,
            where=str(line) if line else None,
        ) from None
