"""The typed deployment record (``deployment.json``) and its recorder: every step that matters
(started, each verdict with its numbers, promoted, rolled back with the reason) appended to the
ledger and kept for ``deploy status``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gatekeeper.deploy.analysis import VerdictRecord
from gatekeeper.deploy.atomic import write_json_atomic
from gatekeeper.deploy.context import ServiceContext
from gatekeeper.errors import GatekeeperError, InputError
from gatekeeper.ledger.deployments import (
    record_deploy_event,
)
from gatekeeper.ledger.signing import signer_from_env

DEPLOYMENT_SCHEMA = "gatekeeper.deployment/v1"


DEPLOYMENT_FILE = "deployment.json"


PROMOTED_FILE = "promoted.json"  # the releases that served 100 %, newest last (for rollback)


MAX_PROMOTED = 20


MAX_STORED_VERDICTS = 100


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

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> DeploymentRecord:
        fields = {k: doc[k] for k in cls.__dataclass_fields__ if k in doc}
        return cls(**fields)

    def save(self, directory: Path) -> None:
        write_json_atomic(directory / DEPLOYMENT_FILE, self.to_document())


def load_deployment_record(directory: Path) -> DeploymentRecord | None:
    import json

    path = directory / DEPLOYMENT_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("schema") != DEPLOYMENT_SCHEMA:
            raise ValueError(f"unknown schema {doc.get('schema')!r}")
        return DeploymentRecord.from_document(doc)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise InputError(f"not a valid deployment record: {exc}", path=str(path)) from None


def _promoted_releases(directory: Path) -> list[dict[str, Any]]:
    import json

    try:
        value = json.loads((directory / PROMOTED_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise InputError(
            f"not a valid list of releases: {exc}", path=str(directory / PROMOTED_FILE)
        ) from None
    if not isinstance(value, list):
        raise InputError("not a valid list of releases", path=str(directory / PROMOTED_FILE))
    releases: list[dict[str, Any]] = [item for item in value if isinstance(item, dict)]
    return releases


def remember_promoted(directory: Path, release: dict[str, Any], environment: str) -> None:
    releases = _promoted_releases(directory)
    releases.append({"release": release, "environment": environment, "at": now_text()})
    write_json_atomic(directory / PROMOTED_FILE, releases[-MAX_PROMOTED:])


def release_before(directory: Path, current: str | None) -> dict[str, Any] | None:
    """The newest promoted release other than the one serving now."""
    older = [
        entry
        for entry in _promoted_releases(directory)
        if (entry.get("release") or {}).get("version") != current
    ]
    return older[-1] if older else None


def forget_promoted(directory: Path, version: str | None) -> None:
    releases = _promoted_releases(directory)
    while releases and (releases[-1].get("release") or {}).get("version") == version:
        releases.pop()
    write_json_atomic(directory / PROMOTED_FILE, releases)


class DeploymentRecorder:
    """Appends deployment events to the ledger and keeps deployment.json current."""

    def __init__(self, context: ServiceContext, record: DeploymentRecord, directory: Path):
        self.context = context
        self.record = record
        self.directory = directory
        self.signer = signer_from_env(context.env)

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
        self.record.save(self.directory)
        self.ledger("deploy.verdict", verdict.result.value, verdict=document)

    def finish(self, outcome: str, reason: str, **details: Any) -> None:
        self.record.outcome = outcome
        self.record.reason = reason
        at = now_text()
        self.record.finished_at = at if outcome != "paused" else None
        self.record.save(self.directory)
        if outcome == "promoted":
            remember_promoted(self.directory, self.record.release, self.record.environment)
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
