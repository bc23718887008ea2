"""The HTTP API of the decision service (FastAPI). Every route but ``/health/*`` needs a
bearer token; answers to a missing or wrong token say nothing more than 401 or 403.

The gate endpoint judges through :func:`gatekeeper.gate.run.run_gate`, the function behind
``gatekeeper gate run``: one implementation, so the service and the CLI decide alike.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.datastructures import UploadFile

from gatekeeper import __version__
from gatekeeper.errors import EXIT_INPUT, GatekeeperError, InputError, PolicyError
from gatekeeper.gate.input import load_release
from gatekeeper.gate.run import GateRequest, GateResult, run_gate
from gatekeeper.ledger.canonical import period_bound
from gatekeeper.ledger.decisions import DECISION_RECORD_KIND
from gatekeeper.ledger.dora import dora_report
from gatekeeper.ledger.merkle import LogError
from gatekeeper.loading import parse_json_text
from gatekeeper.model import Violation
from gatekeeper.server.auth import Token, authenticated
from gatekeeper.server.bundles import CatalogueConflict, CatalogueError
from gatekeeper.server.dashboard import add_dashboard
from gatekeeper.server.errors import LogMismatch
from gatekeeper.server.incidents_api import add_incident_api
from gatekeeper.server.log import proof_document, record_summary
from gatekeeper.server.opa_api import add_opa_api
from gatekeeper.server.service import DecisionService
from gatekeeper.server.tokens import Scope, TokenInfo

Scope_ = dict[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope_, Receive, Send], Awaitable[None]]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_UPLOAD_COPY_CHUNK = 1 << 20
LOG_PAGE = 1000


class BodyTooLarge(Exception):
    """The request body went past the service's upload bound."""


