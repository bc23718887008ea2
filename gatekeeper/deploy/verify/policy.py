"""What a rollout does after each analysis interval, given the verdicts so far.

The judge rules on one interval; this turns the sequence of rulings into an action:

* ``rollback`` after ``failure_limit`` consecutive FAIL verdicts (an INCONCLUSIVE or PASS
  verdict between two FAILs breaks the run: a FAIL, no evidence, then a chance FAIL are not
  two confirmations of one regression), or at once on an SLO breach
  (``slo_rollback_now``): the SLO rule only fires when the canary is beyond the limit with
  the judge's confidence, whereas one significant comparison alone is wrong about once in a
  hundred intervals, and a rollout looks many times — requiring two in a row is what keeps
  false rollbacks under 1 % (see BENCHMARKS.md);
* ``promote`` (or advance to the next step) after ``passes_required`` PASS verdicts;
* ``wait`` while verdicts are INCONCLUSIVE: the next interval's data is added to the same
  analysis window, so the evidence grows instead of being thrown away;
* the window keeps growing from the start of the analysis (more data, narrower intervals).
  The default judge is sequential (always-valid intervals, valid however often the growing
  window is looked at), so a FAIL is confirmed by the next look at the grown window. With a
  fixed-sample judge (``sequential: false``) set ``confirm_on_fresh_data``: then
  ``fresh_window`` asks for a new window starting now, so that the failure is confirmed by
  independent data;
* ``stop`` after ``inconclusive_limit`` consecutive INCONCLUSIVE verdicts, or when
  ``max_intervals`` are used up without a decision — the rollout halts on the stable version
  and says it could not decide, which is neither a pass nor a failure of the release.

MARGINAL continues without credit and without resetting a run of failures.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import Field

from gatekeeper.deploy.verify.results import JudgeResult, Outcome, Rule
from gatekeeper.model.base import Frozen


class Action(StrEnum):
    CONTINUE = "continue"  # judge the next interval (fresh window)
    WAIT = "wait"  # judge again with the next interval's data added
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    STOP = "stop"


class AnalysisPolicy(Frozen):
    failure_limit: int = Field(default=2, ge=1, description="consecutive FAILs to roll back")
    slo_rollback_now: bool = Field(default=True, description="an SLO breach rolls back at once")
    passes_required: int = Field(default=3, ge=1, description="PASS verdicts to promote")
    inconclusive_limit: int = Field(default=10, ge=1, description="consecutive INCONCLUSIVEs")
    max_intervals: int = Field(default=20, ge=1)
    confirm_on_fresh_data: bool = Field(
        default=False,
        description="after a FAIL, judge the next interval on new data only; for a judge "
        "with fixed-sample intervals (the default judge is sequential: its always-valid "
        "intervals may keep growing the window, so the evidence is not thrown away)",
    )


class Step(Frozen):
    action: Action
    reason: str
    fresh_window: bool = Field(
        default=False, description="judge the next interval on data from now on only"
    )


def next_action(history: Sequence[JudgeResult], policy: AnalysisPolicy) -> Step:
    """The action after the last verdict in ``history`` (oldest first)."""
    if not history:
        return Step(action=Action.CONTINUE, reason="no analysis yet")
    last = history[-1]
    if last.outcome is Outcome.FAIL and policy.slo_rollback_now and last.rule is Rule.SLO_BREACH:
        return Step(action=Action.ROLLBACK, reason=last.reason)
    fails = 0
    for verdict in reversed(history):
        if verdict.outcome is Outcome.FAIL:
            fails += 1
        elif verdict.outcome is not Outcome.MARGINAL:
            break
    if last.outcome is Outcome.FAIL and fails >= policy.failure_limit:
        return Step(
            action=Action.ROLLBACK, reason=f"{fails} failing analyses in a row: {last.reason}"
        )
    passes = sum(1 for v in history if v.outcome is Outcome.PASS)
    if passes >= policy.passes_required:
        return Step(action=Action.PROMOTE, reason=f"{passes} passing analyses: {last.reason}")
    waiting = 0
    for verdict in reversed(history):
        if verdict.outcome is not Outcome.INCONCLUSIVE:
            break
        waiting += 1
    if waiting >= policy.inconclusive_limit:
        return Step(
            action=Action.STOP,
            reason=f"still inconclusive after {waiting} intervals: {last.reason}",
        )
    if len(history) >= policy.max_intervals:
        return Step(
            action=Action.STOP,
            reason=f"no decision after {len(history)} intervals: {last.reason}",
        )
    if waiting:
        return Step(action=Action.WAIT, reason=last.reason)
    if last.outcome is Outcome.FAIL:
        return Step(
            action=Action.CONTINUE,
            reason=f"failing analysis to be confirmed: {last.reason}",
            fresh_window=policy.confirm_on_fresh_data,
        )
    return Step(action=Action.CONTINUE, reason=last.reason)
