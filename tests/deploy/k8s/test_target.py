"""The Kubernetes target driven by the real executor, against a fake API server reached
through a kubeconfig: strategies, verdicts, faults, crash recovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.deploy.errors import DeployError
from gatekeeper.deploy.executor import (
    AnalysisRequest,
    AnalysisVerdict,
    Outcome,
    RolloutExecutor,
    VerdictResult,
)
from gatekeeper.deploy.k8s.target import KubernetesTarget
from gatekeeper.deploy.recovery import recover
from gatekeeper.deploy.service_config import ServiceDeployConfig
from gatekeeper.deploy.state import Phase
from gatekeeper.deploy.strategy import BlueGreenStrategy, CanaryStrategy, RollingStrategy
from gatekeeper.deploy.target import CANARY, STABLE, target_class
from gatekeeper.errors import ConfigError
from tests.deploy.k8s.fakeapi import Behaviour, FakeApiServer, Fault, Snapshot
from tests.deploy.k8s.helpers import (
    APP,
    IMAGE,
    NAMESPACE,
    digest_of,
    image_of,
    make_target,
    release,
)

FIRST = CanaryStrategy.model_validate({"steps": [{"setWeight": 0}]})
CANARY_STEPS = CanaryStrategy.model_validate(
    {
        "steps": [
            {"setWeight": 20},
            {"analysis": {"interval": 0}},
            {"setWeight": 50},
            {"analysis": {"interval": 0}},
        ]
    }
)
CANARY_NAME = f"{APP}-canary"


def executor(
    target: KubernetesTarget, result: VerdictResult = VerdictResult.PASS
) -> RolloutExecutor:
    def analyze(_request: AnalysisRequest) -> AnalysisVerdict:
        return AnalysisVerdict(result, f"judge said {result}")

    return RolloutExecutor(target, analyze, sleep=lambda _s: None)


def deploy_v1(target: KubernetesTarget) -> None:
    result = executor(target).run(release("v1"), FIRST)
    assert result.outcome == Outcome.PROMOTED


def serving_pods(snapshot: Snapshot) -> int:
    """Ready pods the Service's selector reaches at one moment."""
    if snapshot.selector is None:
        return 0
    track = snapshot.selector.get("track")
    names = {STABLE: [APP], CANARY: [CANARY_NAME], None: [APP, CANARY_NAME]}[track]
    return sum(snapshot.pods.get(name, (0, 0, None))[1] for name in names)


def assert_always_served(server: FakeApiServer) -> None:
    """After the first pods were ready, the Service never pointed at zero ready pods."""
    history = server.cluster.history
    start = next(i for i, snap in enumerate(history) if serving_pods(snap) > 0)
    empty = [snap.what for snap in history[start:] if serving_pods(snap) == 0]
    assert not empty, f"the Service reached no ready pod after: {empty}"


def settled_on(server: FakeApiServer, version: str, replicas: int = 10) -> None:
    """One version serves 100 %: stable at full strength on it, canary at 0, selector stable."""
    stable = server.cluster.deployment(NAMESPACE, APP)
    assert stable is not None
    assert image_of(stable) == f"{IMAGE}@{digest_of(version)}"
    assert stable["spec"]["replicas"] == replicas
    assert stable["status"].get("readyReplicas") == replicas
    canary = server.cluster.deployment(NAMESPACE, CANARY_NAME)
    assert canary is None or canary["spec"]["replicas"] == 0
    service = server.cluster.service(NAMESPACE, APP)
    assert service is not None
    assert service["spec"]["selector"] == {"app": APP, "track": "stable"}


def test_registered_by_name() -> None:
    assert target_class("kubernetes") is KubernetesTarget


def test_first_deploy_creates_objects_by_server_side_apply(
    server: FakeApiServer, tmp_path: Path
) -> None:
    with make_target(server, tmp_path) as target:
        deploy_v1(target)
        settled_on(server, "v1")
        assert target.state.phase == Phase.STABLE and target.state.stable is not None
        assert len(target.state.stable_workers) == 10
    patches = [r for r in server.cluster.requests if r[0] == "PATCH"]
    assert patches
    for _method, _path, ctype, query in patches:
        assert ctype == "application/apply-patch+yaml"
        assert query["fieldManager"] == ["gatekeeper"] and query["force"] == ["true"]
    stable = server.cluster.deployment(NAMESPACE, APP)
    assert stable is not None
    assert stable["metadata"]["annotations"]["gatekeeper.dev/decision-id"] == "dec-v1"