class BodyLimit:
    """ASGI middleware bounding a request body while it streams in: a declared length over
    the bound is refused before reading, and a body that grows past it stops being read."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope_, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await _too_large(self.max_bytes)(scope, receive, send)
                return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge()
            return message

        await self.app(scope, bounded, send)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"error": f"request body over the limit of {limit} bytes", "exit_code": EXIT_INPUT},
        status_code=413,
    )


def _error(error: GatekeeperError, status: int, *, text: str | None = None) -> JSONResponse:
    message = error.one_line() if text is None else text
    return JSONResponse({"error": message, "exit_code": error.exit_code}, status)


def _safe_name(filename: str | None, fallback: str) -> str:
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _SAFE_NAME.sub("_", base).strip("._")[:120]
    return cleaned or fallback


_authenticated = authenticated


def create_app(service: DecisionService) -> FastAPI:
    settings = service.settings
    # One evaluation at a time per process: the engine worker pool and gc pause of run_gate
    # are process-wide, and the log serialises appends anyway.
    evaluation_lock = threading.Lock()
    app = FastAPI(
        title="Gatekeeper decision service",
        version=__version__,
        openapi_url=None,  # served below, behind a token like every non-health route
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        service.metrics.request(
            request.method, getattr(route, "path", "unmatched"), response.status_code
        )
        return response

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return _too_large(settings.max_upload_bytes)

    @app.exception_handler(LogMismatch)
    async def log_mismatch(request: Request, exc: LogMismatch) -> JSONResponse:
        return _error(exc, 503)

    add_opa_api(app, service, authenticated=_authenticated)

    @app.get("/health/live", include_in_schema=True)
    def live() -> dict[str, str]:
        return {"status": "live"}

    @app.get("/health/ready")
    def ready() -> JSONResponse:
        checks = {
            "database": service.log.ready(),
            "tokens": service.tokens.reachable(),
            "key": service.signer is not None,
        }
        status = 200 if all(checks.values()) else 503
        return JSONResponse({"ready": status == 200, "checks": checks}, status_code=status)

    @app.get("/openapi.json")
    def openapi(token: Token) -> dict[str, Any]:
        return app.openapi()

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics(token: Token) -> PlainTextResponse:
        return PlainTextResponse(
            service.metrics.render(service.log.tree.size),
            media_type="text/plain; version=0.0.4",
        )

    @app.post("/v1/gate")
    async def gate(request: Request, token: Token) -> JSONResponse:
        """Judge uploaded evidence (multipart field ``evidence``, repeatable) with the release
        metadata (field ``release``: the YAML/JSON file ``gate run --release`` takes, naming
        the service = the token's project)."""
        if token.scope is not Scope.SUBMIT:
            raise HTTPException(403, "forbidden")
        folder = Path(tempfile.mkdtemp(prefix="gatekeeper-upload-"))
        try:
            async with request.form(max_files=settings.max_upload_files + 1, max_fields=16) as form:
                evidence, release_file = await _save_uploads(form.multi_items(), folder)
            return await run_in_threadpool(
                _judge, service, token, evidence, release_file, folder, evaluation_lock
            )
        except LogMismatch:
            raise  # 503 (handler above): the service no longer vouches for its log
        except GatekeeperError as error:
            status = 400 if error.exit_code == EXIT_INPUT else 500
            return _error(error, status, text=_without_folder(error, folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @app.get("/v1/decisions")
    def decisions(
        token: Token,
        artifact: Annotated[str | None, Query(description="sha256:<hex> artifact digest")] = None,
        service_name: Annotated[str | None, Query(alias="service")] = None,
    ) -> dict[str, Any]:
        if artifact is not None and not _DIGEST.match(artifact):
            raise HTTPException(400, "artifact must be sha256:<64 hex digits>")
        wanted = service_name if token.scope is Scope.ADMIN else token.project
        if service_name is not None and not token.may_read(service_name):
            raise HTTPException(403, "forbidden")
        found = []
        for record in service.log.records(wanted):
            doc = record.document()
            if doc.get("kind", DECISION_RECORD_KIND) != DECISION_RECORD_KIND:
                continue  # the service's own catalogue records (bundle uploads, activations)
            if artifact and (doc.get("release") or {}).get("artifact_digest") != artifact:
                continue
            found.append(record_summary(record, doc))
        found.reverse()  # newest first
        return {"decisions": found}

    @app.get("/v1/decisions/{decision_id}")
    def decision(decision_id: str, token: Token) -> dict[str, Any]:
        located = service.log.find(decision_id)
        if located is None or not token.may_read(located[0].service):
            # The same answer for "no such decision" and "another project's": nothing leaks.
            raise HTTPException(404, "not found")
        record, index = located
        checkpoint, proof = service.log.inclusion(index)
        doc = record.document()
        return {
            "decision": doc.get("decision"),
            "record": _record_document(record.seq, record.hash, record.signature, record.body),
            "log_index": index,
            "inclusion_proof": proof_document(checkpoint, index, proof),
            "checkpoint": checkpoint.to_document(),
        }

    add_incident_api(app, service)
    add_dashboard(app, service)

    @app.get("/v1/dora")
    def dora(
        token: Token,
        start: Annotated[str | None, Query(alias="from")] = None,
        end: Annotated[str | None, Query(alias="to")] = None,
        service_name: Annotated[str | None, Query(alias="service")] = None,
        environment: Annotated[str, Query(alias="env")] = "production",
    ) -> JSONResponse:
        """DORA's four keys over this service's ledger, as ``audit dora --format json``: of
        the token's project (admin: every project, or ``service=``)."""
        if service_name is not None and not token.may_read(service_name):
            raise HTTPException(403, "forbidden")
        wanted = service_name if token.scope is Scope.ADMIN else token.project
        try:
            period = (
                period_bound(start, option="from"),
                period_bound(end, option="to", end=True),
            )
        except InputError as error:
            return _error(error, 400)
        return JSONResponse(
            service.log.read(
                lambda store: dora_report(
                    store, start=period[0], end=period[1], service=wanted, environment=environment
                )
            )
        )

    @app.get("/v1/checkpoint")
    def checkpoint(token: Token) -> dict[str, Any]:
        return service.log.sync().to_document()  # current, with what replicas appended

    @app.get("/v1/log/consistency")
    def consistency(
        token: Token,
        first: Annotated[int, Query(alias="from", ge=0)],
        second: Annotated[int | None, Query(alias="to", ge=0)] = None,
    ) -> dict[str, Any]:
        size = service.log.sync().tree_size if second is None else second
        try:
            proof = service.log.consistency(first, size)
        except LogError as error:
            raise HTTPException(400, error.one_line()) from None
        return {"from": first, "to": size, "hashes": [h.hex() for h in proof]}

    @app.get("/v1/log/entries")
    def entries(
        token: Token,
        start: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=LOG_PAGE)] = LOG_PAGE,
    ) -> dict[str, Any]:
        """Records from log index ``start`` (admin: every project's), as stored: what
        ``audit verify --server`` checks against the signed checkpoint."""
        _admin(token)
        size, records = service.log.entries(start, limit)
        return {
            "tree_size": size,
            "start": start,
            "entries": [
                {
                    **_record_document(r.seq, r.hash, r.signature, r.body),
                    "decision_id": r.decision_id,
                    "recorded_at": r.recorded_at,
                    "service": r.service,
                }
                for r in records
            ],
        }

    @app.get("/v1/blobs/{digest}")
    def blob(digest: str, token: Token) -> Response:
        """A stored blob (a decision's normalized input or bundle snapshot, a bundle archive)
        as stored: admins only (it holds any project's evidence); the digest is the check."""
        _admin(token)
        if not _DIGEST.match(digest):
            raise HTTPException(400, "digest must be sha256:<64 hex digits>")
        content = service.log.store.blob(digest)
        if content is None:
            raise HTTPException(404, "not found")
        return Response(content, media_type="application/octet-stream")

    add_bundle_api(app, service)
    add_deployment_api(app, service)
    add_waiver_api(app, service)
    return app


def add_waiver_api(app: FastAPI, service: DecisionService) -> None:
    """Each project's waivers (``server/waivers.py``): set by an admin, read by the project."""
    catalogue = service.waivers

    @app.put("/v1/projects/{project}/waivers")
    async def set_waivers(project: str, request: Request, token: Token) -> JSONResponse:
        """Body: a waivers file (YAML or JSON, as ``.gatekeeper/waivers.yaml``); it replaces
        the project's waivers from the next submission on (empty: none)."""
        _admin(token)
        content = await request.body()
        try:
            current, appended = await run_in_threadpool(
                catalogue.set, project, content, by=token.id
            )
        except GatekeeperError as error:
            return _error(error, 400 if error.exit_code == EXIT_INPUT else 500)
        return JSONResponse(
            {"waivers": current.to_document(), "entry": _appended_document(appended)}
        )

    @app.get("/v1/projects/{project}/waivers")
    def get_waivers(project: str, token: Token) -> dict[str, Any]:
        if not token.may_read(project):
            raise HTTPException(403, "forbidden")
        history = catalogue.history(project)
        return {
            "project": project,
            "current": history[-1].to_document() if history else None,
            "history": [
                {k: v for k, v in item.to_document().items() if k != "text"} for item in history
            ],
        }


_DEPLOY_KIND = re.compile(r"^deploy\.[a-z_]{1,32}$")
MAX_EVENT_BYTES = 1024 * 1024


def add_deployment_api(app: FastAPI, service: DecisionService) -> None:
    """Deployment events reported by deployers (``gatekeeper deploy`` with
    ``GATEKEEPER_SERVER``), recorded in the service's log beside the decisions they rest on."""

    @app.post("/v1/deployments")
    async def report(request: Request, token: Token) -> JSONResponse:
        """Body: ``{"kind": "deploy.<event>", "release": {"service", "version",
        "artifact_digest", "environment"}, "outcome", "deployment": {…}}``; the release's
        service must be the submit token's project."""
        if token.scope is not Scope.SUBMIT:
            raise HTTPException(403, "forbidden")
        body = await request.body()
        if len(body) > MAX_EVENT_BYTES:
            return _too_large(MAX_EVENT_BYTES)
        try:
            event = parse_json_text(body.decode("utf-8"), display="deployment event")
        except UnicodeDecodeError:
            event = None
        except InputError as exc:
            return _error(exc, 400)
        problem = _deploy_event_problem(event)
        if problem or not isinstance(event, dict):
            return _error(InputError(problem or "deployment event: not an object"), 400)
        if not token.may_submit(str(event["release"]["service"])):
            raise HTTPException(403, "forbidden")
        fields = {
            "kind": event["kind"],
            "release": event["release"],
            "outcome": event["outcome"],
            "deployment": event["deployment"],
            "reported_by": token.id,
        }
        try:
            appended = await run_in_threadpool(service.log.append_event, fields, {})
        except ValueError as error:  # not canonical JSON (NaN, …)
            return _error(InputError(f"deployment event not recordable: {error}"), 400)
        checkpoint, proof = service.log.inclusion(appended.log_index)
        record = appended.record
        return JSONResponse(
            {
                "record": _record_document(record.seq, record.hash, record.signature, record.body),
                "log_index": appended.log_index,
                "inclusion_proof": proof_document(checkpoint, appended.log_index, proof),
                "checkpoint": checkpoint.to_document(),
            }
        )

    @app.get("/v1/deployments")
    def deployments(
        token: Token,
        service_name: Annotated[str | None, Query(alias="service")] = None,
    ) -> dict[str, Any]:
        wanted = service_name if token.scope is Scope.ADMIN else token.project
        if service_name is not None and not token.may_read(service_name):
            raise HTTPException(403, "forbidden")
        found = []
        for record in service.log.records(wanted):
            doc = record.document()
            if not str(doc.get("kind", "")).startswith("deploy."):
                continue
            found.append(
                {
                    "log_index": record.seq - 1,
                    "recorded_at": record.recorded_at,
                    "kind": doc.get("kind"),
                    "outcome": doc.get("outcome"),
                    "release": doc.get("release"),
                    "deployment": doc.get("deployment"),
                }
            )
        found.reverse()  # newest first
        return {"deployments": found}


def _deploy_event_problem(event: Any) -> str | None:
    if not isinstance(event, dict):
        return "deployment event: the body must be a JSON object"
    kind = event.get("kind")
    if not isinstance(kind, str) or not _DEPLOY_KIND.match(kind):
        return "deployment event: kind must be deploy.<event>"
    release = event.get("release")
    if not isinstance(release, dict) or not isinstance(release.get("service"), str):
        return "deployment event: release.service is missing"
    if not isinstance(event.get("outcome"), str):
        return "deployment event: outcome is missing"
    if not isinstance(event.get("deployment"), dict):
        return "deployment event: deployment must be an object"
    return None


def _admin(token: TokenInfo) -> None:
    if token.scope is not Scope.ADMIN:
        raise HTTPException(403, "forbidden")


def _catalogue_error(error: GatekeeperError) -> JSONResponse:
    if isinstance(error, CatalogueConflict):
        status = 409
    elif isinstance(error, CatalogueError):
        status = 400
    elif isinstance(error, PolicyError):
        status = 422  # the archive is readable but its policies do not load or compile
    else:
        status = 500
    return _error(error, status)


def _appended_document(appended: Any) -> dict[str, Any] | None:
    if appended is None:
        return None
    record = appended.record
    return {
        "log_index": appended.log_index,
        "record": _record_document(record.seq, record.hash, record.signature, record.body),
        "checkpoint": appended.checkpoint.to_document(),
    }


def add_bundle_api(app: FastAPI, service: DecisionService) -> None:
    """Policy bundle versions: upload, list, activate per environment, roll back
    (``server/bundles.py``). Every change is a signed record of the log."""
    catalogue = service.bundles

    @app.get("/v1/bundles")
    def bundles(token: Token) -> dict[str, Any]:
        return {
            "bundles": [v.to_document() for v in catalogue.versions()],
            "active": catalogue.active(),
            "activations": [a.to_document() for a in catalogue.activations()],
        }

    @app.post("/v1/bundles")
    async def upload(request: Request, token: Token) -> JSONResponse:
        """Body: the .tar.gz archive ``gatekeeper policy bundle`` builds."""
        _admin(token)
        content = await request.body()
        try:
            version, appended = await run_in_threadpool(catalogue.upload, content, by=token.id)
        except GatekeeperError as error:
            return _catalogue_error(error)
        return JSONResponse(
            {
                "bundle": version.to_document(),
                "recorded": appended is not None,
                "entry": _appended_document(appended),
            },
            status_code=201 if appended is not None else 200,
        )

    @app.put("/v1/environments/{environment}/bundle")
    async def activate(environment: str, request: Request, token: Token) -> JSONResponse:
        """Body ``{"digest": "sha256:…"}``: gates for the environment (``*``: every one
        without its own) judge with that uploaded bundle from now on."""
        _admin(token)
        try:
            body = await request.json()
        except ValueError:
            body = None
        digest = body.get("digest") if isinstance(body, dict) else None
        if not isinstance(digest, str):
            return _error(CatalogueError('body must be {"digest": "sha256:…"}'), 400)
        try:
            activation, appended = await run_in_threadpool(
                catalogue.activate, environment, digest, by=token.id
            )
        except GatekeeperError as error:
            return _catalogue_error(error)
        return JSONResponse(
            {"activation": activation.to_document(), "entry": _appended_document(appended)}
        )

    @app.post("/v1/environments/{environment}/bundle/rollback")
    async def rollback(environment: str, token: Token) -> JSONResponse:
        _admin(token)
        try:
            activation, appended = await run_in_threadpool(
                catalogue.rollback, environment, by=token.id
            )
        except GatekeeperError as error:
            return _catalogue_error(error)
        return JSONResponse(
            {"activation": activation.to_document(), "entry": _appended_document(appended)}
        )


def _without_folder(error: GatekeeperError, folder: Path) -> str:
    """The error's line as the CLI words it, naming the uploaded file rather than the
    service's temporary copy."""
    return re.sub(re.escape(str(folder)) + r"/(\d+|release)/", "", error.one_line())


async def _save_uploads(
    items: list[tuple[str, str | UploadFile]], folder: Path
) -> tuple[list[Path], Path | None]:
    evidence: list[Path] = []
    release: Path | None = None
    for field_name, value in items:
        if not isinstance(value, UploadFile):
            raise InputError(f"form field {field_name!r} must be a file upload")
        if field_name == "evidence":
            target = folder / str(len(evidence)) / _safe_name(value.filename, "evidence")
            evidence.append(target)
        elif field_name == "release" and release is None:
            target = folder / "release" / _safe_name(value.filename, "release.yaml")
            release = target
        else:
            raise InputError(f"unexpected form field {field_name!r} (evidence, release)")
        target.parent.mkdir()
        with target.open("wb") as handle:
            while chunk := await value.read(_UPLOAD_COPY_CHUNK):
                handle.write(chunk)
    return evidence, release


def _judge(
    service: DecisionService,
    token: TokenInfo,
    evidence: list[Path],
    release_file: Path | None,
    folder: Path,
    lock: threading.Lock,
) -> JSONResponse:
    settings = service.settings
    if len(evidence) > settings.max_upload_files:
        raise InputError(f"more than {settings.max_upload_files} evidence files")
    if release_file is None:
        raise InputError("no release metadata: upload the release file (field 'release')")
    release = load_release(release_file)  # bad metadata is bad input before any evaluation
    if not release.service or not token.may_submit(release.service):
        raise HTTPException(403, "forbidden")
    # The bundle activated for the release's environment, else the start-up one.
    version = service.bundles.bundle_for(release.environment)
    policies, data = (
        ((str(service.bundles.path_of(version)),), ())
        if version is not None
        else (settings.policies, settings.data)
    )
    # The project's waivers as the service holds them (never the runner's own).
    waivers_file = service.waivers.file_for(release.service, folder)
    request = GateRequest(
        evidence=tuple(str(path) for path in evidence),
        policies=policies,
        data=data,
        release_file=str(release_file),
        waivers_file=None if waivers_file is None else str(waivers_file),
        engine=settings.engine,
        namespaces=settings.namespaces,
        fail_on=settings.fail_on,
        timeout=settings.timeout,
        env={},
        cwd=folder,  # no waivers file there: the service applies none of the runner's
    )
    with lock:
        started = time.perf_counter()
        result = _named_as_uploaded(run_gate(request), folder)
        service.metrics.decision(result.decision.outcome.value, time.perf_counter() - started)
        appended = service.log.append(result, namespaces=settings.namespaces)
    checkpoint, proof = service.log.inclusion(appended.log_index)
    record = appended.record
    return JSONResponse(
        {
            "decision": result.decision.to_document(),
            "record": _record_document(record.seq, record.hash, record.signature, record.body),
            "log_index": appended.log_index,
            "inclusion_proof": proof_document(checkpoint, appended.log_index, proof),
            "checkpoint": checkpoint.to_document(),
        }
    )


def _named_as_uploaded(result: GateResult, folder: Path) -> GateResult:
    """The decision's inputs[] name the files as uploaded, not the service's temporary copy."""
    prefix = str(folder)
    inputs = tuple(
        ref.model_copy(update={"path": Path(ref.path).name}) if ref.path.startswith(prefix) else ref
        for ref in result.decision.inputs
    )

    def as_uploaded(violation: Violation) -> Violation:
        # The service has only the uploaded files, saved under <n>/ or release/: a violation
        # placed in the release file names it as the runner did, without that folder.
        where = violation.declared_in
        if where is None or "/" not in where.file:
            return violation
        folder_name, _, name = where.file.partition("/")
        if folder_name != "release" and not folder_name.isdigit():
            return violation
        return violation.model_copy(update={"declared_in": where.model_copy(update={"file": name})})

    decision = result.decision.model_copy(
        update={
            "inputs": inputs,
            # the service's temporary folder means nothing to the runner or an auditor
            "working_directory": None,
            "violations": tuple(as_uploaded(v) for v in result.decision.violations),
            "waived": tuple(
                w.model_copy(update={"violation": as_uploaded(w.violation)})
                for w in result.decision.waived
            ),
        }
    )
    # Anything else naming an uploaded file by its absolute temporary path (a violation's
    # subject or message, e.g. "the SBOM <file>") names it as uploaded.
    text = decision.model_dump_json()
    if prefix in text:
        folder_path = re.escape(json.dumps(prefix)[1:-1])
        escaped = re.sub(folder_path + r"/(?:(?:\d+|release)/)?", "", text)
        decision = type(decision).model_validate_json(escaped)
    return dataclasses.replace(result, decision=decision)


def _record_document(seq: int, hash_: str, signature: str | None, body: str) -> dict[str, Any]:
    signer = (json.loads(body).get("signer") or {}) if body else {}
    return {
        "seq": seq,
        "hash": hash_,
        "signature": signature,
        "key_id": signer.get("key_id"),
        "body": body,
    }
