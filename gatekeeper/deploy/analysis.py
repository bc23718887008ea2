"""The controller's analyzer: one analysis interval -> the verdict the executor acts on.

Per call (the executor has just waited one interval):

1. the proxy's new per-request samples (:class:`SampleFeed`) go into a :class:`MemorySamples`
   store, which the ``memory`` metric source reads by time window; a ``prometheus`` source is
   added when the service names a Prometheus URL;
2. the judge rules on the window (:func:`~gatekeeper.deploy.verify.analyze`);
3. the lines the baseline's and the canary's workers logged in the window go to
   :func:`~gatekeeper.deploy.verify.analyze_logs`;
4. the verdicts of this analysis step so far go to
   :func:`~gatekeeper.deploy.verify.next_action`, which decides: ``promote`` -> PASS,
   ``rollback`` -> FAIL, anything else -> INCONCLUSIVE (the executor waits one more interval,
   at most ``max_inconclusive`` looks, then stops and reverts with the reason).

Windows: while the verdicts are inconclusive the window keeps growing from the start of the
step (more data), and it starts afresh after a failure that still has to be confirmed, so the
confirmation is independent evidence (docs/verification.md).

Logs: a log finding that looks like an error fails the canary at once — a new exception is not
a statistical fluke. An inconclusive log analysis (too few baseline lines) does not hold the
rollout: the metrics are the gate; otherwise a quiet service could never be deployed.

Every verdict (the judge's document with all its numbers, the log verdict, the action) goes to
``on_verdict`` before the executor sees it: the controller stores it in the deployment record
and appends it to the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatekeeper.deploy.executor import AnalysisRequest, AnalysisVerdict, VerdictResult
from gatekeeper.deploy.proxy.client import SampleFeed
from gatekeeper.deploy.verification_config import VerificationConfig
from gatekeeper.deploy.verify import (
    Action,
    AnalysisPolicy,
    AnalysisWindow,
    JudgeConfig,
    JudgeResult,
    LogVerdict,
    Look,
    MemorySamples,
    MemorySource,
    MetricSource,
    Outcome,
    PrometheusSource,
    analyze,
    analyze_logs,
    next_action,
)
from gatekeeper.errors import ConfigError

LogFiles = Callable[[], tuple[Sequence[Path], Sequence[Path]]]  # (baseline, canary) files


def build_sources(
    verification: VerificationConfig, store: MemorySamples | None
) -> dict[str, MetricSource]:
    """The metric sources the judge config needs; a metric naming one that cannot be built
    is a ConfigError (exit 2) before anything is deployed."""
    judge_config = verification.judge_config()
    sources: dict[str, MetricSource] = {}
    if store is not None:
        sources["memory"] = MemorySource(store)
    if verification.prometheus is not None:
        sources["prometheus"] = PrometheusSource(
            verification.prometheus.url, timeout=verification.prometheus.timeout
        )
    wanted = sorted({m.source for m in judge_config.metrics} - set(sources))
    if wanted:
        hint = {
            "memory": "the proxy's measurements exist on the local target only; "
            "use source: prometheus",
            "prometheus": "set deploy.verification.prometheus.url",
        }
        detail = "; ".join(hint.get(name, f"unknown source {name!r}") for name in wanted)
        raise ConfigError(
            f"deploy.verification: metrics use sources that are not available here: "
            f"{', '.join(wanted)} ({detail})"
        )
    return sources


class LogCursor:
    """Byte offsets into worker log files, so each analysis reads only its window's lines."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._marks: dict[Path, int] = {}

    def mark(self, paths: Sequence[Path]) -> None:
        """Remember where each file ends now: the next window starts there."""
        for path in paths:
            try:
                self._marks[path] = path.stat().st_size
            except OSError:
                self._marks[path] = 0

    def read(self, paths: Sequence[Path]) -> list[str]:
        """Lines written since the mark (a file not marked yet is read from its start),
        at most ``max_bytes`` in all; a partial last line is left for the next read."""
        lines: list[str] = []
        budget = self.max_bytes
        for path in paths:
            if budget <= 0:
                break
            start = self._marks.get(path, 0)
            try:
                with path.open("rb") as handle:
                    handle.seek(start)
                    data = handle.read(budget)
            except OSError:
                continue
            budget -= len(data)
            cut = data.rfind(b"\n")
            if cut < 0:
                continue
            lines.extend(data[: cut + 1].decode("utf-8", "replace").splitlines())
        return lines


@dataclass(frozen=True)
class VerdictRecord:
    """One analysis, as stored in the deployment record and the ledger."""

    step_index: int
    attempt: int
    window_start: float
    window_end: float
    result: VerdictResult
    action: str
    reason: str
    metrics: JudgeResult
    logs: LogVerdict | None

    def to_document(self) -> dict[str, Any]:
        return {
            "step_index": self.step_index,
            "attempt": self.attempt,
            "window": {"start": self.window_start, "end": self.window_end},
            "result": self.result.value,
            "action": self.action,
            "reason": self.reason,
            "metrics": self.metrics.to_document(),
            "logs": self.logs.to_document() if self.logs is not None else None,
        }


