"""Appending a gate decision to the ledger.

What a record holds (``gatekeeper.ledger-record/v1``): the decision id and time, the release
identity, the outcome, the whole decision document (violations, waivers applied, expired and
stale waivers, every rule evaluated — passing ones too — input file digests, bundle revision
and digest, engine and version), the digest of the normalized gate input, the digest of the
policy bundle snapshot, the namespaces evaluated, the CI context, and the gatekeeper version.
The normalized input and the bundle snapshot are stored as content-addressed blobs, once per
digest: a hundred runs against the same bundle store it once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gatekeeper import __version__
from gatekeeper.audit.snapshot import snapshot_bundle
from gatekeeper.config import GatekeeperConfig
from gatekeeper.evidence import gc_paused
from gatekeeper.gate.run import GateResult
from gatekeeper.ledger.canonical import digest_of_text, timestamp
from gatekeeper.ledger.chain import record_builder
from gatekeeper.ledger.decisions import DECISION_RECORD_KIND
from gatekeeper.ledger.registry import open_configured_store
from gatekeeper.ledger.signing import Signer, signer_from_env
from gatekeeper.ledger.store import LedgerStore, NewRecord

RECORD_KIND = DECISION_RECORD_KIND


def record_fields(
    result: GateResult, *, namespaces: Sequence[str], snapshot_digest: str
) -> dict[str, Any]:
    decision = result.decision
    release = decision.release
    return {
        "kind": RECORD_KIND,
        "decision_id": decision.decision_id,
        "outcome": decision.outcome.value,
        "release": {
            "service": release.service,
            "version": release.version,
            "commit": release.commit,
            "artifact_digest": release.artifact_digest,
            "environment": release.environment,
            # DORA's lead time starts here (only when the CI gave them: older records keep
            # their exact shape)
            **{
                key: value
                for key, value in (
                    ("commit_time", release.commit_time),
                    ("first_commit_time", release.first_commit_time),
                )
                if value
            },
        },
        "input_digest": decision.input_digest,
        "bundle": {
            "revision": decision.policy_bundle.revision,
            "digest": decision.policy_bundle.digest,
            "snapshot": snapshot_digest,
        },
        "engine": decision.engine.model_dump(mode="json"),
        "namespaces": list(namespaces),
        "ci": result.gate_input.context.ci.model_dump(mode="json"),
        "gatekeeper_version": __version__,
        "decision": decision.to_document(),
    }


def record_gate_result(
    store: LedgerStore,
    result: GateResult,
    *,
    namespaces: Sequence[str] = (),
    signer: Signer | None = None,
    now: datetime | None = None,
) -> NewRecord:
    """Append one decision with its input and bundle blobs; returns the stored record."""
    snapshot = snapshot_bundle(result.bundle)
    snapshot_digest = digest_of_text(snapshot)
    blobs: Mapping[str, bytes] = {
        result.decision.input_digest: result.input_json.encode("utf-8"),
        snapshot_digest: snapshot.encode("utf-8"),
    }
    fields = record_fields(result, namespaces=namespaces, snapshot_digest=snapshot_digest)
    build = record_builder(fields, recorded_at=timestamp(now or datetime.now(UTC)), signer=signer)
    return store.append(build, blobs)


def record_gate_run(
    result: GateResult,
    *,
    ledger: str | None,
    config: GatekeeperConfig,
    env: Mapping[str, str],
    cwd: Path,
) -> NewRecord:
    """What ``gate run`` calls after deciding. Any failure raises (LedgerError: exit 3)."""
    signer = signer_from_env(env)
    store = open_configured_store(ledger, config=config, env=env, cwd=cwd, create=True)
    try:
        # Dumping a decision with thousands of violations allocates ~10^5 acyclic containers
        # while the run's evidence and models are still alive: each collector pass would
        # rescan that whole heap (about half of recording at L), freeing nothing.
        with gc_paused():
            return record_gate_result(
                store, result, namespaces=tuple(config.namespaces), signer=signer
            )
    finally:
        store.close()
