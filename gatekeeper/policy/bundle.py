"""Policy bundles: Rego v1 modules plus data, from directories or OPA bundle files.

(Stub of the data shapes; loading is implemented by the policy-layer work.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gatekeeper.model import PolicyInfo


@dataclass(frozen=True)
class RuleHead:
    """A top-level rule as written in the source (one entry per distinct rule name)."""

    name: str
    line: int
    metadata: PolicyInfo | None = None  # from a ``# METADATA`` block directly above it


@dataclass(frozen=True)
class RegoModule:
    path: str  # as shown to users (relative to the bundle root where possible)
    source: str
    package: str  # dotted path without the ``data.`` prefix, e.g. ``gatekeeper.vuln``
    package_line: int
    rules: tuple[RuleHead, ...]
    metadata: PolicyInfo | None = None  # package-scoped METADATA
    is_test: bool = False


@dataclass(frozen=True)
class PolicyBundle:
    modules: tuple[RegoModule, ...]
    data: dict[str, Any] = field(default_factory=dict)
    revision: str = ""
    digest: str = ""
    sources: tuple[str, ...] = ()