class CanaryAnalyzer:
    """Callable given to :class:`~gatekeeper.deploy.executor.RolloutExecutor`."""

    def __init__(
        self,
        verification: VerificationConfig,
        *,
        sources: Mapping[str, MetricSource],
        feed: SampleFeed | None,
        store: MemorySamples | None,
        log_files: LogFiles | None,
        on_verdict: Callable[[VerdictRecord], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.verification = verification
        self.judge_config: JudgeConfig = verification.judge_config()
        self.sources = dict(sources)
        self.feed = feed
        self.store = store
        self.log_files = log_files if verification.logs.enabled else None
        self.on_verdict = on_verdict
        self.clock = clock
        self.cursor = LogCursor(verification.logs.max_bytes)
        self._step: int | None = None
        self._history: list[JudgeResult] = []
        self._window_start: float | None = None
        self._looks_in_window = 0
        self._mark_logs()

    def _mark_logs(self) -> None:
        if self.log_files is not None:
            baseline, canary = self.log_files()
            self.cursor.mark([*baseline, *canary])

    def _pull_samples(self) -> None:
        if self.feed is not None and self.store is not None:
            samples, _dropped = self.feed.take()
            # A wrapped buffer shows up as a window with fewer requests than it had, which
            # the judge treats as less data: never as a pass.
            self.store.record_all(samples)

    def _policy(self, request: AnalysisRequest) -> AnalysisPolicy:
        rollout = self.verification.policy
        looks = request.spec.max_inconclusive
        return AnalysisPolicy(
            failure_limit=rollout.failure_limit,
            slo_rollback_now=rollout.slo_rollback_now,
            passes_required=rollout.passes_required,
            inconclusive_limit=looks,
            max_intervals=looks,
        )

    def _logs(self) -> LogVerdict | None:
        if self.log_files is None:
            return None
        baseline_files, canary_files = self.log_files()
        return analyze_logs(
            self.cursor.read(baseline_files),
            self.cursor.read(canary_files),
            self.verification.logs,  # a LogConfig with the controller's own two switches
        )

    def __call__(self, request: AnalysisRequest) -> AnalysisVerdict:
        if request.step_index != self._step:
            self._step = request.step_index
            self._history = []
            self._window_start = request.window_start
            self._looks_in_window = 0
        self._pull_samples()
        start = self._window_start if self._window_start is not None else request.window_start
        end = max(request.window_end, start + 1e-3)
        baseline_window: dict[str, float] = {}
        if request.baseline_before is not None:
            # Blue-green after the switch: blue's window of the same length just before it.
            start = max(start, request.baseline_before)
            end = max(end, start + 1e-3)
            baseline_window = {
                "baseline_start": request.baseline_before - (end - start),
                "baseline_end": request.baseline_before,
            }
        window = AnalysisWindow(
            start=start,
            end=end,
            baseline=request.stable_version or "-",
            canary=request.canary_version,
            step=self.verification.prometheus.step if self.verification.prometheus else 10.0,
            fresh_baseline=request.fresh_baseline,
            **baseline_window,
        )
        # Which look of this window (the window restarts on fresh data) of how many planned.
        self._looks_in_window += 1
        look = Look(self._looks_in_window, max(request.spec.max_inconclusive, 1))
        metrics = analyze(self.judge_config, self.sources, window, look=look)
        logs = self._logs()
        self._history.append(metrics)
        step = next_action(self._history, self._policy(request))
        if logs is not None and logs.outcome is Outcome.FAIL:
            result, action, reason = VerdictResult.FAIL, "rollback", f"logs: {logs.reason}"
        elif step.action is Action.ROLLBACK:
            result, action, reason = VerdictResult.FAIL, step.action.value, step.reason
        elif step.action is Action.PROMOTE:
            result, action, reason = VerdictResult.PASS, step.action.value, step.reason
        else:
            result, action, reason = VerdictResult.INCONCLUSIVE, step.action.value, step.reason
        if step.fresh_window or result is not VerdictResult.INCONCLUSIVE:
            # Confirmation (or the next step) must rest on data collected from now on.
            self._window_start = self.clock()
            self._looks_in_window = 0
            self._mark_logs()
        self.on_verdict(
            VerdictRecord(
                step_index=request.step_index,
                attempt=request.attempt,
                window_start=start,
                window_end=end,
                result=result,
                action=action,
                reason=reason,
                metrics=metrics,
                logs=logs,
            )
        )
        return AnalysisVerdict(result, reason)
