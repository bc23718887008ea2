"""The deployment recorder writes DORA's times into every ledger event: when the rollout
started, and when it was promoted, or rolled back and the previous version restored."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatekeeper.deploy.record import DeploymentRecord, DeploymentRecorder
from gatekeeper.ledger.deployments import deploy_events
from gatekeeper.ledger.dora import dora_report
from gatekeeper.ledger.registry import open_store
from gatekeeper.ledger.store import LedgerStore


@dataclass
class _Context:
    ledger: Path
    env: dict[str, str]

    def open_ledger(self, *, create: bool) -> LedgerStore:
        return open_store(str(self.ledger), base=self.ledger.parent, create=True)


def _rollout(tmp_path: Path, context: _Context, outcome: str, n: int) -> None:
    record = DeploymentRecord(
        deployment_id=f"d{n}",
        service="shop",
        target="local",
        environment="production",
        strategy="canary",
        release={"version": f"1.{n}", "artifact_digest": f"sha256:{n:064d}"},
        previous=None,
        gate_decision_id=None,
        deploy_policy={},
    )
    directory = tmp_path / f"state{n}"
    directory.mkdir()
    recorder = DeploymentRecorder(context, record, directory)  # type: ignore[arg-type]
    recorder.ledger("deploy.started", "started")
    recorder.finish(outcome, f"{outcome} in test")


def test_events_carry_start_promotion_rollback_and_restore_times(tmp_path: Path) -> None:
    context = _Context(tmp_path / "ledger.db", {})
    _rollout(tmp_path, context, "promoted", 1)
    _rollout(tmp_path, context, "rolled_back", 2)
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
