"""The engine registry: engine name -> class. Adding an engine is adding a module and a line."""

from __future__ import annotations

from gatekeeper.errors import ConfigError
from gatekeeper.policy.engines.interface import Engine
from gatekeeper.policy.engines.opa_engine import OpaEngine
from gatekeeper.policy.engines.regopy_engine import RegopyEngine
from gatekeeper.policy.engines.regorus_engine import RegorusEngine

DEFAULT_ENGINE = "regorus"

ENGINES: dict[str, type[Engine]] = {
    RegorusEngine.name: RegorusEngine,
    RegopyEngine.name: RegopyEngine,
}
ENGINES["opa"] = OpaEngine  # optional: absent unless opa-golib-python-bindings is installed


def get_engine(name: str) -> Engine:
    """A new engine by name; an unknown name is a ConfigError listing the known ones."""
    try:
        cls = ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINES))
        raise ConfigError(f"unknown engine {name!r}; known engines: {known}") from None
    return cls()


def available_engines() -> list[str]:
    """Registered engines whose library is installed (``opa`` is optional), sorted."""
    from gatekeeper.policy.engines.opa_engine import opa_installed

    return [name for name in sorted(ENGINES) if name != "opa" or opa_installed()]
