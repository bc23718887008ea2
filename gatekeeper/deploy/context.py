"""The service a deploy command is about: its directory, gatekeeper.yaml (gate settings
and ``deploy`` section), its ledger, and the request a user made.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gatekeeper.config import GatekeeperConfig, load_config
from gatekeeper.deploy.service_config import ServiceDeployConfig, load_service_deploy_config
from gatekeeper.deploy.state import (
    check_service_name,
)
from gatekeeper.deploy.strategy import (
    BlueGreenStrategy,
    CanaryStrategy,
    RollingStrategy,
)
from gatekeeper.deploy.verification_config import VerificationConfig
from gatekeeper.errors import ConfigError, InputError
from gatekeeper.ledger.registry import open_configured_store
from gatekeeper.ledger.store import LedgerStore

DEPLOY_NAMESPACES = ("gatekeeper.release.*",)


StrategyModel = RollingStrategy | BlueGreenStrategy | CanaryStrategy


@dataclass(frozen=True)
class ServiceContext:
    service_dir: Path
    gate_config: GatekeeperConfig
    deploy_config: ServiceDeployConfig
    ledger: str | None  # --ledger; None: the configured one
    env: Mapping[str, str]

    def open_ledger(self, *, create: bool) -> LedgerStore:
        return open_configured_store(
            self.ledger, config=self.gate_config, env=self.env, cwd=self.service_dir, create=create
        )

    @property
    def verification(self) -> VerificationConfig:
        return self.deploy_config.verification or VerificationConfig()


def load_context(
    service_dir: Path, *, ledger: str | None = None, env: Mapping[str, str] | None = None
) -> ServiceContext:
    """gatekeeper.yaml of ``service_dir`` (its gate settings and its ``deploy`` section)."""
    environ = dict(os.environ if env is None else env)
    directory = service_dir.resolve()
    if not directory.is_dir():
        raise InputError("service directory not found", path=str(service_dir))
    gate_config = load_config(None, cwd=directory, env=environ)
    if gate_config.config_path is None:
        raise ConfigError(
            "no gatekeeper.yaml with a 'deploy' section here (-C names the service directory)",
            path=str(service_dir),
        )
    deploy_config = load_service_deploy_config(gate_config.config_path)
    return ServiceContext(directory, gate_config, deploy_config, ledger, environ)


def find_service(service_dir: Path, service: str | None) -> str:
    """The service whose deployment a command is about: ``--service``, or the only one that
    was ever deployed from ``service_dir``."""
    if service:
        return check_service_name(service)
    base = service_dir.resolve() / ".gatekeeper" / "deploy"
    names = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    if len(names) == 1:
        return names[0]
    if not names:
        raise InputError("nothing was deployed from here yet", path=str(service_dir))
    raise InputError(f"several services deployed from here ({', '.join(names)}): use --service")


@dataclass(frozen=True)
class DeployRequest:
    release_file: Path
    environment: str
    service_dir: Path
    strategy: str | None = None  # None: the service's configured strategy, else canary
    target: str = "local"
    dry_run: bool = False
    trusted_keys: tuple[Path, ...] = ()
    ledger: str | None = None
