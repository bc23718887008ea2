"""The typed deployment record, its recorder, and the deployment history derived from the
ledger.

The ledger's deploy events are the one source of truth for what the deployer did: the
recorder appends every step that matters (started, with the whole release record and the
release it replaces; each verdict with its numbers; promoted; rolled back with the reason;
recovered), and :func:`read_deployment_history` replays a service's events into its last
deployment (``deploy status``, ``deploy promote``) and its promoted releases (``deploy
rollback``: the version to restore). Nothing beside the ledger can disagree with it. The
target's own state (``state.json``: which workers run, the traffic split) is the machinery's,
not the history, and stays with the target.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from gatekeeper.deploy.analysis import VerdictRecord
from gatekeeper.deploy.context import ServiceContext
from gatekeeper.deploy.state import ReleaseRecord
from gatekeeper.errors import GatekeeperError
from gatekeeper.ledger.deployments import record_deploy_event, verified_deploy_events
from gatekeeper.ledger.signing import signer_from_env
from gatekeeper.ledger.store import LedgerError, LedgerMissing, StoredRecord

DEPLOYMENT_SCHEMA = "gatekeeper.deployment/v1"


MAX_STORED_VERDICTS = 100  # per deployment, in `deploy status`: the newest


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class DeploymentRecord:
    """The last rollout of a service: its release, permission, verdicts and end."""

    deployment_id: str
    service: str
    target: str
    environment: str
    strategy: str
    release: dict[str, Any]
    previous: dict[str, Any] | None
    gate_decision_id: str | None
    deploy_policy: dict[str, Any]
    started_at: str = field(default_factory=now_text)
    finished_at: str | None = None
    outcome: str = "in_progress"  # promoted | rolled_back | paused | in_progress
    reason: str | None = None
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    def to_document(self) -> dict[str, Any]:
        return {
            "schema": DEPLOYMENT_SCHEMA,
            "deployment_id": self.deployment_id,
            "service": self.service,
            "target": self.target,
            "environment": self.environment,
            "strategy": self.strategy,
            "release": self.release,
            "previous": self.previous,
            "gate_decision_id": self.gate_decision_id,
            "deploy_policy": self.deploy_policy,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": self.outcome,
            "reason": self.reason,
            "verdicts": self.verdicts[-MAX_STORED_VERDICTS:],
        }


@dataclass(frozen=True)
class PromotedRelease:
    """A release that served 100 % after a rollout (newest last in the history)."""

    release: ReleaseRecord
    environment: str
    at: str
    deployment_id: str


@dataclass(frozen=True)
class DeploymentHistory:
    """What a service's deploy events in the ledger say: its last rollout on a target and
    the releases promoted there, with every rollback of a promoted release taken back."""

    last: DeploymentRecord | None
    promoted: tuple[PromotedRelease, ...]  # oldest first

    def release_before(self, current: str | None) -> PromotedRelease | None:
        """The newest promoted release other than ``current`` (the one serving), in the
        environment ``current`` was promoted to: a rollback restores what that environment
        ran, never a release only ever judged for another one."""
        serving = [p for p in self.promoted if p.release.version == current]
        environment = serving[-1].environment if serving else None
        older = [
            p
            for p in self.promoted
            if p.release.version != current and environment in (None, p.environment)
        ]
        return older[-1] if older else None


NO_HISTORY = DeploymentHistory(None, ())
ENDED_KINDS = ("deploy.promoted", "deploy.rolled_back", "deploy.paused", "deploy.recovered")


def read_deployment_history(
    context: ServiceContext, service: str, *, target: str
) -> DeploymentHistory:
    """The history of ``service`` on ``target`` from the ledger, read while the whole chain
    is verified (a ledger that is not intact is a LedgerError, exit 3). No ledger yet: no
    history."""
    try:
        store = context.open_ledger(create=False)
    except LedgerMissing:
        return NO_HISTORY
    try:
        return fold_deploy_events(
            verified_deploy_events(store, service=service, cache_dir=context.service_dir),
            target=target,
        )
    finally:
        store.close()


def fold_deploy_events(
    events: Iterable[tuple[StoredRecord, Mapping[str, Any]]], *, target: str
) -> DeploymentHistory:
    """Replay deploy events (chain order) into the last deployment and the promoted list."""
    last: DeploymentRecord | None = None
    # deployment id -> its full release record (None: recorded before events carried one)
    releases: dict[str, tuple[ReleaseRecord | None, str]] = {}
    promoted: list[PromotedRelease] = []
    for stored, doc in events:
        details: Mapping[str, Any] = doc.get("deployment") or {}
        deployment_id = details.get("deployment_id")
        if details.get("target") != target or not isinstance(deployment_id, str):
            continue
        kind = doc.get("kind")
        if kind == "deploy.started":
            last = _started_record(stored, doc, details)
            releases[deployment_id] = (_release_record(stored, last.release), last.environment)
            continue
        current = last if last is not None and last.deployment_id == deployment_id else None
        if kind == "deploy.verdict" and current is not None:
            verdict = details.get("verdict")
            if isinstance(verdict, dict):
                current.verdicts.append({"at": stored.recorded_at, **verdict})
                del current.verdicts[:-MAX_STORED_VERDICTS]
        if kind not in ENDED_KINDS or deployment_id not in releases:
            continue
        outcome = str(doc.get("outcome"))
        if current is not None:
            current.outcome = outcome
            current.reason = details.get("reason")
            current.finished_at = None if outcome == "paused" else details.get("finished_at")
        release, environment = releases[deployment_id]
        if outcome == "promoted" and release is not None:
            at = str(details.get("promoted_at") or stored.recorded_at)
            promoted.append(PromotedRelease(release, environment, at, deployment_id))
        undone = details.get("rolled_back_version")
        if (
            kind == "deploy.rolled_back"
            and release is not None
            and details.get("restored_version") == release.version
            and isinstance(undone, str)
            and undone != release.version
        ):
            # `deploy rollback` of a promoted release: it is no longer "promoted", so a
            # second rollback goes one further back.
            while promoted and promoted[-1].release.version == undone:
                promoted.pop()
    return DeploymentHistory(last, tuple(promoted))


def _started_record(
    stored: StoredRecord, doc: Mapping[str, Any], details: Mapping[str, Any]
) -> DeploymentRecord:
    event_release: Mapping[str, Any] = doc.get("release") or {}
    release = details.get("release_record")
    if not isinstance(release, dict):  # recorded before events carried the whole release
        release = {
            "version": event_release.get("version"),
            "artifact_digest": event_release.get("artifact_digest"),
        }
    previous = details.get("previous")
    policy = details.get("deploy_policy")
    return DeploymentRecord(
        deployment_id=str(details["deployment_id"]),
        service=str(event_release.get("service") or stored.service or ""),
        target=str(details.get("target")),
        environment=str(event_release.get("environment") or ""),
        strategy=str(details.get("strategy") or ""),
        release=dict(release),
        previous=dict(previous) if isinstance(previous, dict) else None,
        gate_decision_id=details.get("gate_decision_id"),
        deploy_policy=dict(policy) if isinstance(policy, dict) else {},
        started_at=str(details.get("started_at") or stored.recorded_at),
    )


def _release_record(stored: StoredRecord, release: Mapping[str, Any]) -> ReleaseRecord | None:
    if "workdir" not in release:
        return None  # not enough to start it again: never a rollback candidate
    try:
        return ReleaseRecord.model_validate(release)
    except ValidationError as exc:
        first = str(exc).splitlines()[0]
        raise LedgerError(
            f"record #{stored.seq} ({stored.decision_id}) holds no valid release: {first}"
        ) from None


class DeploymentRecorder:
    """Appends a deployment's events to the ledger (and keeps its record in memory current,
    for the result of the command that runs it)."""

    def __init__(self, context: ServiceContext, record: DeploymentRecord):
        self.context = context
        self.record = record
        self.signer = signer_from_env(context.env)

    def started(self, **details: Any) -> None:
        """The first event of a deployment: it carries everything the history needs to know
        of it later (the whole release record, to start it again; the release it replaces;
        the deploy-time policies' result)."""
        self.ledger(
            "deploy.started",
            "started",
            release_record=self.record.release,
            previous=self.record.previous,
            deploy_policy=self.record.deploy_policy,
            **details,
        )

    def ledger(
        self,
        kind: str,
        outcome: str,
        *,
        create: bool = True,
        times: Mapping[str, str] | None = None,
        **details: Any,
    ) -> None:
        release = self.record.release
        event_release = {
            "service": self.record.service,
            "version": release.get("version"),
            "artifact_digest": release.get("artifact_digest"),
            "environment": self.record.environment,
        }
        event_details = {
            "deployment_id": self.record.deployment_id,
            "target": self.record.target,
            "strategy": self.record.strategy,
            "gate_decision_id": self.record.gate_decision_id,
            # DORA's times (docs/dora.md): every event says when its rollout started.
            "started_at": self.record.started_at,
            **(times or {}),
            **details,
        }
        store = self.context.open_ledger(create=create)
        try:
            record_deploy_event(
                store,
                kind=kind,
                release=event_release,
                outcome=outcome,
                details=event_details,
                signer=self.signer,
            )
        finally:
            store.close()
        self._report(kind, event_release, outcome, event_details)

    def _report(
        self, kind: str, release: dict[str, Any], outcome: str, details: dict[str, Any]
    ) -> None:
        """With a decision service (GATEKEEPER_SERVER), it records the event too, beside the
        decision the deployment rests on. A service that cannot be reached mid-rollout does
        not stop the rollout (the local record stands); it is said on stderr."""
        from gatekeeper.ledger.remote import SERVER_ENV, report_deploy_event

        url = self.context.env.get(SERVER_ENV, "").strip()
        if not url:
            return
        fields = {"kind": kind, "release": release, "outcome": outcome, "deployment": details}
        try:
            report_deploy_event(url, fields, env=self.context.env, cwd=self.context.service_dir)
        except GatekeeperError as error:
            print(
                f"gatekeeper: warning: {kind} not recorded by the decision service: "
                f"{error.one_line()}",
                file=sys.stderr,
                flush=True,
            )

    def verdict(self, verdict: VerdictRecord) -> None:
        document = verdict.to_document()
        self.record.verdicts.append({"at": now_text(), **document})
        self.ledger("deploy.verdict", verdict.result.value, verdict=document)

    def finish(self, outcome: str, reason: str, **details: Any) -> None:
        self.record.outcome = outcome
        self.record.reason = reason
        at = now_text()
        self.record.finished_at = at if outcome != "paused" else None
        kind = {
            "promoted": "deploy.promoted",
            "rolled_back": "deploy.rolled_back",
            "paused": "deploy.paused",
        }[outcome]
        self.ledger(kind, outcome, reason=reason, times=outcome_times(outcome, at), **details)


def outcome_times(outcome: str, at: str) -> dict[str, str]:
    """When a rollout ended its way: promoted (the new version serves 100 %), or rolled back
    (the moment the last known-good version serves again: rolled back and restored at once)."""
    if outcome == "promoted":
        return {"finished_at": at, "promoted_at": at}
    if outcome == "rolled_back":
        return {"finished_at": at, "rolled_back_at": at, "restored_at": at}
    if outcome == "paused":
        return {"paused_at": at}
    return {"finished_at": at}
