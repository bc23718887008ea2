"""The layer rule of DESIGN.md, read from the code: arrows point down only, no cycles.

Every ``import`` and ``from ... import`` under ``gatekeeper/`` counts, including imports inside
functions and under ``TYPE_CHECKING``: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "gatekeeper"

# Layer -> the layers it may import (DESIGN.md, "Layers"). `audit` is the layer that judges
# recorded decisions again (replay, impact) and records gate runs: it sits above the gate and
# the ledger, which the table's ledger row ("model, decision") would otherwise forbid.
ALLOWED: dict[str, set[str]] = {
    "cli": {"server", "audit", "report", "deploy", "scaffold", "pipeline", "ledger", "conftest"}
    | {"gate", "policy", "evidence", "model"},
    "server": {"audit", "report", "deploy", "scaffold", "pipeline", "ledger", "conftest"}
    | {"gate", "policy", "evidence", "model"},
    "audit": {"gate", "ledger", "policy", "evidence", "model"},
    "report": {"model"},
    "deploy": {"gate", "ledger", "model"},
    "scaffold": {"policy", "gate", "model"},
    "pipeline": {"policy", "gate", "model"},
    "ledger": {"model"},
    "conftest": {"gate", "policy", "evidence", "model"},
    "gate": {"policy", "evidence", "model"},
    "policy": {"model"},
    "evidence": {"model"},
    "model": set(),
}

# Top-level shared modules, importable from every layer. What each may import itself:
# - errors.py: the exception family; nothing of ours.
# - registry.py: the generic name -> factory registry; only errors.
# - loading.py: the one bounded JSON/YAML reader for every user file; only errors.
# - config.py: gatekeeper.yaml and GATEKEEPER_*; the model (levels) and one constant of the
#   policy layer (the default engine timeout, in policy/engines/interface.py).
# - __init__.py: the version string.
SHARED: dict[str, set[str]] = {
    "errors": set(),
    "registry": {"errors"},
    "loading": {"errors"},
    "config": {"errors", "loading", "model", "policy"},
    "__init__": set(),
    "__main__": {"cli"},
}


def _unit(module: str) -> str:
    """``gatekeeper.gate.run`` -> ``gate``; ``gatekeeper`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    relative = path.relative_to(REPO).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every gatekeeper module ``path`` imports (relative imports resolved)."""
    text = path.read_text(encoding="utf-8")
    return _imports_of(text, _module_name(path), is_package=path.name == "__init__.py")


def _imports_of(text: str, module_name: str, *, is_package: bool) -> set[str]:
    tree = ast.parse(text)
    this = module_name.split(".")
    package = this if is_package else this[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            # `from gatekeeper import config` imports the module gatekeeper.config.
            if module == "gatekeeper":
                found.update(
                    f"gatekeeper.{alias.name}"
                    for alias in node.names
                    if (PACKAGE / f"{alias.name}.py").exists() or (PACKAGE / alias.name).is_dir()
                )
    return {m for m in found if m == "gatekeeper" or m.startswith("gatekeeper.")}


def _dependencies() -> dict[str, set[tuple[str, str]]]:
    """Unit -> {(importing file, imported module)} for imports across units."""
    edges: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _unit(_module_name(path))
        for module in _imports(path):
            target = _unit(module)
            if target != source:
                edges[source].add((str(path.relative_to(REPO)), module))
    return edges


def _may_import(source: str, target: str) -> bool:
    if source in SHARED:
        return target in SHARED[source]
    if target in SHARED:
        return target != "__main__"
    return target in ALLOWED.get(source, set())


def test_every_package_is_in_the_layer_table() -> None:
    units = {_unit(_module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert units <= set(ALLOWED) | set(SHARED), units - set(ALLOWED) - set(SHARED)


def test_arrows_point_down_only() -> None:
    wrong = sorted(
        f"{path} imports {module} ({source} may not import {_unit(module)})"
        for source, edges in _dependencies().items()
        for path, module in edges
        if not _may_import(source, _unit(module))
    )
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_between_packages() -> None:
    graph = {
        source: {_unit(module) for _, module in edges} for source, edges in _dependencies().items()
    }

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in graph.get(todo.pop(), set()) - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    cycles = sorted(
        f"{u} -> {v} -> ... -> {u}" for u in graph for v in graph[u] if u in reachable(v)
    )
    assert not cycles, cycles


def test_the_rule_reader_sees_lazy_and_relative_imports() -> None:
    # The checker itself must be able to fail: a function-level, a TYPE_CHECKING and a
    # relative import all count.
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from gatekeeper.cli import main\n"
        "def f():\n    from gatekeeper.gate.waivers import expires_at\n"
        "from ..policy import controls\n"
    )
    found = _imports_of(source, "gatekeeper.ledger.report", is_package=False)
    assert {"gatekeeper.cli", "gatekeeper.gate.waivers", "gatekeeper.policy"} <= found
    assert not _may_import("ledger", "gate") and not _may_import("gate", "cli")
    assert _may_import("cli", "gate") and _may_import("ledger", "errors")


def test_no_import_cycles_between_modules_of_the_deploy_targets() -> None:
    # The deploy-target registry used to import its implementations, which import it back.
    target = _imports(PACKAGE / "deploy" / "target.py")
    assert not any(
        m.startswith(("gatekeeper.deploy.local", "gatekeeper.deploy.k8s")) for m in target
    )
