"""The deployment recorder and the history read back from the ledger.

The recorder writes DORA's times into every ledger event (when the rollout started, when it
was promoted, or rolled back and the previous version restored). The deployer keeps no file
beside the ledger: what `deploy status` shows as the last deployment and what `deploy
rollback` restores are replayed from these events, in an intact ledger only.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.deploy.executor import VerdictResult
from gatekeeper.deploy.record import (
    DeploymentHistory,
    DeploymentRecord,
    DeploymentRecorder,
    read_deployment_history,
)
from gatekeeper.ledger.deployments import deploy_events
from gatekeeper.ledger.dora import dora_report
from gatekeeper.ledger.registry import open_store
from gatekeeper.ledger.store import LedgerError, LedgerStore


@dataclass
class _Context:
    ledger: Path
    env: dict[str, str]

    @property
    def service_dir(self) -> Path:
        return self.ledger.parent

    def open_ledger(self, *, create: bool) -> LedgerStore:
        return open_store(str(self.ledger), base=self.ledger.parent, create=create)


def _record(
    n: int, *, environment: str = "production", target: str = "local", version: str | None = None
) -> DeploymentRecord:
    version = version or f"1.{n}"
    return DeploymentRecord(
        deployment_id=f"d{n}",
        service="shop",
        target=target,
        environment=environment,
        strategy="canary",
        release={
            "version": version,
            "workdir": f"/srv/shop/{version}",
            "env": {"GATEKEEPER_RELEASE_VERSION": version},
            "artifact_digest": f"sha256:{n:064d}",
            "decision_id": f"dec-{n}",
        },
        previous=None,
        gate_decision_id=f"dec-{n}",
        deploy_policy={"outcome": "pass"},
    )


def _rollout(context: _Context, outcome: str, n: int, **fields: Any) -> DeploymentRecorder:
    recorder = DeploymentRecorder(context, _record(n, **fields))  # type: ignore[arg-type]
    recorder.started()
    if outcome != "in_progress":
        recorder.finish(outcome, f"{outcome} in test")
    return recorder


def _history(context: _Context, target: str = "local") -> DeploymentHistory:
    return read_deployment_history(context, "shop", target=target)  # type: ignore[arg-type]


def _versions(history: DeploymentHistory) -> list[str]:
    return [p.release.version for p in history.promoted]


def test_events_carry_start_promotion_rollback_and_restore_times(tmp_path: Path) -> None:
    context = _Context(tmp_path / "ledger.db", {})
    _rollout(context, "promoted", 1)
    _rollout(context, "rolled_back", 2)
    store = context.open_ledger(create=False)
    try:
        events: list[dict[str, Any]] = [doc for _r, doc in deploy_events(store)]
        keys = dora_report(store, start=None, end=None)["overall"]
    finally:
        store.close()
    started, promoted, _again, rolled_back = (e["deployment"] for e in events)
    assert started["started_at"] == promoted["started_at"]
    assert promoted["promoted_at"] == promoted["finished_at"] >= promoted["started_at"]
    assert rolled_back["rolled_back_at"] == rolled_back["restored_at"]
    assert "promoted_at" not in rolled_back
    assert keys["change_failure_rate"]["value"] == 0.5
    assert keys["time_to_restore"]["samples"] == 1


def test_last_deployment_and_its_verdicts_are_read_back_from_the_ledger(tmp_path: Path) -> None:
    context = _Context(tmp_path / "ledger.db", {})
    _rollout(context, "promoted", 1)
    recorder = _rollout(context, "in_progress", 2)
    recorder.verdict(_Verdict(VerdictResult.FAIL))  # type: ignore[arg-type]
    recorder.finish("rolled_back", "analysis 'default' failed: error-rate 5.0 % > 1.0 %")

    last = _history(context).last
    assert last is not None
    assert (last.deployment_id, last.outcome) == ("d2", "rolled_back")
    assert last.reason == "analysis 'default' failed: error-rate 5.0 % > 1.0 %"
    assert last.release["workdir"] == "/srv/shop/1.2" and last.finished_at is not None
    assert last.deploy_policy == {"outcome": "pass"}
    assert [v["result"] for v in last.verdicts] == ["fail"]
    assert last.verdicts[0]["reason"] == "error-rate too high"


@dataclass(frozen=True)
class _Verdict:
    """What the recorder reads of a verdict (the judge's own results are tested in verify/)."""

    result: VerdictResult

    def to_document(self) -> dict[str, Any]:
        return {"result": self.result.value, "reason": "error-rate too high", "metrics": None}


def test_rollback_candidates_follow_promotions_and_rollbacks_in_the_ledger(
    tmp_path: Path,
) -> None:
    context = _Context(tmp_path / "ledger.db", {})
    _rollout(context, "promoted", 1)
    _rollout(context, "promoted", 2)
    _rollout(context, "rolled_back", 3)  # a canary rolled back was never promoted
    history = _history(context)
    assert _versions(history) == ["1.1", "1.2"]
    before = history.release_before("1.2")
    assert before is not None and before.release.workdir == "/srv/shop/1.1"

    # `deploy rollback` of 1.2: a deployment of 1.1 that ends "rolled back 1.2, restored 1.1".
    undo = DeploymentRecorder(context, _record(4, version="1.1"))  # type: ignore[arg-type]
    undo.started(previous_version="1.2")
    undo.finish("rolled_back", "1.2 rolled back", rolled_back_version="1.2", restored_version="1.1")
    history = _history(context)
    assert _versions(history) == ["1.1"]  # 1.2 is no longer "promoted"
    assert history.release_before("1.1") is None  # a second rollback has nothing to go to


def test_a_rollback_never_restores_a_release_of_another_environment(tmp_path: Path) -> None:
    context = _Context(tmp_path / "ledger.db", {})
    _rollout(context, "promoted", 1, environment="staging")
    _rollout(context, "promoted", 2, environment="production")
    history = _history(context)
    assert history.release_before("1.2") is None
    _rollout(context, "promoted", 3, environment="staging")
    before = _history(context).release_before("1.3")
    assert before is not None and before.release.version == "1.1"


def test_a_recovery_that_completed_a_promotion_counts_as_promoted(tmp_path: Path) -> None:
    context = _Context(tmp_path / "ledger.db", {})
    _rollout(context, "promoted", 1)
    recorder = _rollout(context, "in_progress", 2)
    recorder.ledger("deploy.recovered", "promoted", reason="recovered: promotion completed")
    history = _history(context)
    assert _versions(history) == ["1.1", "1.2"]
    assert history.last is not None and history.last.outcome == "promoted"


def test_each_target_has_its_own_history(tmp_path: Path) -> None:
    context = _Context(tmp_path / "ledger.db", {})
    _rollout(context, "promoted", 1)
    _rollout(context, "promoted", 2, target="kubernetes")
    local = _history(context)
    assert local.last is not None and local.last.deployment_id == "d1"
    assert _versions(local) == ["1.1"]
    assert _versions(_history(context, "kubernetes")) == ["1.2"]


def test_no_ledger_means_no_history(tmp_path: Path) -> None:
    history = _history(_Context(tmp_path / "missing.db", {}))
    assert history.last is None and history.promoted == ()
    assert not (tmp_path / "missing.db").exists()


def test_a_ledger_that_is_not_intact_is_an_error_not_a_shorter_history(tmp_path: Path) -> None:
    context = _Context(tmp_path / "ledger.db", {})
    _rollout(context, "promoted", 1)
    _rollout(context, "promoted", 2)
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("DELETE FROM gk_ledger_records WHERE seq = 4")  # 1.2's promotion
    with pytest.raises(LedgerError, match="not intact"):
        _history(context)


def test_deploy_history_refuses_a_ledger_that_is_not_intact(tmp_path: Path) -> None:
    from gatekeeper.deploy.operator import history

    context = _Context(tmp_path / "ledger.db", {})
    _rollout(context, "promoted", 1)
    _rollout(context, "rolled_back", 2)
    assert [row["outcome"] for row in history(context, "shop")] == [  # type: ignore[arg-type]
        "started",
        "promoted",
        "started",
        "rolled_back",
    ]
    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute("DELETE FROM gk_ledger_records WHERE seq = 4")  # 1.2's rollback
    with pytest.raises(LedgerError, match="not intact"):
        history(context, None)  # type: ignore[arg-type]
