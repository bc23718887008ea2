"""Rolling, blue-green and canary on the local target: real worker processes, a real proxy
daemon, steady load, zero failed requests; failures and verdicts revert to stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.deploy.errors import DeployError
from gatekeeper.deploy.executor import (
    PRE_SWITCH_STEP,
    AnalysisRequest,
    AnalysisVerdict,
    Outcome,
    RolloutExecutor,
    VerdictResult,
)
from gatekeeper.deploy.local import process
from gatekeeper.deploy.local.target import LocalTarget
from gatekeeper.deploy.state import Phase, load_state
from gatekeeper.deploy.strategy import BlueGreenStrategy, CanaryStrategy, RollingStrategy
from tests.deploy.local.helpers import LoadGenerator, get, release

FIRST = CanaryStrategy.model_validate({"steps": [{"setWeight": 0}]})
# Verified by default; the tests of the mechanics judge quickly (the analyzer always passes).
FAST = {"analysis": {"interval": 0.3, "warmup": 0}}
ROLLING = RollingStrategy.model_validate(FAST)
BLUE_GREEN = BlueGreenStrategy.model_validate(FAST)


def deploy_v1(target: LocalTarget, root: Path) -> tuple[int, ...]:
    result = RolloutExecutor(target).run(release("v1", root), FIRST)
    assert result.outcome == Outcome.PROMOTED
    return tuple(w.pid for w in target.state.stable_workers)


def serving(target: LocalTarget, n: int = 40) -> set[str]:
    assert target.state.proxy is not None
    return {get(target.state.proxy.port)[1] for _ in range(n)}


def all_dead(pids: tuple[int, ...]) -> bool:
    return not any(process.is_alive(pid, None) for pid in pids)


def test_rolling_update_under_load_loses_no_request(target, tmp_path):
    old = deploy_v1(target, tmp_path)
    assert target.state.proxy is not None
    with LoadGenerator(target.state.proxy.port) as load:
        load.wait_for(100)
        result = RolloutExecutor(target).run(release("v2", tmp_path), ROLLING)
        seen = load.result.total
        load.wait_for(seen + 100)
    assert result.outcome == Outcome.PROMOTED
    assert load.result.failed == 0, load.result.errors[:3]
    assert load.result.versions["v1"] > 0 and load.result.versions["v2"] > 0
    assert serving(target) == {"hello v2"}
    assert [w.version for w in target.state.stable_workers] == ["v2", "v2"]
    assert all_dead(old)
    assert target.state.phase == Phase.STABLE and target.state.canary is None


def test_blue_green_switches_at_once_and_keeps_blue_until_rollback(target, tmp_path):
    blue = deploy_v1(target, tmp_path)
    assert target.state.proxy is not None
    strategy = BlueGreenStrategy.model_validate({**FAST, "auto_promote": False})
    with LoadGenerator(target.state.proxy.port) as load:
        load.wait_for(100)
        result = RolloutExecutor(target).run(release("v2", tmp_path), strategy)
        assert result.outcome == Outcome.PAUSED
        assert serving(target) == {"hello v2"}  # 100 % switched
        assert not all_dead(blue) and target.state.phase == Phase.PAUSED  # blue kept
        RolloutExecutor(target).rollback("operator said no")
        seen = load.result.total
        load.wait_for(seen + 100)
    assert load.result.failed == 0, load.result.errors[:3]
    assert serving(target) == {"hello v1"}
    assert tuple(w.pid for w in target.state.stable_workers) == blue
    assert target.state.reason == "operator said no"


def test_blue_green_promotes_and_stops_blue(target, tmp_path):
    blue = deploy_v1(target, tmp_path)
    result = RolloutExecutor(target).run(release("v2", tmp_path), BLUE_GREEN)
    assert result.outcome == Outcome.PROMOTED
    assert serving(target) == {"hello v2"}
    assert all_dead(blue)
    assert len(target.state.stable_workers) == 2


def test_canary_passes_its_analyses_and_is_promoted_under_load(target, tmp_path):
    deploy_v1(target, tmp_path)
    asked: list[AnalysisRequest] = []

    def analyze(request: AnalysisRequest) -> AnalysisVerdict:
        asked.append(request)
        return AnalysisVerdict(VerdictResult.PASS, "looks fine")

    strategy = CanaryStrategy.model_validate(
        {
            "steps": [
                {"setWeight": 25},
                {"analysis": {"interval": 0.5, "warmup": 0}},
                {"setWeight": 75},
                {"analysis": {"interval": 0.5, "warmup": 0}},
            ]
        }
    )
    assert target.state.proxy is not None
    with LoadGenerator(target.state.proxy.port) as load:
        load.wait_for(50)
        result = RolloutExecutor(target, analyze).run(release("v2", tmp_path), strategy)
        load.wait_for(load.result.total + 50)
    assert result.outcome == Outcome.PROMOTED
    assert load.result.failed == 0, load.result.errors[:3]
    assert [(r.step_index, r.canary_weight, r.canary_version) for r in asked] == [
        (1, 25, "v2"),
        (3, 75, "v2"),
    ]
    assert asked[0].window_end - asked[0].window_start >= 0.5
    assert serving(target) == {"hello v2"}


def test_failed_verdict_rolls_back_and_stops_the_canary(target, tmp_path):
    stable = deploy_v1(target, tmp_path)
    strategy = CanaryStrategy.model_validate(
        {"steps": [{"setWeight": 50}, {"analysis": {"interval": 0, "warmup": 0}}]}
    )

    def analyze(_request: AnalysisRequest) -> AnalysisVerdict:
        canary = target.state.canary_workers
        analyze.canary_pids = tuple(w.pid for w in canary)  # type: ignore[attr-defined]
        return AnalysisVerdict(VerdictResult.FAIL, "error rate 10 % > 1 %")

    assert target.state.proxy is not None
    with LoadGenerator(target.state.proxy.port) as load:
        load.wait_for(50)
        result = RolloutExecutor(target, analyze).run(release("v2", tmp_path), strategy)
        load.wait_for(load.result.total + 50)
    assert result.outcome == Outcome.ROLLED_BACK
    assert "error rate 10 % > 1 %" in result.reason
    assert load.result.failed == 0
    assert serving(target) == {"hello v1"}
    assert tuple(w.pid for w in target.state.stable_workers) == stable
    assert all_dead(analyze.canary_pids)  # type: ignore[attr-defined]
    saved = load_state(target.dir, "svc")
    assert saved is not None and saved.canary is None and "error rate" in (saved.reason or "")


def test_inconclusive_is_never_a_pass(target, tmp_path):
    deploy_v1(target, tmp_path)
    strategy = CanaryStrategy.model_validate(
        {
            "steps": [
                {"setWeight": 10},
                {"analysis": {"interval": 0, "warmup": 0, "max_inconclusive": 2}},
            ]
        }
    )
    calls: list[int] = []

    def analyze(request: AnalysisRequest) -> AnalysisVerdict:
        calls.append(request.attempt)
        return AnalysisVerdict(VerdictResult.INCONCLUSIVE, "12 samples < 50")

    result = RolloutExecutor(target, analyze).run(release("v2", tmp_path), strategy)
    assert calls == [1, 2]
    assert result.outcome == Outcome.ROLLED_BACK
    assert "inconclusive 2 times: 12 samples < 50" in result.reason
    assert serving(target) == {"hello v1"}


def test_canary_that_never_gets_ready_gets_no_traffic(target, tmp_path):
    deploy_v1(target, tmp_path)
    target.config = target.config.model_copy(update={"readiness_timeout": 1.0})
    strategy = CanaryStrategy.model_validate({"steps": [{"setWeight": 50}]})
    with pytest.raises(DeployError, match=r"not ready after 1 s \(health check answered 503\)"):
        RolloutExecutor(target).run(release("v2", tmp_path, NEVER_READY="1"), strategy)
    assert serving(target) == {"hello v1"}
    assert target.state.phase == Phase.STABLE and target.state.canary_workers == ()
    assert len(process.find_marked(target.dir)) == 3  # proxy + two v1 workers, no leftover


def test_worker_ignoring_sigterm_is_killed_after_the_grace_period(target, tmp_path):
    target.config = target.config.model_copy(update={"stop_grace_period": 0.5})
    RolloutExecutor(target).run(release("v1", tmp_path, IGNORE_SIGTERM="1"), FIRST)
    stubborn = tuple(w.pid for w in target.state.stable_workers)
    RolloutExecutor(target).run(release("v2", tmp_path), BLUE_GREEN)
    assert all_dead(stubborn)
    assert serving(target) == {"hello v2"}


def test_a_second_deployer_is_refused_while_one_holds_the_lock(target, tmp_path):
    with pytest.raises(DeployError, match="another deployer"):
        LocalTarget("svc", target.config, root=tmp_path)


def test_indefinite_pause_waits_for_promote_then_resumes(target, tmp_path):
    deploy_v1(target, tmp_path)
    strategy = CanaryStrategy.model_validate(
        {"steps": [{"setWeight": 50}, {"pause": {}}, {"setWeight": 100}]}
    )
    paused = RolloutExecutor(target).run(release("v2", tmp_path), strategy)
    assert paused.outcome == Outcome.PAUSED and target.state.phase == Phase.PAUSED
    assert serving(target) == {"hello v1", "hello v2"}  # 50/50 held

    resumed = RolloutExecutor(target).resume(strategy)

    assert resumed.outcome == Outcome.PROMOTED
    assert serving(target) == {"hello v2"}
    assert [w.version for w in target.state.stable_workers] == ["v2", "v2"]


def _judge(result: VerdictResult, asked: list[AnalysisRequest]):  # type: ignore[no-untyped-def]
    def analyze(request: AnalysisRequest) -> AnalysisVerdict:
        asked.append(request)
        return AnalysisVerdict(result, f"judge said {result.value}")

    return analyze


def test_rolling_judges_each_batch_against_the_old_workers_and_rolls_back(target, tmp_path):
    deploy_v1(target, tmp_path)
    asked: list[AnalysisRequest] = []
    result = RolloutExecutor(target, _judge(VerdictResult.FAIL, asked)).run(
        release("v2", tmp_path), ROLLING
    )
    assert result.outcome == Outcome.ROLLED_BACK and "judge said fail" in result.reason
    # One new worker against the one old worker left, each with half the traffic.
    assert [(r.stable_version, r.canary_version, r.canary_weight) for r in asked] == [
        ("v1", "v2", 50)
    ]
    assert serving(target) == {"hello v1"}


def test_rolling_is_verified_by_default_and_not_after_the_last_old_worker(target, tmp_path):
    deploy_v1(target, tmp_path)
    asked: list[AnalysisRequest] = []
    result = RolloutExecutor(target, _judge(VerdictResult.PASS, asked)).run(
        release("v2", tmp_path), ROLLING
    )
    assert result.outcome == Outcome.PROMOTED and len(asked) == 1  # 2 workers: 1 batch judged


def _mirror_share(target: LocalTarget) -> int:
    proxy = target.observe()["proxy"]
    assert proxy is not None
    return int(proxy["mirror"])


def _judge_seeing_the_mirror(  # type: ignore[no-untyped-def]
    target: LocalTarget, results: list[VerdictResult], asked: list[tuple[AnalysisRequest, int]]
):
    """A judge that answers ``results`` in turn and notes the proxy's mirror share."""

    def analyze(request: AnalysisRequest) -> AnalysisVerdict:
        asked.append((request, _mirror_share(target)))
        result = results[len(asked) - 1]
        return AnalysisVerdict(result, f"judge said {result.value}")

    return analyze


