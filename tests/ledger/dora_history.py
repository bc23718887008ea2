"""A small production history whose four DORA keys are computed by hand in test_dora.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gatekeeper.ledger.chain import record_builder
from gatekeeper.ledger.deployments import record_deploy_event
from gatekeeper.ledger.incidents import open_incident, resolve_incident
from gatekeeper.ledger.signing import Signer
from gatekeeper.ledger.store import LedgerStore


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def decision(
    store: LedgerStore,
    decision_id: str,
    service: str,
    version: str,
    digest: str,
    commit_time: str | None,
    when: str,
    signer: Signer | None = None,
) -> None:
    release: dict[str, Any] = {
        "service": service,
        "version": version,
        "artifact_digest": digest,
        "environment": "production",
    }
    if commit_time:
        release["commit_time"] = commit_time
    fields = {
        "kind": "gate.decision",
        "decision_id": decision_id,
        "outcome": "pass",
        "release": release,
    }
    store.append(record_builder(fields, recorded_at=when, signer=signer), {})


def rollout(
    store: LedgerStore,
    deployment_id: str,
    service: str,
    version: str,
    digest: str,
    decision_id: str,
    *,
    started: str,
    ended: str | None,
    outcome: str,
    environment: str = "production",
    restores: tuple[str, str] | None = None,
    signer: Signer | None = None,
) -> None:
    """deploy.started, then deploy.promoted / deploy.rolled_back as the recorder writes them."""
    release = {
        "service": service,
        "version": version,
        "artifact_digest": digest,
        "environment": environment,
    }
    base = {
        "deployment_id": deployment_id,
        "target": "local",
        "strategy": "canary",
        "gate_decision_id": decision_id,
        "started_at": started,
    }
    record_deploy_event(
        store,
        kind="deploy.started",
        release=release,
        outcome="started",
        details=base,
        signer=signer,
        now=at(started),
    )
    if ended is None:
        return
    details: dict[str, Any] = {**base, "finished_at": ended, "reason": f"{outcome} by test"}
    if outcome == "promoted":
        details["promoted_at"] = ended
    else:
        details.update(rolled_back_at=ended, restored_at=ended)
    if restores:
        details.update(rolled_back_version=restores[0], restored_version=restores[1])
    record_deploy_event(
        store,
        kind=f"deploy.{outcome}",
        release=release,
        outcome=outcome,
        details=details,
        signer=signer,
        now=at(ended),
    )


def small_history(store: LedgerStore, signer: Signer | None = None) -> str:
    """The history of test_dora.py; returns the incident id."""
    d = "sha256:" + "a" * 63
    decision(
        store, "D1", "shop", "1", d + "1", "2026-11-01T08:00:00Z", "2026-11-01T09:00:00Z", signer
    )
    decision(
        store, "D2", "shop", "2", d + "2", "2026-11-02T10:00:00Z", "2026-11-02T11:00:00Z", signer
    )
    decision(
        store, "D3", "shop", "3", d + "3", "2026-11-04T00:00:00Z", "2026-11-04T01:00:00Z", signer
    )
    decision(store, "D4", "shop", "4", d + "4", None, "2026-11-07T00:00:00Z", signer)
    decision(
        store, "C1", "cart", "9", d + "9", "2026-11-08T00:30:00Z", "2026-11-08T01:00:00Z", signer
    )
    rollout(
        store,
        "dep1",
        "shop",
        "1",
        d + "1",
        "D1",
        started="2026-11-01T10:00:00Z",
        ended="2026-11-01T12:00:00Z",
        outcome="promoted",
        signer=signer,
    )
    rollout(
        store,
        "dep2",
        "shop",
        "2",
        d + "2",
        "D2",
        started="2026-11-02T12:00:00Z",
        ended="2026-11-02T12:30:00Z",
        outcome="rolled_back",
        signer=signer,
    )
    rollout(
        store,
        "dep3",
        "shop",
        "2",
        d + "2",
        "D2",
        started="2026-11-03T10:00:00Z",
        ended="2026-11-03T11:00:00Z",
        outcome="promoted",
        signer=signer,
    )
    opened = open_incident(
        store,
        service="shop",
        deployment_id="dep3",
        summary="checkout 500s",
        at="2026-11-03T14:00:00.000000Z",
        source="test",
        signer=signer,
    )
    resolve_incident(
        store,
        incident_id=opened.incident_id,
        at="2026-11-03T16:00:00.000000Z",
        summary="fixed",
        source="test",
        signer=signer,
    )
    rollout(
        store,
        "dep4",
        "shop",
        "3",
        d + "3",
        "D3",
        started="2026-11-05T00:00:00Z",
        ended="2026-11-05T06:00:00Z",
        outcome="promoted",
        signer=signer,
    )
    # `deploy rollback` after promotion: v3 replaced by v2 (a rollout of v2 that restores it)
    rollout(
        store,
        "undo",
        "shop",
        "2",
        d + "2",
        "D2",
        started="2026-11-06T00:00:00Z",
        ended="2026-11-06T00:10:00Z",
        outcome="rolled_back",
        restores=("3", "2"),
        signer=signer,
    )
    rollout(
        store,
        "dep5",
        "shop",
        "4",
        d + "4",
        "D4",
        started="2026-11-08T00:00:00Z",
        ended="2026-11-08T01:00:00Z",
        outcome="promoted",
        signer=signer,
    )
    rollout(
        store,
        "dep6",
        "cart",
        "9",
        d + "9",
        "C1",
        started="2026-11-09T00:00:00Z",
        ended="2026-11-09T00:30:00Z",
        outcome="promoted",
        signer=signer,
    )
    rollout(
        store,
        "dep7",
        "shop",
        "4",
        d + "4",
        "D4",
        environment="staging",
        started="2026-11-07T10:00:00Z",
        ended="2026-11-07T11:00:00Z",
        outcome="promoted",
        signer=signer,
    )
    rollout(
        store,
        "dep8",
        "shop",
        "5",
        d + "5",
        "D4",
        started="2026-11-10T00:00:00Z",
        ended=None,
        outcome="started",
        signer=signer,
    )
    return opened.incident_id
