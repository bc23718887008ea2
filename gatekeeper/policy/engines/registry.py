"""The engine registry: engine name -> engine class. Adding an engine is a module and a line."""

from __future__ import annotations

from gatekeeper.errors import ConfigError
from gatekeeper.policy.engines.interface import Engine
from gatekeeper.policy.engines.opa_engine import OpaEngine
from gatekeeper.policy.engines.regopy_engine import RegopyEngine
from gatekeeper.policy.engines.regorus_engine import RegorusEngine
from gatekeeper.registry import Registry

DEFAULT_ENGINE = "regorus"

ENGINES: Registry[Engine] = Registry(
    "engine", error=ConfigError, default=DEFAULT_ENGINE, plural="engines"
)
ENGINES.register(RegorusEngine.name, RegorusEngine)
ENGINES.register(RegopyEngine.name, RegopyEngine)
# Optional: usable only where opa-golib-python-bindings is installed (see available_engines).
ENGINES.register(OpaEngine.name, OpaEngine)
# Remote: evaluates on an OPA-compatible server (GATEKEEPER_OPA_URL); never "installed" locally.
ENGINES.register_lazy("opa-server", "gatekeeper.policy.engines.opa_server_engine:OpaServerEngine")


def get_engine(name: str) -> Engine:
    """A new engine by name; an unknown name is a ConfigError listing the known ones."""
    return ENGINES.create(name)


def available_engines() -> list[str]:
    """Registered engines whose library is installed (``opa`` is optional), sorted; not
    ``opa-server``, which needs a server to talk to."""
    from gatekeeper.policy.engines.opa_engine import opa_installed

    return [
        name
        for name in sorted(ENGINES)
        if name != "opa-server" and (name != "opa" or opa_installed())
    ]
