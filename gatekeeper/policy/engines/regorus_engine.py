"""The regorus engine (Microsoft's Rust Rego interpreter, wheel ``celine-regorus``).

This class is the parent-side face. The worker child runs
:func:`gatekeeper.policy.engines.regorus_worker.handle`, the only code that imports
``regorus``; it lives in its own module so a worker does not import the parent's models.
"""

from __future__ import annotations

from typing import ClassVar

from gatekeeper.policy.engines.base import GuardedEngine


class RegorusEngine(GuardedEngine):
    name: ClassVar[str] = "regorus"
    description: ClassVar[str] = "Microsoft regorus (Rust), fast and linear; has coverage"
    distribution: ClassVar[str] = "celine-regorus"
    supports_coverage: ClassVar[bool] = True