def test_blue_green_judges_green_against_blue_before_the_switch_by_default(target, tmp_path):
    blue = deploy_v1(target, tmp_path)
    asked: list[tuple[AnalysisRequest, int]] = []
    judge = _judge_seeing_the_mirror(target, [VerdictResult.FAIL], asked)
    result = RolloutExecutor(target, judge).run(release("v2", tmp_path), BLUE_GREEN)
    assert result.outcome == Outcome.ROLLED_BACK
    # Judged first before the switch, on copies of blue's requests: failing there, green
    # never gets traffic and nothing needs switching back.
    ((request, mirror),) = asked
    assert request.step_index == PRE_SWITCH_STEP and request.canary_weight == 0
    assert mirror == 100 and request.baseline_before is None
    assert "before the switch" in result.reason
    assert serving(target) == {"hello v1"}
    assert tuple(w.pid for w in target.state.stable_workers) == blue
    assert _mirror_share(target) == 0


def test_blue_green_after_the_switch_compares_side_by_side_and_switches_back(target, tmp_path):
    blue = deploy_v1(target, tmp_path)
    asked: list[tuple[AnalysisRequest, int]] = []
    judge = _judge_seeing_the_mirror(target, [VerdictResult.PASS, VerdictResult.FAIL], asked)
    result = RolloutExecutor(target, judge).run(release("v2", tmp_path), BLUE_GREEN)
    assert result.outcome == Outcome.ROLLED_BACK
    (before, mirror_before), (after, mirror_after) = asked
    assert before.step_index == PRE_SWITCH_STEP and mirror_before == 100
    # After the switch blue answers copies of green's requests: the same window for both
    # (no time-shifted baseline), judged while green has all the live traffic.
    assert after.step_index == 0 and after.canary_weight == 100
    assert after.baseline_before is None and mirror_after == 100
    assert "judge said fail" in result.reason and "before the switch" not in result.reason
    assert serving(target) == {"hello v1"}  # switched back to blue, still the same workers
    assert tuple(w.pid for w in target.state.stable_workers) == blue
    assert _mirror_share(target) == 0


