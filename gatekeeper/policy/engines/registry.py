"""The engine registry: engine name -> engine class. Adding an engine is a module and a line."""

from __future__ import annotations

from gatekeeper.errors import ConfigError
from gatekeeper.policy.engines.interface import Engine
from gatekeeper.policy.engines.regopy_engine import RegopyEngine
from gatekeeper.policy.engines.regorus_engine import RegorusEngine
from gatekeeper.registry import Registry

DEFAULT_ENGINE = "regorus"

ENGINES: Registry[Engine] = Registry(
    "engine", error=ConfigError, default=DEFAULT_ENGINE, plural="engines"
)
ENGINES.register(RegorusEngine.name, RegorusEngine)
ENGINES.register(RegopyEngine.name, RegopyEngine)


def get_engine(name: str) -> Engine:
    """A new engine by name; an unknown name is a ConfigError listing the known ones."""
    return ENGINES.create(name)