def test_healthy_canary_is_promoted_through_replica_ratios(
    server: FakeApiServer, tmp_path: Path
) -> None:
    with make_target(server, tmp_path) as target:
        deploy_v1(target)
        seen: list[tuple[int, float | None]] = []

        def analyze(request: AnalysisRequest) -> AnalysisVerdict:
            seen.append((request.canary_weight, target.observe()["effective_canary_weight"]))
            return AnalysisVerdict(VerdictResult.PASS, "fine")

        result = RolloutExecutor(target, analyze, sleep=lambda _s: None).run(
            release("v2"), CANARY_STEPS
        )
        assert result.outcome == Outcome.PROMOTED
        # 10 pods per version: 20 % is 8 stable + 2 canary, 50 % is 5 + 5.
        assert seen == [(20, 20.0), (50, 50.0)]
        pods = [snap.pods for snap in server.cluster.history]
        assert {APP: (8, 8, "v1"), CANARY_NAME: (2, 2, "v2")} in pods
        assert {APP: (5, 5, "v1"), CANARY_NAME: (5, 5, "v2")} in pods
        settled_on(server, "v2")
        assert target.state.stable is not None and target.state.stable.version == "v2"
        assert target.state.canary is None
    assert_always_served(server)


def test_failed_verdict_rolls_back_to_stable(server: FakeApiServer, tmp_path: Path) -> None:
    with make_target(server, tmp_path) as target:
        deploy_v1(target)
        result = executor(target, VerdictResult.FAIL).run(release("v2"), CANARY_STEPS)
        assert result.outcome == Outcome.ROLLED_BACK
        assert "judge said fail" in result.reason
        settled_on(server, "v1")
        assert target.state.phase == Phase.STABLE
        assert target.state.reason is not None and "judge said fail" in target.state.reason
        assert target.observe()["effective_canary_weight"] == 0.0
    assert_always_served(server)


@pytest.mark.parametrize(
    "strategy",
    [RollingStrategy(), BlueGreenStrategy()],
    ids=["rolling", "blue-green"],
)
def test_rolling_and_blue_green_promote(
    server: FakeApiServer, tmp_path: Path, strategy: RollingStrategy | BlueGreenStrategy
) -> None:
    with make_target(server, tmp_path, replicas=3) as target:
        deploy_v1(target)
        result = executor(target).run(release("v2"), strategy)
        assert result.outcome == Outcome.PROMOTED
        settled_on(server, "v2", replicas=3)
    assert_always_served(server)


def test_canary_that_never_becomes_ready_is_reverted(server: FakeApiServer, tmp_path: Path) -> None:
    with make_target(server, tmp_path, rollout_timeout=0.5) as target:
        deploy_v1(target)
        server.cluster.behaviour[CANARY_NAME] = Behaviour(stuck=True)
        with pytest.raises(DeployError, match=r"payments-canary did not roll out within 0.5s"):
            executor(target).run(release("v2"), CANARY_STEPS)
        settled_on(server, "v1")
        assert target.state.phase == Phase.STABLE
        assert target.state.reason is not None and "rollout error" in target.state.reason
    assert_always_served(server)


def test_progress_deadline_fails_at_once(server: FakeApiServer, tmp_path: Path) -> None:
    with make_target(server, tmp_path) as target:
        deploy_v1(target)
        server.cluster.behaviour[CANARY_NAME] = Behaviour(deadline=True)
        with pytest.raises(DeployError, match="progress deadline exceeded"):
            executor(target).run(release("v2"), CANARY_STEPS)
        server.cluster.behaviour.pop(CANARY_NAME)
        assert target.state.phase == Phase.STABLE
        settled_on(server, "v1")


def test_transient_server_errors_are_retried(server: FakeApiServer, tmp_path: Path) -> None:
    with make_target(server, tmp_path) as target:
        deploy_v1(target)
        server.cluster.faults += [
            Fault("PATCH", f"/deployments/{CANARY_NAME}", 503, times=2),
            Fault("GET", f"/deployments/{APP}", 500, times=1),
        ]
        result = executor(target).run(release("v2"), CANARY_STEPS)
        assert result.outcome == Outcome.PROMOTED
        settled_on(server, "v2")


