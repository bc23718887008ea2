"""Deployments in the ledger: what the deployer was allowed to ship, and what it did.

Two things live here:

* :func:`find_gate_approval` — the deployer's permission: the **newest** gate decision recorded
  for an artifact digest must have passed (``pass`` or ``warn``), the **whole** ledger must be
  intact up to its head (every record, link and signature, and the head row), and when
  trusted keys are given (``GATEKEEPER_LEDGER_KEY``'s public key, ``--trusted-key``) that
  decision is signed by one of them. The newest one, because a later failing decision for the
  same artifact (a stricter policy, a new vulnerability) withdraws an earlier pass; the whole
  chain, because verifying only up to the approving record would let someone who deletes the
  later failing record re-enable the withdrawn pass. With ``anchor`` (a head hash the
  deployer saw before) the ledger must still contain it: a ledger truncated or rolled back
  past what was already seen is refused too.
* :func:`record_deploy_event` — deployments, verdicts and rollbacks appended to the same
  chain as decisions (``kind: deploy.*``), so an auditor sees which decision let each
  artifact out, every verdict with its numbers, and every rollback with its reason.

Records of other kinds than ``gate.decision`` carry no decision document: readers of decisions
skip them (:func:`is_gate_decision`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gatekeeper import __version__
from gatekeeper.ledger.canonical import timestamp
from gatekeeper.ledger.chain import record_builder, verify_chain
from gatekeeper.ledger.signing import Signer
from gatekeeper.ledger.store import LedgerError, LedgerStore, NewRecord, StoredRecord

GATE_DECISION_KIND = "gate.decision"
DEPLOY_KIND_PREFIX = "deploy."
# The kinds the deployer writes (additive: readers must accept kinds they do not know).
DEPLOY_KINDS = (
    "deploy.refused",  # no passing, authentic decision, or a deploy-time policy said no
    "deploy.started",
    "deploy.verdict",  # one analysis interval: the judge's numbers and the log analysis
    "deploy.promoted",
    "deploy.rolled_back",
    "deploy.paused",
    "deploy.recovered",  # a later deployer finished or reverted a rollout left unfinished
    "deploy.stopped",  # every process of the service stopped (`deploy stop`)
    "deploy.incident_opened",  # a production failure after promotion (`deploy incident open`)
    "deploy.incident_resolved",  # service restored (`deploy incident resolve`)
)
PASSING_OUTCOMES = ("pass", "warn")


def is_gate_decision(document: Mapping[str, Any]) -> bool:
    # Records written before kinds existed are decisions.
    return bool(document.get("kind", GATE_DECISION_KIND) == GATE_DECISION_KIND)


@dataclass(frozen=True)
class GateApproval:
    """The outcome of looking for the deployer's permission."""

    allowed: bool
    reason: str
    decision_id: str | None = None
    seq: int | None = None
    outcome: str | None = None
    recorded_at: str | None = None
    signer: str | None = None
    ledger_intact: bool = True  # False: refused because the ledger itself did not verify


