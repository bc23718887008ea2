"""Which builtins a policy calls, and refusing those the engine cannot be trusted with.

An engine that lacks a builtin may evaluate a call to it as *undefined* without an error
(regorus does for ``http.send``), so a ``deny`` rule silently does not fire and the gate
passes. Every policy is therefore scanned before evaluation: a call to a builtin the selected
engine does not implement is a :class:`~gatekeeper.errors.PolicyError` (exit 3) naming the
file and line. Network builtins are refused in gate evaluation unless the configuration allows
them, because a gate decision must depend only on the evidence it records.

The per-engine lists are vendored (``engines/builtins/<engine>.txt``) so the parent process
never imports an engine; ``tests/policy/test_policy_builtins.py`` checks each list against its
engine (regopy's ``Interpreter.is_builtin``; regorus by compiling a call to every name).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from gatekeeper.errors import PolicyError
from gatekeeper.policy.bundle import PolicyBundle
from gatekeeper.policy.engines.interface import Engine
from gatekeeper.policy.rego_source import function_calls, scan_rego

# Builtins that reach the network: the result depends on something outside the evidence.
NETWORK_BUILTINS = frozenset({"http.send", "net.lookup_ip_addr"})
# Calls both engines rewrite themselves rather than look up (regopy's is_builtin says no to
# print, yet it evaluates it: the output goes to stderr).
_COMPILER_HANDLED = frozenset({"print"})


@dataclass(frozen=True)
class BuiltinCall:
    name: str
    file: str
    line: int


@lru_cache(maxsize=8)
def builtin_names(list_name: str) -> frozenset[str]:
    """The vendored list ``engines/builtins/<list_name>.txt`` (``opa`` = every OPA builtin we
    know of; an engine name = what that engine implements). Unknown list: empty."""
    resource = resources.files("gatekeeper.policy.engines").joinpath(f"builtins/{list_name}.txt")
    if not resource.is_file():
        return frozenset()
    return frozenset(line.strip() for line in resource.read_text("utf-8").splitlines() if line)


def builtin_calls(bundle: PolicyBundle, *, include_tests: bool = False) -> list[BuiltinCall]:
    """Every call in the bundle's modules that is not to a rule or function of the bundle."""
    defined: dict[str, set[str]] = {}
    for module in bundle.modules:
        names = {d.name for d in scan_rego(module.source, module.path).definitions}
        defined.setdefault(module.package, set()).update(names)
    calls: list[BuiltinCall] = []
    for module in bundle.modules:
        if module.is_test and not include_tests:
            continue
        own = frozenset(defined.get(module.package, ()))
        calls.extend(
            BuiltinCall(name, module.path, line)
            for name, line in function_calls(module.source, own)
        )
    return calls


def check_builtins(bundle: PolicyBundle, engine: Engine, *, allow_network: bool = False) -> None:
    """Raise PolicyError (exit 3) at the first call the gate must not evaluate on ``engine``."""
    for call in builtin_calls(bundle):
        if call.name in _COMPILER_HANDLED:
            continue
        if call.name in NETWORK_BUILTINS and not allow_network:
            raise PolicyError(
                f"{call.name} reaches the network, which gate evaluation refuses (a decision "
                "must depend only on its recorded evidence); allow it with "
                "'allow_network_builtins: true' in gatekeeper.yaml",
                path=call.file,
                where=str(call.line),
            )
        if not engine.supports_builtin(call.name):
            known = "an OPA builtin" if call.name in builtin_names("opa") else "a function"
            raise PolicyError(
                f"{call.name} is {known} that the {engine.name} engine does not implement "
                "(the rule would silently not fire); choose another engine with --engine or "
                "avoid the call",
                path=call.file,
                where=str(call.line),
            )
