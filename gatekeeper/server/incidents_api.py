"""Incidents through the decision service, for alerting tools: ``POST /v1/incidents`` opens
one (a production failure linked to the deployment that caused it), ``POST
/v1/incidents/{id}/resolve`` records that service was restored. Both need a **submit** token
of the service's project: a read or admin token is 403 and nothing is written. The answer
carries the record, its log index, an inclusion proof and the checkpoint, like a decision.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gatekeeper.errors import InputError
from gatekeeper.ledger.incidents import (
    INCIDENT_OPENED,
    INCIDENT_RESOLVED,
    incident_state,
    open_incident,
    parse_time,
    resolve_incident,
)
from gatekeeper.loading import parse_json_text
from gatekeeper.server.auth import Token, require_writer
from gatekeeper.server.log import proof_document
from gatekeeper.server.service import DecisionService
from gatekeeper.server.tokens import PROJECT_NAME

MAX_BODY = 64 * 1024
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise InputError(f"incident body over {MAX_BODY} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("incident body is not UTF-8 text") from None
    # The evidence files' JSON rules: duplicate keys, NaN, unpaired surrogates are refused.
    value = parse_json_text(text or "{}", display="incident body")
    if not isinstance(value, dict):
        raise InputError("incident body must be a JSON object")
    for key, item in value.items():
        if item is not None and not isinstance(item, str):
            raise InputError(f"incident field {key!r} must be a string")
    return value


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _answer(service: DecisionService, kind: str, written: Any, index: int) -> JSONResponse:
    checkpoint, proof = service.log.inclusion(index)
    record = written.record
    return JSONResponse(
        {
            "incident": written.to_document(kind),
            "record": {"seq": record.seq, "hash": record.hash, "body": record.body},
            "log_index": index,
            "inclusion_proof": proof_document(checkpoint, index, proof),
            "checkpoint": checkpoint.to_document(),
        }
    )


def _bad(error: InputError) -> JSONResponse:
    return JSONResponse({"error": error.one_line(), "exit_code": error.exit_code}, 400)


def add_incident_api(app: FastAPI, service: DecisionService) -> None:
    @app.post("/v1/incidents")
    async def open_route(request: Request, token: Token) -> JSONResponse:
        """Open an incident: JSON ``service`` (the token's project), ``environment``
        (default production), ``deployment_id`` (default: the newest promoted deployment the
        service's ledger holds), ``version``, ``summary``, ``opened_at`` (RFC 3339, default
        now)."""
        try:
            body = await _body(request)
            name = _text(body, "service")
            if name is None or not PROJECT_NAME.match(name):
                raise InputError("an incident needs the service it happened to ('service')")
            require_writer(token, name)
            at = parse_time(_text(body, "opened_at"), option="opened_at")

            def write(store: Any, signer: Any) -> Any:
                return open_incident(
                    store,
                    service=name,
                    environment=_text(body, "environment") or "production",
                    deployment_id=_text(body, "deployment_id"),
                    version=_text(body, "version"),
                    summary=_text(body, "summary") or "",
                    at=at,
                    source=f"api token {token.id}",
                    signer=signer,
                    require_known=False,
                )

            written, index = await run_in_threadpool(service.log.append_written, write)
        except InputError as error:
            return _bad(error)
        return _answer(service, INCIDENT_OPENED, written, index)

    @app.post("/v1/incidents/{incident_id}/resolve")
    async def resolve_route(incident_id: str, request: Request, token: Token) -> JSONResponse:
        """Resolve an incident: JSON ``resolved_at`` (RFC 3339, default now), ``summary``."""
        if not incident_id or set(incident_id) - _ID_CHARS:
            raise HTTPException(404, "not found")
        try:
            body = await _body(request)
            state = await run_in_threadpool(
                service.log.read, lambda store: incident_state(store, incident_id)
            )
            project = str(((state or {}).get("release") or {}).get("service") or "")
            if state is None or not token.may_read(project):
                raise HTTPException(404, "not found")  # another project's: as a missing one
            require_writer(token, project)
            at = parse_time(_text(body, "resolved_at"), option="resolved_at")

            def write(store: Any, signer: Any) -> Any:
                return resolve_incident(
                    store,
                    incident_id=incident_id,
                    at=at,
                    summary=_text(body, "summary") or "",
                    source=f"api token {token.id}",
                    signer=signer,
                    service=project,
                )

            written, index = await run_in_threadpool(service.log.append_written, write)
        except InputError as error:
            return _bad(error)
        return _answer(service, INCIDENT_RESOLVED, written, index)