def test_blue_green_without_the_pre_switch_analysis_is_judged_after_the_switch(target, tmp_path):
    deploy_v1(target, tmp_path)
    asked: list[tuple[AnalysisRequest, int]] = []
    judge = _judge_seeing_the_mirror(target, [VerdictResult.PASS], asked)
    post_only = BlueGreenStrategy.model_validate({**FAST, "pre_switch": False})
    result = RolloutExecutor(target, judge).run(release("v2", tmp_path), post_only)
    assert result.outcome == Outcome.PROMOTED
    ((request, mirror),) = asked
    assert request.step_index == 0 and request.canary_weight == 100 and mirror == 100
    assert serving(target) == {"hello v2"}
    assert _mirror_share(target) == 0


def test_opting_out_of_verification_is_explicit_and_said(target, tmp_path):
    deploy_v1(target, tmp_path)
    asked: list[AnalysisRequest] = []
    unverified = RollingStrategy.model_validate({"verify": False})
    result = RolloutExecutor(target, _judge(VerdictResult.FAIL, asked)).run(
        release("v2", tmp_path), unverified
    )
    assert result.outcome == Outcome.PROMOTED and asked == []
    assert "unverified: verify: false" in result.reason


def test_warm_up_is_left_out_of_the_first_window(target, tmp_path):
    import time

    deploy_v1(target, tmp_path)
    asked: list[AnalysisRequest] = []
    strategy = CanaryStrategy.model_validate(
        {"steps": [{"setWeight": 50}, {"analysis": {"interval": 0.2, "warmup": 0.6}}]}
    )
    started = time.time()
    executor = RolloutExecutor(target, _judge(VerdictResult.PASS, asked))
    assert executor.run(release("v2", tmp_path), strategy).outcome == Outcome.PROMOTED
    assert asked[0].window_start - started >= 0.6