def test_persistent_errors_stop_the_rollout_with_the_servers_message(
    server: FakeApiServer, tmp_path: Path
) -> None:
    with make_target(server, tmp_path) as target:
        deploy_v1(target)
        server.cluster.faults.append(Fault("PATCH", f"/deployments/{CANARY_NAME}$", 403, times=-1))
        with pytest.raises(DeployError) as caught:
            executor(target).run(release("v2"), CANARY_STEPS)
        message = str(caught.value)
        assert "apply Deployment payments-canary in namespace shop: HTTP 403" in message
        assert "injected fault" in message
        assert target.state.phase == Phase.STABLE
        settled_on(server, "v1")


def test_wrong_credentials_and_unreachable_server_are_deploy_errors(
    server: FakeApiServer, tmp_path: Path
) -> None:
    kubeconfig = server.write_kubeconfig(tmp_path / "bad", namespace=NAMESPACE, token="nope")
    with (
        make_target(server, tmp_path, kubeconfig=str(kubeconfig)) as target,
        pytest.raises(DeployError, match="HTTP 401"),
    ):
        executor(target).run(release("v1"), FIRST)
    server.stop()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with make_target(server, elsewhere) as t:
        with pytest.raises(DeployError, match="cannot reach the API server"):
            t.begin(release("v1"), "canary")
        assert t.observe()["cluster_error"] is not None


def test_broken_kubeconfig_is_a_config_error(tmp_path: Path, server: FakeApiServer) -> None:
    broken = tmp_path / "kubeconfig.broken"
    broken.write_text("apiVersion: v1\nkind: Config\ncurrent-context: nowhere\n", encoding="utf-8")
    with make_target(server, tmp_path, kubeconfig=str(broken)) as target:
        with pytest.raises(ConfigError) as caught:
            target.begin(release("v1"), "canary")
        assert caught.value.exit_code == 2


def test_missing_kubernetes_section_is_a_config_error(tmp_path: Path) -> None:
    config = ServiceDeployConfig.model_validate({"start": ["python", "-m", "app"]})
    with pytest.raises(ConfigError, match=r"deploy\.kubernetes"):
        KubernetesTarget("payments", config, root=tmp_path)


def test_one_deployer_at_a_time(server: FakeApiServer, tmp_path: Path) -> None:
    with (
        make_target(server, tmp_path),
        pytest.raises(DeployError, match="another deployer"),
    ):
        make_target(server, tmp_path)


def test_killed_deployer_mid_canary_is_reverted_by_the_next(
    server: FakeApiServer, tmp_path: Path
) -> None:
    target = make_target(server, tmp_path)
    deploy_v1(target)
    # The deployer dies half-way: canary at 50 %, both versions serving.
    target.begin(release("v2"), "canary")
    target.add_workers(CANARY, 1)
    target.set_canary_weight(50)
    target.close()
    assert server.cluster.service(NAMESPACE, APP)["spec"]["selector"] == {"app": APP}  # type: ignore[index]

    with make_target(server, tmp_path) as again:
        assert again.state.phase.in_flight
        report = recover(again)
        assert report.action == "reverted" and report.version == "v1"
        settled_on(server, "v1")
        assert recover(again).action == "none"
    assert_always_served(server)


def test_killed_deployer_during_promotion_is_completed(
    server: FakeApiServer, tmp_path: Path
) -> None:
    target = make_target(server, tmp_path)
    deploy_v1(target)
    target.begin(release("v2"), "canary")
    target.add_workers(CANARY, 2)
    target.set_progress(phase=Phase.PROMOTING)  # the verdict was pass, then the deployer died
    target.close()
    with make_target(server, tmp_path) as again:
        report = recover(again)
        assert report.action == "completed" and report.version == "v2"
        settled_on(server, "v2")


def test_a_promotion_without_ready_canary_pods_is_reverted_not_completed(
    server: FakeApiServer, tmp_path: Path
) -> None:
    target = make_target(server, tmp_path)
    deploy_v1(target)
    target.begin(release("v2"), "canary")
    target.add_workers(CANARY, 2)
    target.set_progress(phase=Phase.PROMOTING)
    target.close()
    # The recorded slots say ready; the cluster no longer has a ready canary pod.
    server.cluster.behaviour[CANARY_NAME] = Behaviour(stuck=True)
    canary = server.cluster.deployment(NAMESPACE, CANARY_NAME)
    assert canary is not None
    canary["metadata"]["generation"] += 1
    with make_target(server, tmp_path) as again:
        report = recover(again)
        assert report.action == "reverted" and report.version == "v1"
        settled_on(server, "v1")


