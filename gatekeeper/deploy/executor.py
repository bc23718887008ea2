"""Applies a strategy's steps to a target, asking an injected analyzer for verdicts.

The executor knows nothing about statistics: ``analyze(request) -> AnalysisVerdict`` is a
callback (the controller plugs the judge in). It knows the mechanics and the safety rules:

- a failed verdict rolls back at once (stable to 100 %, canary workers drained and stopped);
- an inconclusive verdict is asked again after another interval, at most
  ``max_inconclusive`` times in a row, then the rollout stops and reverts *with that reason* —
  missing data is never treated as a pass;
- any error while applying steps (a worker that never becomes ready, the proxy gone) reverts
  as well, then re-raises: the machinery failing is not a verdict on the release;
- every step's progress is persisted before the next one, so recovery knows where it was.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from gatekeeper.deploy.state import Phase, ReleaseRecord
from gatekeeper.deploy.strategy import (
    Analysis,
    AnalysisSpec,
    BlueGreenStrategy,
    CanaryStrategy,
    Pause,
    RollingStrategy,
    SetWeight,
)
from gatekeeper.deploy.target import BASELINE, CANARY, STABLE, DeployTarget

StrategyModel = RollingStrategy | BlueGreenStrategy | CanaryStrategy


class VerdictResult(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class AnalysisVerdict:
    result: VerdictResult
    reason: str = ""


@dataclass(frozen=True)
class AnalysisRequest:
    """What the analyzer is asked to judge: the window of traffic just collected."""

    strategy: str
    step_index: int  # index in the canary steps; for rolling/blue-green the replaced count
    spec: AnalysisSpec
    stable_version: str | None
    canary_version: str
    canary_weight: int
    window_start: float  # epoch seconds
    window_end: float
    attempt: int  # 1 for the first ask, 2+ after inconclusive verdicts
    # Blue-green after the switch: the baseline (blue) is judged on its own window before the
    # switch, as long as the canary's (green's) window after it. None: the same window.
    baseline_before: float | None = None
    # A canary's fresh baseline runs: the baseline is its workers' requests only, not the
    # long-running stable workers'.
    fresh_baseline: bool = False


Analyzer = Callable[[AnalysisRequest], AnalysisVerdict]


class Outcome(StrEnum):
    PROMOTED = "promoted"  # the new version serves 100 %, the old one is stopped
    ROLLED_BACK = "rolled_back"  # the old version serves 100 %, the new one is stopped
    PAUSED = "paused"  # waiting for a manual promote/rollback; both may be running


@dataclass(frozen=True)
class RolloutResult:
    outcome: Outcome
    version: str  # the release this rollout was about
    reason: str
    verdicts: tuple[tuple[int, AnalysisVerdict], ...] = ()


# The step index of blue-green's analysis before the switch (the one after it is step 0).
PRE_SWITCH_STEP = -1


class _Stopped(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def always_pass(_request: AnalysisRequest) -> AnalysisVerdict:
    return AnalysisVerdict(VerdictResult.PASS, "no analysis configured")


class RolloutExecutor:
    def __init__(
        self,
        target: DeployTarget,
        analyze: Analyzer = always_pass,
        *,
        abort: threading.Event | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.target = target
        self.analyze = analyze
        # Setting ``abort`` (e.g. from `deploy abort` or SIGINT) interrupts any pause or
        # analysis wait; the rollout then reverts.
        self.abort = abort or threading.Event()
        self._sleep = sleep
        self._verdicts: list[tuple[int, AnalysisVerdict]] = []

    # -- entry points ----------------------------------------------------------------------

    def run(self, release: ReleaseRecord, strategy: StrategyModel) -> RolloutResult:
        target = self.target
        first = target.state.stable is None or not target.state.stable_workers
        target.begin(release, strategy.kind)
        if first:
            try:
                target.add_workers(STABLE, target.replicas)
            except Exception:
                target.rollback(f"first deploy of {release.version} failed to start")
                raise
            target.promote(f"first deploy of {release.version}")
            return RolloutResult(Outcome.PROMOTED, release.version, "first deploy: no baseline")
        return self._guarded(release.version, lambda: self._dispatch(strategy, 0))

    def resume(self, strategy: StrategyModel) -> RolloutResult:
        """Continue a paused canary after the step it paused on (a manual promote of a canary
        with remaining steps), or promote a held blue-green."""
        state = self.target.state
        if state.canary is None or state.phase != Phase.PAUSED:
            raise ValueError("no paused rollout to resume")
        self.target.set_progress(phase=Phase.PROGRESSING)
        return self._guarded(
            state.canary.version, lambda: self._dispatch(strategy, state.step_index + 1)
        )

    def rollback(self, reason: str) -> RolloutResult:
        version = self.target.state.canary.version if self.target.state.canary else "-"
        self.target.rollback(reason)
        return RolloutResult(Outcome.ROLLED_BACK, version, reason, tuple(self._verdicts))

    # -- mechanics -------------------------------------------------------------------------

    def _guarded(self, version: str, body: Callable[[], RolloutResult]) -> RolloutResult:
        try:
            return body()
        except _Stopped as stop:
            self.target.rollback(stop.reason)
            return RolloutResult(Outcome.ROLLED_BACK, version, stop.reason, tuple(self._verdicts))
        except BaseException as exc:
            # Leave the last known-good version serving whatever went wrong, then report.
            self.target.rollback(f"rollout error, reverted: {type(exc).__name__}: {exc}")
            raise

    def _dispatch(self, strategy: StrategyModel, start: int) -> RolloutResult:
        if isinstance(strategy, RollingStrategy):
            return self._rolling(strategy)
        if isinstance(strategy, BlueGreenStrategy):
            return self._blue_green(strategy, resumed=start > 0)
        return self._canary(strategy, start)

    def _rolling(self, strategy: RollingStrategy) -> RolloutResult:
        target = self.target
        total = target.replicas
        for index in range(1, total + 1):
            self._check_abort()
            target.add_workers(CANARY, 1)
            # Traffic follows the worker count, as it would with one shared pool.
            target.set_canary_weight(round(100 * index / total))
            if target.state.stable_workers:
                target.remove_workers(STABLE, 1)
            target.set_progress(step_index=index)
            # Each batch is judged against the workers not yet updated; once none are left
            # the new ones were all judged in earlier batches (the last has no baseline).
            if strategy.verify and target.state.stable_workers:
                self._analysis(strategy.kind, index, strategy.analysis)
        unverified = "" if strategy.verify else " (unverified: verify: false)"
        return self._promote(f"rolling update replaced {total} workers{unverified}")

    def _blue_green(self, strategy: BlueGreenStrategy, *, resumed: bool) -> RolloutResult:
        target = self.target
        if not resumed:
            target.add_workers(CANARY, target.replicas)  # full green, all ready first
            self._check_abort()
            # Where the traffic layer can mirror, blue and green are judged side by side on the
            # same requests in the same window, before the switch (green answers copies of
            # blue's requests) and after it (the copies follow the weight: blue answers copies
            # of green's): neither the machine's load nor the traffic changes between the two
            # sides of a comparison. Elsewhere, after the switch, blue's own window just
            # before green got traffic.
            mirrors = strategy.verify and target.capabilities.mirrors_traffic
            baseline_before = None if mirrors else time.time()
            if mirrors:
                target.set_mirror(100)
            try:
                if mirrors and strategy.pre_switch:
                    self._analysis(strategy.kind, PRE_SWITCH_STEP, strategy.analysis)
                target.set_canary_weight(100)  # the switch: all at once
                target.set_progress(step_index=0)
                if strategy.verify:
                    self._analysis(
                        strategy.kind, 0, strategy.analysis, baseline_before=baseline_before
                    )
            finally:
                if mirrors:
                    target.set_mirror(0)
            if not strategy.auto_promote:
                return self._pause("blue-green switched; blue kept until promote or rollback")
        unverified = "" if strategy.verify else " (unverified: verify: false)"
        return self._promote(f"blue-green switched and promoted{unverified}")

    def _canary(self, strategy: CanaryStrategy, start: int) -> RolloutResult:
        target = self.target
        if not target.state.canary_workers:
            count = min(strategy.canary_replicas or 1, target.replicas)
            target.add_workers(CANARY, count)
            if strategy.baseline == "fresh" and target.capabilities.fresh_baseline:
                # Started together, as many: same age, same warm-up, same share per worker.
                target.add_workers(BASELINE, count)
        for index in range(start, len(strategy.steps)):
            self._check_abort()
            step = strategy.steps[index]
            if isinstance(step, SetWeight):
                target.set_canary_weight(step.set_weight)
            elif isinstance(step, Pause):
                if step.pause.duration is None:
                    target.set_progress(step_index=index)
                    return self._pause(f"paused at step {index + 1}; waiting for promote")
                self._wait(step.pause.duration)
            elif isinstance(step, Analysis):
                self._analysis(strategy.kind, index, step.analysis)
            target.set_progress(step_index=index)
        return self._promote(f"canary passed {len(strategy.steps)} steps")

    def _analysis(
        self, kind: str, index: int, spec: AnalysisSpec, *, baseline_before: float | None = None
    ) -> None:
        state = self.target.state
        canary_version = state.canary.version if state.canary else "-"
        when = " before the switch (on mirrored requests)" if index == PRE_SWITCH_STEP else ""
        if spec.warmup > 0:
            self._wait(spec.warmup)  # warm-up traffic is left out of every window
        for attempt in range(1, spec.max_inconclusive + 1):
            window_start = time.time()
            self._wait(spec.interval)
            request = AnalysisRequest(
                strategy=kind,
                step_index=index,
                spec=spec,
                stable_version=state.stable.version if state.stable else None,
                canary_version=canary_version,
                canary_weight=self.target.state.canary_weight,
                window_start=window_start,
                window_end=time.time(),
                attempt=attempt,
                baseline_before=baseline_before,
                fresh_baseline=bool(self.target.state.baseline_workers),
            )
            verdict = self.analyze(request)
            self._verdicts.append((index, verdict))
            if verdict.result == VerdictResult.PASS:
                return
            if verdict.result == VerdictResult.FAIL:
                raise _Stopped(f"analysis '{spec.name}'{when} failed: {verdict.reason}")
        raise _Stopped(
            f"analysis '{spec.name}'{when} stayed inconclusive {spec.max_inconclusive} times: "
            f"{self._verdicts[-1][1].reason}"
        )

    def _promote(self, reason: str) -> RolloutResult:
        version = self.target.state.canary.version if self.target.state.canary else "-"
        self._check_abort()
        self.target.promote(reason)
        return RolloutResult(Outcome.PROMOTED, version, reason, tuple(self._verdicts))

    def _pause(self, reason: str) -> RolloutResult:
        self.target.set_progress(phase=Phase.PAUSED, reason=reason)
        version = self.target.state.canary.version if self.target.state.canary else "-"
        return RolloutResult(Outcome.PAUSED, version, reason, tuple(self._verdicts))

    def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
            self._check_abort()
            return
        if self.abort.wait(seconds):
            self._check_abort()

    def _check_abort(self) -> None:
        if self.abort.is_set():
            raise _Stopped("aborted by the operator")
