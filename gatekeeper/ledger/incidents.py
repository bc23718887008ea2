"""Production incidents in the ledger: a failure noticed after a deployment, linked to the
deployment that caused it (``deploy.incident_opened``) and, later, its end
(``deploy.incident_resolved``). DORA's change failure rate and time to restore read them
(:mod:`gatekeeper.ledger.dora`).

Both are ordinary deployment records (``kind: deploy.*``) appended to the same chain, so they
are signed, verified and listed by ``deploy history`` like every other deployment event.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gatekeeper.errors import InputError
from gatekeeper.ledger.canonical import timestamp
from gatekeeper.ledger.deployments import deploy_events, record_deploy_event
from gatekeeper.ledger.signing import Signer
from gatekeeper.ledger.store import LedgerStore, NewRecord

INCIDENT_OPENED = "deploy.incident_opened"
INCIDENT_RESOLVED = "deploy.incident_resolved"
MAX_SUMMARY = 2000


@dataclass(frozen=True)
class IncidentRecorded:
    incident_id: str
    deployment_id: str
    service: str
    environment: str
    at: str
    record: NewRecord

    def to_document(self, kind: str) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "kind": kind,
            "deployment_id": self.deployment_id,
            "service": self.service,
            "environment": self.environment,
            "at": self.at,
            "seq": self.record.seq,
            "record_id": self.record.decision_id,
        }


def parse_time(value: str | None, *, option: str, now: datetime | None = None) -> str:
    """An RFC 3339 time with an offset (or now) as a ledger timestamp."""
    if value is None:
        return timestamp(now or datetime.now(UTC))
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{option} expects an RFC 3339 time (2026-11-30T12:00:00Z), got {value!r}"
        ) from None
    if moment.tzinfo is None:
        raise InputError(f"{option} {value!r} has no UTC offset (add Z or +HH:MM)")
    return timestamp(moment)


def _deployments(store: LedgerStore, service: str) -> dict[str, tuple[dict[str, Any], str]]:
    """deployment id -> (release of its last event, kind of its last event)."""
    found: dict[str, tuple[dict[str, Any], str]] = {}
    for _record, doc in deploy_events(store, service=service):
        details = doc.get("deployment") or {}
        deployment_id = details.get("deployment_id")
        kind = str(doc.get("kind"))
        if isinstance(deployment_id, str) and not kind.startswith("deploy.incident"):
            found[deployment_id] = (dict(doc.get("release") or {}), kind)
    return found


def _newest_promoted(store: LedgerStore, service: str, environment: str) -> str | None:
    newest: str | None = None
    for _record, doc in deploy_events(store, service=service):
        release = doc.get("release") or {}
        if doc.get("kind") in ("deploy.promoted", "deploy.recovered") and (
            doc.get("outcome") == "promoted" and release.get("environment") == environment
        ):
            newest = (doc.get("deployment") or {}).get("deployment_id")
    return newest


def open_incident(
    store: LedgerStore,
    *,
    service: str,
    environment: str = "production",
    deployment_id: str | None,
    summary: str,
    at: str,
    source: str,
    signer: Signer | None,
    require_known: bool = True,
    version: str | None = None,
    now: datetime | None = None,
) -> IncidentRecorded:
    """Record a production failure caused by ``deployment_id`` (default: the service's newest
    promoted deployment in ``environment``). Unknown deployment: InputError."""
    if len(summary) > MAX_SUMMARY:
        raise InputError(f"the incident summary is longer than {MAX_SUMMARY} characters")
    if deployment_id is None:
        deployment_id = _newest_promoted(store, service, environment)
        if deployment_id is None:
            raise InputError(
                f"no promoted deployment of {service} to {environment} is recorded: name the "
                "deployment that caused the incident (--deployment)"
            )
    known = _deployments(store, service)
    if deployment_id in known:
        release, _kind = known[deployment_id]
    elif require_known:
        raise InputError(f"no deployment {deployment_id} of {service} is recorded in the ledger")
    else:
        # The decision service holds decisions, not the deployer's records: it takes the
        # alerting tool's word for the deployment (DORA then says the deployment is missing).
        release = {"service": service, "environment": environment, "version": version}
    incident_id = f"inc-{uuid.uuid4().hex[:16]}"
    record = record_deploy_event(
        store,
        kind=INCIDENT_OPENED,
        release=release,
        outcome="open",
        details={
            "incident_id": incident_id,
            "deployment_id": deployment_id,
            "opened_at": at,
            "summary": summary,
            "source": source,
        },
        signer=signer,
        now=now,
    )
    environment = str(release.get("environment") or environment)
    return IncidentRecorded(incident_id, deployment_id, service, environment, at, record)


def incident_state(store: LedgerStore, incident_id: str) -> dict[str, Any] | None:
    """The incident's opening details (+ ``resolved_at`` once resolved), or None."""
    state: dict[str, Any] | None = None
    for _record, doc in deploy_events(store):
        details: Mapping[str, Any] = doc.get("deployment") or {}
        if details.get("incident_id") != incident_id:
            continue
        if doc.get("kind") == INCIDENT_OPENED:
            state = {**details, "release": dict(doc.get("release") or {})}
        elif doc.get("kind") == INCIDENT_RESOLVED and state is not None:
            state["resolved_at"] = details.get("resolved_at")
    return state


def resolve_incident(
    store: LedgerStore,
    *,
    incident_id: str,
    at: str,
    summary: str,
    source: str,
    signer: Signer | None,
    service: str | None = None,
    now: datetime | None = None,
) -> IncidentRecorded:
    """Record that service was restored. Unknown, another project's, already resolved, or
    resolved before it opened: InputError."""
    state = incident_state(store, incident_id)
    release = (state or {}).get("release") or {}
    if state is None or (service is not None and release.get("service") != service):
        raise InputError(f"no incident {incident_id} is recorded in the ledger")
    if state.get("resolved_at"):
        raise InputError(f"incident {incident_id} was already resolved at {state['resolved_at']}")
    if at < str(state.get("opened_at")):
        raise InputError(
            f"incident {incident_id} cannot be resolved at {at}, before it opened "
            f"({state.get('opened_at')})"
        )
    if len(summary) > MAX_SUMMARY:
        raise InputError(f"the incident summary is longer than {MAX_SUMMARY} characters")
    deployment_id = str(state.get("deployment_id"))
    record = record_deploy_event(
        store,
        kind=INCIDENT_RESOLVED,
        release=release,
        outcome="resolved",
        details={
            "incident_id": incident_id,
            "deployment_id": deployment_id,
            "opened_at": state.get("opened_at"),
            "resolved_at": at,
            "summary": summary,
            "source": source,
        },
        signer=signer,
        now=now,
    )
    return IncidentRecorded(
        incident_id,
        deployment_id,
        str(release.get("service") or ""),
        str(release.get("environment") or ""),
        at,
        record,
    )