def test_lost_state_is_not_overwritten_but_adopted(server: FakeApiServer, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    with make_target(server, first) as target:
        deploy_v1(target)
    # Another machine, no state file: a blind "first deploy" would replace v1 unjudged.
    with make_target(server, second) as fresh:
        with pytest.raises(DeployError, match="already runs version v1"):
            executor(fresh).run(release("v2"), CANARY_STEPS)
        # (The executor reverted the attempt: nothing changed in the cluster.)
        settled_on(server, "v1")
        report = recover(fresh)
        assert report.version == "v1" and "adopted" in report.message
        result = executor(fresh).run(release("v2"), CANARY_STEPS)
        assert result.outcome == Outcome.PROMOTED
        settled_on(server, "v2")


def test_objects_not_made_by_gatekeeper_are_left_alone(
    server: FakeApiServer, tmp_path: Path
) -> None:
    with make_target(server, tmp_path) as target:
        deploy_v1(target)
    stable = server.cluster.deployment(NAMESPACE, APP)
    assert stable is not None
    del stable["metadata"]["labels"]["app.kubernetes.io/managed-by"]
    other = tmp_path / "b"
    other.mkdir()
    with make_target(server, other) as fresh:
        with pytest.raises(DeployError, match="not managed by gatekeeper"):
            fresh.begin(release("v2"), "canary")
        with pytest.raises(DeployError, match="not managed by gatekeeper"):
            recover(fresh)


def test_recovery_repairs_drift_in_a_settled_deployment(
    server: FakeApiServer, tmp_path: Path
) -> None:
    with make_target(server, tmp_path) as target:
        deploy_v1(target)
        # Someone scaled the stable Deployment by hand and pointed the Service at everything.
        stable = server.cluster.deployment(NAMESPACE, APP)
        service = server.cluster.service(NAMESPACE, APP)
        assert stable is not None and service is not None
        stable["spec"]["replicas"] = 3
        stable["metadata"]["generation"] += 1
        service["spec"]["selector"] = {"app": APP}
        assert recover(target).action == "reconciled"
        settled_on(server, "v1")
        assert recover(target).action == "none"


def test_observe_reports_what_the_cluster_runs(server: FakeApiServer, tmp_path: Path) -> None:
    with make_target(server, tmp_path) as target:
        assert recover(target).action == "none"  # nothing deployed: nothing created
        assert server.cluster.objects == {}
        deploy_v1(target)
        view = target.observe()
        assert view["cluster_error"] is None
        stable = view["cluster"]["stable"]
        assert stable["version"] == "v1" and stable["decision_id"] == "dec-v1"
        assert stable["ready"] == 10 and stable["image"].endswith(digest_of("v1"))
        assert view["cluster"]["canary"] is None
        assert view["cluster"]["service_selector"] == {"app": APP, "track": "stable"}


def test_a_response_that_is_not_a_deployment_is_an_error_not_a_crash(
    server: FakeApiServer, tmp_path: Path
) -> None:
    with make_target(server, tmp_path) as target:
        deploy_v1(target)
        # 200 with a Status body where a Deployment was expected (a broken proxy, say).
        server.cluster.faults.append(Fault("GET", f"/deployments/{CANARY_NAME}/status$", 200))
        with pytest.raises(DeployError, match="unexpected response"):
            executor(target).run(release("v2"), CANARY_STEPS)
        settled_on(server, "v1")


def test_deploy_status_from_another_machine_adopts_what_the_cluster_runs(
    server: FakeApiServer, tmp_path: Path
) -> None:
    """`deploy status --target kubernetes` where no state file exists (a CI runner other than
    the one that deployed) finds the state where the Kubernetes target keeps it and takes over
    the stable Deployment this deployer made, instead of "never deployed from here"."""
    from gatekeeper.config import GatekeeperConfig
    from gatekeeper.deploy.context import ServiceContext
    from gatekeeper.deploy.operator import status

    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    with make_target(server, first) as target:
        deploy_v1(target)
    with make_target(server, second) as fresh:  # the same settings, from the other checkout
        config = fresh.config
    context = ServiceContext(second, GatekeeperConfig(), config, str(tmp_path / "l.db"), {})
    result = status(context, APP, target="kubernetes")
    assert result.recovery is not None and result.recovery.version == "v1"
    assert "adopted" in result.recovery.message
    assert result.live["state"]["stable"]["version"] == "v1"
    # Read where the Kubernetes target keeps it, a second status has nothing left to adopt.
    assert status(context, APP, target="kubernetes").recovery is None
    settled_on(server, "v1")
