"""The decision service as a source of recorded decisions, for any client: trust nothing it
says that a client cannot check.

An answer is used only when the checkpoint is signed by the pinned service key
(``GATEKEEPER_SERVER_PUBLIC_KEY``, a PEM file), the record's body hashes to the record hash
and holds the returned decision, the inclusion proof puts the record in the checkpoint's
tree, and — when this workspace saw a checkpoint before — the service proves that the new
checkpoint extends it. Anything else (unreachable, timeout, garbage, a bad proof) is an
exit-3 error, never a pass. ``gate run --server`` submits through it
(:mod:`gatekeeper.server.client`); the deployer asks it for the newest decision of a digest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from gatekeeper.errors import EXIT_INPUT, ConfigError, InputError
from gatekeeper.ledger.canonical import digest_of_text
from gatekeeper.ledger.checkpoints import read_checkpoint, write_checkpoint
from gatekeeper.ledger.merkle import (
    Checkpoint,
    LogError,
    checkpoint_valid,
    hashes_from_hex,
    record_leaf,
    verify_consistency,
    verify_inclusion,
)
from gatekeeper.ledger.signing import load_public_key
from gatekeeper.ledger.store import LedgerError
from gatekeeper.model import Decision


class ServerAnswerError(LedgerError):
    """The decision service was unreachable, refused, or answered something a client cannot
    verify (exit 3: never a pass)."""


class LogRewritten(ServerAnswerError):
    """The service's log no longer extends a checkpoint this workspace saw: it shrank or was
    rewritten (a gate or deploy stops with exit 3; ``audit verify`` reports it as tampering)."""


SERVER_ENV = "GATEKEEPER_SERVER"
TOKEN_ENV = "GATEKEEPER_TOKEN"  # noqa: S105 - the variable's name, not a token
PUBLIC_KEY_ENV = "GATEKEEPER_SERVER_PUBLIC_KEY"
LAST_CHECKPOINT = Path(".gatekeeper/server-checkpoint.json")
TIMEOUT_S = 300.0


@dataclass(frozen=True)
class ServedDecision:
    decision: Decision
    log_index: int
    checkpoint: Checkpoint


def service_token(env: Mapping[str, str], *, missing: str) -> str:
    """The bearer token of ``GATEKEEPER_TOKEN``; ``missing``: the error when it is not set."""
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(missing)
    return token


def service_client(
    url: str, token: str, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """An HTTP client of the decision service at ``url``, sending ``token``."""
    return httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT_S,
        transport=transport,
    )


def pinned_public_key(env: Mapping[str, str]) -> bytes:
    value = env.get(PUBLIC_KEY_ENV, "").strip()
    if not value:
        raise ConfigError(
            f"--server needs the service's public key: set {PUBLIC_KEY_ENV} to its PEM file"
        )
    return load_public_key(value)


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise ServerAnswerError(
            f"decision service unreachable: {type(exc).__name__}: {exc}",
            path=str(client.base_url),
        ) from None
    if response.status_code in (400, 409):
        body = response_json(response)
        if body.get("exit_code") == EXIT_INPUT and isinstance(body.get("error"), str):
            raise InputError(body["error"])  # the CLI's own message for the uploaded file
    if response.status_code in (401, 403):
        raise ServerAnswerError(
            f"decision service refused the token ({response.status_code})",
            path=str(client.base_url),
        )
    if not 200 <= response.status_code < 300:
        detail = ""
        try:
            body = response.json()
            detail = str(body.get("error") or body.get("detail") or "")
        except (ValueError, AttributeError):
            pass
        raise ServerAnswerError(
            f"decision service answered {response.status_code} {detail}".strip(),
            path=str(client.base_url),
        )
    return response


def response_json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ServerAnswerError(
            f"decision service answered {response.status_code} with something not a JSON object"
        )
    return value


@dataclass(frozen=True)
class ServedRecord:
    document: dict[str, Any]  # the record's body as signed
    log_index: int
    checkpoint: Checkpoint


def verified_record(answer: Mapping[str, Any], public: bytes) -> ServedRecord:
    """An answer's record, used only when the checkpoint is signed by the pinned key, the
    body hashes to the record hash and the inclusion proof puts it in the checkpoint's tree."""
    try:
        checkpoint = Checkpoint.from_document(answer.get("checkpoint"))
        record = answer.get("record")
        proof = answer.get("inclusion_proof")
        if not isinstance(record, dict) or not isinstance(proof, dict):
            raise LogError("the answer has no record or inclusion proof")
        body, record_hash = record.get("body"), record.get("hash")
        if not isinstance(body, str) or not isinstance(record_hash, str):
            raise LogError("the record has no body or hash")
        if not checkpoint_valid(checkpoint, public):
            raise LogError("the checkpoint is not signed by the pinned service key")
        if digest_of_text(body) != record_hash:
            raise LogError("the record's body does not match its hash")
        index, size = proof.get("leaf_index"), proof.get("tree_size")
        if not isinstance(index, int) or size != checkpoint.tree_size:
            raise LogError("the inclusion proof is not for the returned checkpoint")
        hashes = hashes_from_hex(proof.get("hashes"), "inclusion proof")
        if not verify_inclusion(
            record_leaf(record_hash), index, size, hashes, checkpoint.root_hash
        ):
            raise LogError("the inclusion proof does not verify")
        document = json.loads(body)
        if not isinstance(document, dict):
            raise LogError("the record is not a JSON object")
    except (LogError, ValueError, AttributeError) as exc:
        text = exc.message if isinstance(exc, LogError) else type(exc).__name__
        raise ServerAnswerError(f"decision service answer refused: {text}") from None
    return ServedRecord(document=document, log_index=index, checkpoint=checkpoint)