def find_gate_approval(
    store: LedgerStore,
    artifact_digest: str,
    *,
    trusted_key_ids: Iterable[str] | None = None,
    anchor: str | None = None,
    cache_dir: Path | None = None,
) -> GateApproval:
    """The newest gate decision for ``artifact_digest``, found in the same walk that verifies
    the whole ledger up to its head (``cache_dir``: its verified prefix, as for
    :func:`verified_deploy_events`)."""
    # Integrity of everything up to the head: which decision is the newest for this digest
    # is only meaningful in a ledger nobody has cut records out of.
    latest: tuple[StoredRecord, dict[str, Any]] | None = None

    def keep(record: StoredRecord, doc: dict[str, Any]) -> None:
        nonlocal latest
        release = doc.get("release") or {}
        if is_gate_decision(doc) and release.get("artifact_digest") == artifact_digest:
            latest = (record, doc)

    problem = _verify_whole(store, anchor, keep, cache_dir)
    if problem is not None:
        return GateApproval(
            False,
            f"the ledger is not intact, so no decision in it can allow a deployment: {problem}",
            ledger_intact=False,
        )
    if latest is None:
        return GateApproval(
            False, f"no gate decision is recorded for artifact {artifact_digest} in the ledger"
        )
    record, doc = latest
    outcome = str(doc.get("outcome"))
    fields: dict[str, Any] = {
        "decision_id": record.decision_id,
        "seq": record.seq,
        "outcome": outcome,
        "recorded_at": record.recorded_at,
    }
    name = f"gate decision {record.decision_id} (record #{record.seq})"
    if outcome not in PASSING_OUTCOMES:
        failing = _failing_policies(doc)
        because = f": failing policies {failing}" if failing else ""
        return GateApproval(
            False,
            f"the newest {name} for artifact {artifact_digest} is '{outcome}'{because}",
            **fields,
        )
    signer = doc.get("signer")
    key_id = signer.get("key_id") if isinstance(signer, dict) else None
    if trusted_key_ids is not None:
        trusted = set(trusted_key_ids)
        if key_id is None:
            return GateApproval(
                False, f"{name} is not signed, and a trusted signing key is configured", **fields
            )
        if key_id not in trusted:
            return GateApproval(
                False, f"{name} was signed by {key_id}, which is not a trusted key", **fields
            )
    return GateApproval(
        True,
        f"{name} passed ({outcome})",
        signer=key_id if isinstance(key_id, str) else None,
        **fields,
    )


def _failing_policies(doc: Mapping[str, Any], limit: int = 10) -> str:
    """The ids of the policies that denied, as a refusal names them (at most ``limit``)."""
    ids: list[str] = []
    decision = doc.get("decision")
    violations = (decision if isinstance(decision, dict) else doc).get("violations")
    for violation in violations if isinstance(violations, list) else []:
        if not isinstance(violation, dict) or violation.get("level", "deny") != "deny":
            continue
        policy = violation.get("policy")
        if isinstance(policy, str) and policy not in ids:
            ids.append(policy)
    shown = ", ".join(ids[:limit])
    return f"{shown} and {len(ids) - limit} more" if len(ids) > limit else shown


def _verify_whole(
    store: LedgerStore,
    anchor: str | None,
    visit: Callable[[StoredRecord, dict[str, Any]], None],
    cache_dir: Path | None,
    wanted: Callable[[StoredRecord], bool] | None = None,
) -> str | None:
    """Verify the chain from genesis to the stored head: every record's content, every link,
    every signature a record carries, the head row, and (given) that ``anchor`` is in it;
    ``visit`` each record (of a verified prefix: each one ``wanted``). With ``cache_dir``,
    through the deploy commands' verified prefix there (keyed by location and first record,
    so a ledger created again at the same path is walked afresh); after a walk that found
    nothing wrong the prefix is remembered."""
    from gatekeeper.ledger.verified import PrefixCache

    cache = None if cache_dir is None else PrefixCache(store, cache_dir, per_genesis=True)
    result = verify_chain(
        store.records,
        head=store.head(),
        anchor=anchor,
        visit=visit,
        prefix=None if cache is None else cache.load(),
        wanted=wanted,
        records_after=lambda seq: store.records(after_seq=seq),
    )
    if result.problem is not None:
        return result.problem.message
    if cache is not None:
        cache.save(result.verified_prefix())
    return None


