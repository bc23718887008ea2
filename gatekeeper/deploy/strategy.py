"""Rollout strategies as data: rolling, blue-green and canary.

The canary step list follows Argo Rollouts' shape so that people who know it can read it::

    strategy:
      kind: canary
      steps:
        - setWeight: 10
        - pause: {duration: 30}
        - analysis: {interval: 30}
        - setWeight: 50
        - pause: {}            # no duration: wait for a manual promote

Every model is frozen and rejects unknown keys, so a typo in a strategy is an input error, not
a silently different rollout. The mechanics live in :mod:`gatekeeper.deploy.executor`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from gatekeeper.model.base import Frozen

# A pause or an analysis interval longer than a day is almost certainly a unit mistake
# (milliseconds written as seconds); bounding it keeps every wait in the executor bounded.
MAX_WAIT_S = 24 * 3600.0
# How long one analysis step may keep looking while its verdicts are inconclusive: low traffic
# needs several intervals before anything can be ruled out (docs/verification.md), and a
# rollout that gives up after three looks never decides for most services.
DEFAULT_ANALYSIS_BUDGET_S = 600.0
MAX_LOOKS = 100
# Requests served right after a change (new workers, a new weight) are not a fair sample of
# either version: the first analysis window starts after this warm-up.
DEFAULT_WARMUP_S = 5.0


class SetWeight(Frozen):
    """Send this percentage of requests to the canary pool."""

    set_weight: int = Field(alias="setWeight", ge=0, le=100)


class PauseSpec(Frozen):
    duration: float | None = Field(
        default=None, ge=0, le=MAX_WAIT_S, description="seconds; absent: until promoted"
    )


class Pause(Frozen):
    """Hold the current weights, for ``duration`` seconds or until a manual promote."""

    pause: PauseSpec


class AnalysisSpec(Frozen):
    name: str = Field(default="default", min_length=1, description="which analysis to run")
    interval: float = Field(
        default=30.0, ge=0, le=MAX_WAIT_S, description="seconds of traffic to collect first"
    )
    warmup: float = Field(
        default=DEFAULT_WARMUP_S,
        ge=0,
        le=MAX_WAIT_S,
        description="seconds of traffic left out before the first window (cold caches, "
        "connection pools, lazy imports of freshly started workers)",
    )
    budget: float = Field(
        default=DEFAULT_ANALYSIS_BUDGET_S,
        gt=0,
        le=MAX_WAIT_S,
        description="seconds this step may keep analysing while inconclusive",
    )
    max_inconclusive: int = Field(
        default=0,
        ge=1,
        le=MAX_LOOKS,
        description="looks before the rollout stops and reverts; default: budget / interval",
    )

    @model_validator(mode="before")
    @classmethod
    def _looks_from_budget(cls, data: Any) -> Any:
        """Without an explicit number of looks, as many intervals as fit in the budget (at
        least one): the analysis is extended while inconclusive, within a stated time."""
        if isinstance(data, dict) and data.get("max_inconclusive") is None:
            interval = data.get("interval", cls.model_fields["interval"].default)
            budget = data.get("budget", DEFAULT_ANALYSIS_BUDGET_S)
            if isinstance(interval, int | float) and isinstance(budget, int | float):
                looks = math.floor(budget / interval) if interval > 0 else 1
                data = {**data, "max_inconclusive": min(MAX_LOOKS, max(1, looks))}
        return data


class Analysis(Frozen):
    """Collect ``interval`` seconds of traffic, then ask the injected analyzer for a verdict."""

    analysis: AnalysisSpec


CanaryStep = SetWeight | Pause | Analysis


class RollingStrategy(Frozen):
    """Replace workers one at a time; each new worker is ready before an old one is drained.

    Verified by default: after each replaced worker, while workers of the old version are
    left, the new workers are judged against them (same traffic share per worker). Opting
    out is explicit (``verify: false``) and recorded with the deployment."""

    kind: Literal["rolling"] = "rolling"
    analysis: AnalysisSpec = Field(
        default_factory=AnalysisSpec, description="the analysis after each replaced worker"
    )
    verify: bool = Field(default=True, description="false: ship without analysis (recorded)")


class BlueGreenStrategy(Frozen):
    """Start the full green set, switch 100 % of traffic at once, keep blue until promote.

    Verified by default before and after the switch. On targets whose traffic layer can
    mirror, blue and green (as many workers each) are compared side by side on the same
    GET/HEAD requests in the same window: before the switch green answers a copy of every
    request blue serves, and a failure stops green before any client saw it; after the
    switch blue answers a copy of every request green serves, and a failure switches back
    to blue. Targets that cannot mirror skip the first and judge green after the switch
    against blue's own window of the same length just before it. Opting out is explicit
    (``verify: false``) and recorded with the deployment."""

    kind: Literal["blue-green"] = "blue-green"
    analysis: AnalysisSpec = Field(
        default_factory=AnalysisSpec,
        description="the analysis before and after the switch, green against blue; after "
        "the switch a failure switches back to blue (still running)",
    )
    verify: bool = Field(default=True, description="false: ship without analysis (recorded)")
    pre_switch: bool = Field(
        default=True,
        description="before the switch, green judged on mirrored copies of blue's GET/HEAD "
        "requests (answers dropped); a failure stops green before any client saw it",
    )
    auto_promote: bool = Field(
        default=True, description="stop blue on its own after the switch (and analysis)"
    )


class CanaryStrategy(Frozen):
    """Weighted steps with pauses and analyses, then promote (Argo Rollouts style)."""

    kind: Literal["canary"] = "canary"
    steps: tuple[CanaryStep, ...] = Field(min_length=1, max_length=100)
    canary_replicas: int | None = Field(
        default=None, ge=1, le=64, description="canary workers during the steps; default: 1"
    )
    baseline: Literal["fresh", "stable"] = Field(
        default="fresh",
        description="fresh: the canary is judged against as many workers of the stable "
        "version started with it, taking as large a share of traffic (Kayenta); stable: "
        "against the running stable workers. Targets that cannot start a fresh baseline "
        "use the stable workers",
    )

    @model_validator(mode="after")
    def _weights_reach_somewhere(self) -> CanaryStrategy:
        if not any(isinstance(step, SetWeight) for step in self.steps):
            raise ValueError("a canary needs at least one setWeight step")
        return self


Strategy = Annotated[
    RollingStrategy | BlueGreenStrategy | CanaryStrategy, Field(discriminator="kind")
]
STRATEGY_KINDS = ("rolling", "blue-green", "canary")


def default_strategy(kind: str) -> RollingStrategy | BlueGreenStrategy | CanaryStrategy:
    """The strategy used by ``--strategy KIND`` when the service config does not define one."""
    if kind == "rolling":
        return RollingStrategy()
    if kind == "blue-green":
        return BlueGreenStrategy()
    if kind == "canary":
        return CanaryStrategy.model_validate(
            {
                "kind": "canary",
                "steps": [
                    {"setWeight": 10},
                    {"analysis": {"interval": 30}},
                    {"setWeight": 50},
                    {"analysis": {"interval": 30}},
                ],
            }
        )
    raise ValueError(f"unknown strategy {kind!r}; expected one of {', '.join(STRATEGY_KINDS)}")