def verified_answer(answer: Mapping[str, Any], public: bytes) -> ServedDecision:
    served = verified_record(answer, public)
    try:
        recorded = served.document.get("decision")
        if recorded != answer.get("decision"):
            raise LogError("the returned decision is not the one recorded")
        decision = Decision.model_validate(recorded)
    except (LogError, ValidationError) as exc:
        text = exc.message if isinstance(exc, LogError) else type(exc).__name__
        raise ServerAnswerError(f"decision service answer refused: {text}") from None
    return ServedDecision(
        decision=decision, log_index=served.log_index, checkpoint=served.checkpoint
    )


def report_deploy_event(
    url: str,
    fields: Mapping[str, Any],
    *,
    env: Mapping[str, str],
    cwd: Path,
    transport: httpx.BaseTransport | None = None,
) -> ServedRecord:
    """Have the service record a deployment event (``POST /v1/deployments``); the answer is
    used once it verifies and the signed record holds what was sent."""
    token = service_token(env, missing=f"the decision service needs a token in {TOKEN_ENV}")
    public = pinned_public_key(env)
    sent = json.loads(json.dumps(fields))  # as the service will read it (tuples are lists)
    with service_client(url, token, transport) as client:
        answer = response_json(call(client, "POST", "/v1/deployments", json=sent))
        served = verified_record(answer, public)
        for name in ("kind", "release", "outcome", "deployment"):
            if served.document.get(name) != sent.get(name):
                raise ServerAnswerError(
                    f"decision service answer refused: the recorded {name} is not the one sent"
                )
        check_consistency(client, served.checkpoint, public, cwd / LAST_CHECKPOINT)
    return served


def check_consistency(
    client: httpx.Client, new: Checkpoint, public: bytes, remembered: Path
) -> None:
    """The service must prove that its new checkpoint extends the last one seen here."""
    try:
        old = read_checkpoint(remembered)
    except LedgerError:  # an unreadable memory of this workspace's is replaced, not trusted
        old = None
    if old is not None and checkpoint_valid(old, public):
        if old.tree_size > new.tree_size:
            raise LogRewritten(
                f"decision service's log shrank from {old.tree_size} to {new.tree_size} "
                "records since this workspace last saw it"
            )
        response = call(
            client,
            "GET",
            "/v1/log/consistency",
            params={"from": old.tree_size, "to": new.tree_size},
        )
        try:
            hashes = hashes_from_hex(response_json(response).get("hashes"), "consistency proof")
        except LogError as exc:
            raise ServerAnswerError(f"decision service answer refused: {exc.message}") from None
        if not verify_consistency(
            old.tree_size, new.tree_size, old.root_hash, new.root_hash, hashes
        ):
            raise LogRewritten(
                f"decision service's log of {new.tree_size} records does not extend the "
                f"{old.tree_size} this workspace saw: it was rewritten"
            )
    write_checkpoint(remembered, new)


def newest_decision(
    url: str,
    artifact_digest: str,
    *,
    env: Mapping[str, str],
    cwd: Path,
    transport: httpx.BaseTransport | None = None,
) -> ServedDecision | None:
    """The newest gate decision the service recorded for ``artifact_digest`` (None: none is
    recorded), verified like a submission's answer: pinned key, record hash, inclusion proof,
    and consistency with the last checkpoint this workspace saw."""
    token = service_token(env, missing=f"the decision service needs a token in {TOKEN_ENV}")
    public = pinned_public_key(env)
    with service_client(url, token, transport) as client:
        listed = response_json(
            call(client, "GET", "/v1/decisions", params={"artifact": artifact_digest})
        )
        summaries = listed.get("decisions")
        if not isinstance(summaries, list):
            raise ServerAnswerError("decision service answer refused: no decision list")
        if not summaries:
            return None
        newest = summaries[0]  # the service lists newest first
        decision_id = newest.get("decision_id") if isinstance(newest, dict) else None
        if not isinstance(decision_id, str) or "/" in decision_id:
            raise ServerAnswerError("decision service answer refused: no decision id")
        served = verified_answer(
            response_json(call(client, "GET", f"/v1/decisions/{decision_id}")), public
        )
        if served.decision.release.artifact_digest != artifact_digest:
            raise ServerAnswerError(
                f"decision service answer refused: decision {decision_id} is not of "
                f"{artifact_digest}"
            )
        if served.log_index != newest.get("log_index"):
            raise ServerAnswerError(
                "decision service answer refused: the decision is not at the position listed"
            )
        check_consistency(client, served.checkpoint, public, cwd / LAST_CHECKPOINT)
    return served


def post_incident(
    url: str,
    path: str,
    payload: Mapping[str, str | None],
    *,
    env: Mapping[str, str],
    cwd: Path,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Open or resolve an incident on the decision service (``POST /v1/incidents…``); the
    answer is used only when its checkpoint is signed by the pinned key, the record hashes to
    its hash, holds the incident, and is included in the checkpoint's tree (consistent with the
    last checkpoint seen here). Returns the ``incident`` document."""
    token = service_token(env, missing=f"the decision service needs a token in {TOKEN_ENV}")
    public = pinned_public_key(env)
    with service_client(url, token, transport) as client:
        answer = response_json(call(client, "POST", path, json=dict(payload)))
        served = verified_record(answer, public)
        incident = answer.get("incident")
        if not isinstance(incident, dict):
            raise ServerAnswerError("decision service answer refused: the answer has no incident")
        recorded = served.document.get("deployment") or {}
        if not isinstance(recorded, dict) or (
            recorded.get("incident_id") != incident.get("incident_id")
        ):
            raise ServerAnswerError(
                "decision service answer refused: the returned incident is not the one recorded"
            )
        check_consistency(client, served.checkpoint, public, cwd / LAST_CHECKPOINT)
    return incident