def record_deploy_event(
    store: LedgerStore,
    *,
    kind: str,
    release: Mapping[str, Any],
    outcome: str,
    details: Mapping[str, Any],
    signer: Signer | None = None,
    now: datetime | None = None,
) -> NewRecord:
    """Append one deployment event. ``release`` holds service, version, artifact_digest and
    environment (the same shape as a decision's, so ``audit log --service`` lists both)."""
    if not kind.startswith(DEPLOY_KIND_PREFIX):
        raise ValueError(f"not a deployment record kind: {kind!r}")
    fields = {
        "kind": kind,
        # The store indexes every record by this column: each event gets its own id.
        "decision_id": str(uuid.uuid4()),
        "outcome": outcome,
        "release": dict(release),
        "deployment": dict(details),
        "gatekeeper_version": __version__,
    }
    build = record_builder(fields, recorded_at=timestamp(now or datetime.now(UTC)), signer=signer)
    return store.append(build, {})


def deploy_events(
    store: LedgerStore, *, service: str | None = None
) -> Iterator[tuple[StoredRecord, dict[str, Any]]]:
    """Deployment records in chain order (optionally of one service)."""
    for record in store.records(service=service):
        doc = record.document()
        if str(doc.get("kind", "")).startswith(DEPLOY_KIND_PREFIX):
            yield record, doc


def verified_deploy_events(
    store: LedgerStore, *, service: str | None, cache_dir: Path | None = None
) -> list[tuple[StoredRecord, dict[str, Any]]]:
    """Deployment records in chain order (of one service, or all), read while the whole chain is
    verified (every record, link and signature, and the head row): the deployer derives its
    history from them (what serves, what to roll back to), so a ledger someone cut records
    out of or rewrote is an error (LedgerError, exit 3), never a shorter history.

    ``cache_dir``: where the deploy commands keep the ledger's verified prefix
    (``<cache_dir>/.gatekeeper/verified/``, keyed by location and first record): the records
    an earlier walk verified are re-checked by body hash and columns digest, the bodies of
    other services' records in it are not parsed, and only the records after it have their
    signatures checked (docs/ledger.md, "The verified prefix")."""
    found: list[tuple[StoredRecord, dict[str, Any]]] = []

    def keep(record: StoredRecord, doc: dict[str, Any]) -> None:
        kind = str(doc.get("kind", ""))
        if kind.startswith(DEPLOY_KIND_PREFIX) and (
            service is None or (doc.get("release") or {}).get("service") == service
        ):
            found.append((record, doc))

    wanted = None if service is None else (lambda record: record.service == service)
    problem = _verify_whole(store, None, keep, cache_dir, wanted)
    if problem is not None:
        raise LedgerError(
            "the ledger is not intact, so the deployment history in it cannot be trusted: "
            f"{problem}"
        )
    return found


def service_gate_approval(
    url: str, artifact_digest: str, *, env: Mapping[str, str], cwd: Path
) -> GateApproval:
    """The permission from the decision service (``GATEKEEPER_SERVER``): its newest decision
    for the digest, verified against the pinned service key with an inclusion proof and a
    consistency proof from the last checkpoint seen here. An answer that does not verify is
    an error (exit 3), not a refusal: nothing the service said is used."""
    from gatekeeper.ledger.remote import newest_decision

    served = newest_decision(url, artifact_digest, env=env, cwd=cwd)
    if served is None:
        return GateApproval(
            False, f"no gate decision is recorded for artifact {artifact_digest} by {url}"
        )
    decision = served.decision
    outcome = decision.outcome.value
    fields: dict[str, Any] = {
        "decision_id": decision.decision_id,
        "seq": served.log_index + 1,
        "outcome": outcome,
        "recorded_at": decision.created_at,
        "signer": served.checkpoint.key_id,
    }
    name = f"gate decision {decision.decision_id} (log entry {served.log_index} of {url})"
    if outcome not in PASSING_OUTCOMES:
        failing = _failing_policies(decision.model_dump(mode="json"))
        because = f": failing policies {failing}" if failing else ""
        return GateApproval(
            False,
            f"the newest {name} for artifact {artifact_digest} is '{outcome}'{because}",
            **fields,
        )
    return GateApproval(True, f"{name} passed (verified against the service's key)", **fields)
