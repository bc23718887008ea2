"""The ``opa`` engine: the real OPA (v1.20.2) embedded through ``opa-golib-python-bindings``
(a Go c-shared library called with ctypes). Optional: install it with

    pip install --no-deps --ignore-requires-python opa-golib-python-bindings==0.4.4

(its wheel declares Requires-Python >= 3.14 but runs unchanged on 3.11; ``make`` does this).

The class is the parent-side face; :mod:`gatekeeper.policy.engines.opa_worker` runs in the
guarded worker child, so a Go out-of-memory abort or a runaway evaluation (the binding has no
cancel call) kills the child, never us, and the same wall-clock timeout applies.
"""

from __future__ import annotations

from importlib import util
from typing import ClassVar

from gatekeeper.errors import EngineError
from gatekeeper.policy.engines.base import GuardedEngine

DISTRIBUTION = "opa-golib-python-bindings"
INSTALL_HINT = "pip install --no-deps --ignore-requires-python opa-golib-python-bindings==0.4.4"


def opa_installed() -> bool:
    return util.find_spec("opa_bindings") is not None


class OpaEngine(GuardedEngine):
    name: ClassVar[str] = "opa"
    description: ClassVar[str] = "real OPA v1.20.2 (Go, embedded); optional, the reference"
    distribution: ClassVar[str] = DISTRIBUTION
    supports_coverage: ClassVar[bool] = False
    supports_trace: ClassVar[bool] = True
    supports_builtins: ClassVar[bool] = True

    def __init__(self) -> None:
        if not opa_installed():
            raise EngineError(f"the opa engine is not installed; install it with: {INSTALL_HINT}")