def _requests_per_pool(target: LocalTarget, since: int) -> dict[str, int]:
    page = target.proxy().samples(since)
    counts: dict[str, int] = {}
    for sample in page.samples:
        counts[sample.pool] = counts.get(sample.pool, 0) + 1
    return counts


def test_a_canary_is_judged_against_a_fresh_baseline_started_with_it(target, tmp_path):
    """Kayenta's practice: as many workers of the stable version as the canary has, started
    at the same moment, each serving the same share of requests as a canary worker; the
    judge is told to compare with them, and they are gone once the rollout ends."""
    stable = deploy_v1(target, tmp_path)
    strategy = CanaryStrategy.model_validate(
        {"steps": [{"setWeight": 25}, {"analysis": {"interval": 1.5, "warmup": 0}}]}
    )
    seen: dict[str, object] = {}

    def analyze(request: AnalysisRequest) -> AnalysisVerdict:
        state = target.state
        seen["fresh"] = request.fresh_baseline
        seen["baseline"] = [(w.version, w.pid) for w in state.baseline_workers]
        seen["canary"] = len(state.canary_workers)
        seen["served"] = _requests_per_pool(target, seen["since"])  # type: ignore[arg-type]
        return AnalysisVerdict(VerdictResult.PASS, "looks fine")

    assert target.state.proxy is not None
    with LoadGenerator(target.state.proxy.port) as load:
        load.wait_for(50)
        seen["since"] = target.proxy().state()["samples_next"]
        result = RolloutExecutor(target, analyze).run(release("v2", tmp_path), strategy)
        load.wait_for(load.result.total + 50)
    assert result.outcome == Outcome.PROMOTED
    assert load.result.failed == 0, load.result.errors[:3]
    assert seen["fresh"] is True
    baseline = seen["baseline"]
    assert isinstance(baseline, list) and len(baseline) == seen["canary"] == 1
    assert baseline[0][0] == "v1" and baseline[0][1] not in stable  # a new worker of v1
    served = seen["served"]
    assert isinstance(served, dict)
    # 25 % canary (1 worker), 25 % fresh baseline (1 worker), 50 % stable (2 workers): the
    # baseline worker serves as many requests as the canary worker.
    assert served["baseline"] >= 20, served
    assert abs(served["baseline"] - served["canary"]) <= 0.2 * served["canary"] + 2, served
    assert target.state.baseline_workers == ()
    assert all_dead((baseline[0][1],))
    assert serving(target) == {"hello v2"}


def test_a_rolled_back_canary_takes_its_fresh_baseline_with_it(target, tmp_path):
    stable = deploy_v1(target, tmp_path)
    strategy = CanaryStrategy.model_validate(
        {"steps": [{"setWeight": 10}, {"analysis": {"interval": 0.3, "warmup": 0}}]}
    )
    pids: list[int] = []

    def analyze(_request: AnalysisRequest) -> AnalysisVerdict:
        pids.extend(w.pid for w in target.state.baseline_workers)
        return AnalysisVerdict(VerdictResult.FAIL, "error rate 10 % > 1 %")

    result = RolloutExecutor(target, analyze).run(release("v2", tmp_path), strategy)
    assert result.outcome == Outcome.ROLLED_BACK
    assert len(pids) == 1 and all_dead(tuple(pids))
    assert target.state.baseline_workers == () and target.state.canary_workers == ()
    assert tuple(w.pid for w in target.state.stable_workers) == stable
    assert serving(target) == {"hello v1"}


def test_a_canary_can_be_judged_against_the_running_stable_workers(target, tmp_path):
    deploy_v1(target, tmp_path)
    strategy = CanaryStrategy.model_validate(
        {
            "baseline": "stable",
            "steps": [{"setWeight": 10}, {"analysis": {"interval": 0.3, "warmup": 0}}],
        }
    )
    asked: list[tuple[bool, int]] = []

    def analyze(request: AnalysisRequest) -> AnalysisVerdict:
        asked.append((request.fresh_baseline, len(target.state.baseline_workers)))
        return AnalysisVerdict(VerdictResult.PASS, "looks fine")

    result = RolloutExecutor(target, analyze).run(release("v2", tmp_path), strategy)
    assert result.outcome == Outcome.PROMOTED
    assert asked == [(False, 0)]
