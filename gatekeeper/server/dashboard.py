"""The auditors' dashboard on ``gatekeeper serve``: server-rendered, read-only pages over the
service's ledger — overview, per service, per decision, waivers, controls — behind a token
(``Authorization: Bearer``) or a login with one (a session cookie the API does not accept).

Pages are rendered by a sandboxed Jinja2 environment with autoescape and StrictUndefined;
everything a page loads (one stylesheet) is served here, and the Content-Security-Policy
allows nothing else. The numbers are those of ``audit report --format json`` and ``audit
dora`` over the same records (the same functions compute them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any, TypeVar, cast
from urllib.parse import quote

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gatekeeper.audit.compliance import compliance_report
from gatekeeper.ledger.decisions import load_stored_decision
from gatekeeper.ledger.deployments import deploy_events
from gatekeeper.ledger.dora import KEY_TITLES, KEYS, dora_report, dora_trend, shown_value
from gatekeeper.ledger.merkle import record_leaf, verify_inclusion
from gatekeeper.ledger.report import ComplianceReport
from gatekeeper.ledger.report_render import report_document
from gatekeeper.ledger.store import LedgerError, LedgerStore
from gatekeeper.server.service import DecisionService
from gatekeeper.server.tokens import Scope, TokenInfo

T = TypeVar("T")
SESSION_COOKIE = "gk_dashboard"
SESSION_SECONDS = 8 * 3600
MAX_HISTORY_ROWS = 300
MAX_DRILL_ROWS = 200
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_HERE = resources.files("gatekeeper.server")
STATIC_FILES = {"dashboard.css": "text/css", "favicon.svg": "image/svg+xml"}


def _environment() -> ImmutableSandboxedEnvironment:
    folder = str(_HERE / "dashboard_templates")
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(folder), autoescape=True, undefined=StrictUndefined
    )
    env.filters["pct"] = lambda value: f"{100 * float(value):.1f} %"
    env.filters["short"] = lambda text: str(text)[:19].replace("T", " ")
    env.filters["urlpart"] = lambda text: quote(str(text), safe="")
    env.globals["KEYS"] = KEYS
    env.globals["KEY_TITLES"] = KEY_TITLES
    env.globals["shown_value"] = shown_value
    return env


class _Cache:
    """What a page computed over the whole ledger (the compliance report, DORA keys), per
    (log size, what, project): computed again only when a record was appended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[int, str, str | None], Any] = {}

    def get(self, key: tuple[int, str, str | None]) -> Any:
        with self._lock:
            return self._items.get(key)

    def put(self, key: tuple[int, str, str | None], value: Any) -> None:
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if k[0] == key[0]}
            self._items[key] = value


def _reader(request: Request) -> TokenInfo | None:
    """The bearer token, or the token a login session was opened with. Sessions live in the
    token store, so every replica sharing it (and a restarted service) knows them, and a
    revoked token ends them at once."""
    service: DecisionService = request.app.state.service
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return service.tokens.authenticate(value.strip())
    session = request.cookies.get(SESSION_COOKIE)
    return service.tokens.session(session) if session else None


def _control_rows(report: ComplianceReport) -> list[dict[str, Any]]:
    rows = []
    for control in report.controls:
        counts = {r: control.count(r) for r in ("pass", "fail", "warn", "waived", "not assessed")}
        assessed = counts["pass"] + counts["fail"] + counts["warn"] + counts["waived"]
        rows.append(
            {
                "control": control.control,
                "title": control.title,
                "framework": control.framework,
                "policies": control.policies,
                "evidence_kinds": control.evidence_kinds,
                "assessed": assessed,
                "not_assessed": counts["not assessed"],
                "failed": counts["fail"],
                "pass_rate": (counts["pass"] + counts["waived"]) / assessed if assessed else None,
            }
        )
    return rows


def _deploy_history(store: LedgerStore, service: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for record, doc in deploy_events(store, service=service):
        kind = str(doc.get("kind"))
        details: Mapping[str, Any] = doc.get("deployment") or {}
        release: Mapping[str, Any] = doc.get("release") or {}
        verdict = details.get("verdict") or {}
        rows.append(
            {
                "seq": record.seq,
                "at": record.recorded_at,
                "kind": kind.removeprefix("deploy."),
                "outcome": str(doc.get("outcome") or ""),
                "version": str(release.get("version") or ""),
                "environment": str(release.get("environment") or ""),
                "deployment_id": str(details.get("deployment_id") or ""),
                "reason": str(
                    details.get("reason")
                    or (verdict.get("reason") if isinstance(verdict, dict) else "")
                    or "; ".join(details.get("reasons") or [])
                    or details.get("summary")
                    or ""
                ),
                "rolled_back": str(details.get("rolled_back_version") or ""),
                "restored": str(details.get("restored_version") or ""),
                "incident": str(details.get("incident_id") or ""),
            }
        )
    rows.reverse()
    return rows[:MAX_HISTORY_ROWS]


def add_dashboard(app: FastAPI, service: DecisionService) -> None:
    templates = _environment()
    cache = _Cache()
    static = _HERE / "dashboard_static"

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        token = context.pop("token", None)
        html = templates.get_template(template).render(
            token=token,
            project=(None if token is None or token.scope is Scope.ADMIN else token.project),
            checkpoint=service.log.checkpoint,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=_headers())

    def reader(request: Request) -> TokenInfo:
        token = _reader(request)
        if token is None:
            raise _LoginNeeded()
        return token

    def project_of(token: TokenInfo, wanted: str | None = None) -> str | None:
        if wanted is not None and not token.may_read(wanted):
            raise HTTPException(404, "not found")
        return wanted if token.scope is Scope.ADMIN else token.project

    def computed(what: str, project: str | None, compute: Callable[[LedgerStore], T]) -> T:
        """``compute(store)`` over the ledger as the log verified it (synced first), cached
        per log size; on a connection of its own, so a long read never holds up appends."""
        key = (service.log.sync().tree_size, what, project)
        found = cache.get(key)
        if found is None:
            try:
                store = service.reader()
            except LedgerError:
                found = service.log.read(compute)
            else:
                try:
                    found = compute(store)
                finally:
                    store.close()
            cache.put(key, found)
        return cast(T, found)

    def report_for(project: str | None) -> ComplianceReport:
        return computed(
            "report",
            project,
            lambda store: compliance_report(store, start=None, end=None, service=project),
        )

    def dora_for(project: str | None) -> dict[str, Any]:
        return computed(
            "dora", project, lambda store: dora_report(store, start=None, end=None, service=project)
        )

    @app.exception_handler(_LoginNeeded)
    async def login_needed(request: Request, exc: _LoginNeeded) -> Response:
        return RedirectResponse("/dashboard/login", status_code=303, headers=_headers())

    @app.get("/dashboard/static/{name}", include_in_schema=False)
    def static_file(name: str) -> Response:
        media = STATIC_FILES.get(name)
        if media is None:
            raise HTTPException(404, "not found")
        body = (static / name).read_bytes()
        return Response(body, media_type=media, headers=_headers(cache=True))

    @app.get("/dashboard/login", include_in_schema=False)
    def login_form(request: Request) -> HTMLResponse:
        return page(request, "login.html.j2", title="Sign in", error=None)

    @app.post("/dashboard/login", include_in_schema=False)
    def login(request: Request, token: Annotated[str, Form()] = "") -> Response:
        info = service.tokens.authenticate(token.strip())
        if info is None:
            return page(
                request,
                "login.html.j2",
                status=401,
                title="Sign in",
                error="That token is not valid.",
            )
        response = RedirectResponse("/dashboard/", status_code=303, headers=_headers())
        response.set_cookie(
            SESSION_COOKIE,
            service.tokens.create_session(info, SESSION_SECONDS),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/dashboard",
        )
        return response

    @app.post("/dashboard/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        session = request.cookies.get(SESSION_COOKIE)
        if session:
            service.tokens.drop_session(session)
        response = RedirectResponse("/dashboard/login", status_code=303, headers=_headers())
        response.delete_cookie(SESSION_COOKIE, path="/dashboard")
        return response

    @app.get("/dashboard", include_in_schema=False)
    def dashboard_root() -> Response:
        return RedirectResponse("/dashboard/", status_code=307)

    @app.get("/dashboard/", include_in_schema=False)
    def overview(request: Request) -> HTMLResponse:
        token = reader(request)
        project = project_of(token)
        report = report_for(project)
        # `audit report --format json`'s summary, computed once per log size
        summary = computed("summary", project, lambda _: report_document(report)["summary"])
        dora = dora_for(project)
        services = sorted({r.service for r in report.releases if r.service} | set(dora["services"]))
        outcomes: dict[str, int] = {}
        for row in report.releases:
            outcomes[row.outcome] = outcomes.get(row.outcome, 0) + 1
        return page(
            request,
            "overview.html.j2",
            token=token,
            title="Overview",
            summary=summary,
            days=_weeks(report),
            outcomes=sorted(outcomes.items()),
            top_failing=report.top_failing[:10],
            chain=report.chain,
            dora=dora,
            services=services,
        )

    @app.get("/dashboard/services/{name}", include_in_schema=False)
    def service_page(name: str, request: Request) -> HTMLResponse:
        token = reader(request)
        project_of(token, name)
        report = report_for(name)
        latest: dict[str, Any] = {}
        for row in report.releases:
            latest[row.environment or "-"] = row
        dora = dora_for(name)
        trend = computed("trend", name, lambda store: dora_trend(store, service=name))
        history = computed("history", name, lambda store: _deploy_history(store, name))
        keys = dora["services"].get(name) or dora["overall"]
        return page(
            request,
            "service.html.j2",
            token=token,
            title=f"Service {name}",
            name=name,
            latest=sorted(latest.items()),
            dora=dora,
            keys=keys,
            trend=trend,
            history=history,
            decisions=list(reversed(report.releases))[:50],
        )

    @app.get("/dashboard/decisions/{decision_id}", include_in_schema=False)
    def decision_page(decision_id: str, request: Request) -> HTMLResponse:
        token = reader(request)
        located = service.log.find(decision_id)
        if located is None or not token.may_read(located[0].service):
            raise HTTPException(404, "not found")
        record, index = located
        doc = record.document()
        if "decision" not in doc:
            raise HTTPException(404, "not found")
        stored = load_stored_decision(record, doc)
        checkpoint, proof = service.log.inclusion(index)
        verified = verify_inclusion(
            record_leaf(record.hash), index, checkpoint.tree_size, proof, checkpoint.root_hash
        )
        return page(
            request,
            "decision.html.j2",
            token=token,
            title=f"Decision {decision_id}",
            decision=stored.decision,
            record=record,
            index=index,
            proof_size=len(proof),
            verified=verified,
            log_checkpoint=checkpoint,
            signer=(doc.get("signer") or {}).get("key_id") or "",
        )

    @app.get("/dashboard/waivers", include_in_schema=False)
    def waivers_page(request: Request) -> HTMLResponse:
        token = reader(request)
        report = report_for(project_of(token))
        active = [w for w in report.waivers if not w.expired and w.uses]
        return page(
            request,
            "waivers.html.j2",
            token=token,
            title="Waivers",
            active=active,
            expiring=[w for w in report.waivers if w.expiring_soon],
            stale=[w for w in report.waivers if not w.expired and not w.uses],
            expired=[w for w in report.waivers if w.expired],
        )

    @app.get("/dashboard/controls", include_in_schema=False)
    def controls_page(request: Request) -> HTMLResponse:
        token = reader(request)
        report = report_for(project_of(token))
        return page(
            request, "controls.html.j2", token=token, title="Controls", rows=_control_rows(report)
        )

    @app.get("/dashboard/controls/{control}", include_in_schema=False)
    def control_page(control: str, request: Request) -> HTMLResponse:
        token = reader(request)
        report = report_for(project_of(token))
        found = next((c for c in report.controls if c.control == control), None)
        if found is None:
            raise HTTPException(404, "not found")
        results = [
            (row, result)
            for row, result in zip(report.releases, found.results, strict=True)
            if result not in ("pass", "n/a")
        ]
        results.reverse()
        return page(
            request,
            "control.html.j2",
            token=token,
            title=f"Control {control}",
            control=found,
            row=next(r for r in _control_rows(report) if r["control"] == control),
            results=results[:MAX_DRILL_ROWS],
            total=len(results),
        )


class _LoginNeeded(Exception):
    """A dashboard page without a valid token or session: go to the login form."""


def _headers(*, cache: bool = False) -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "max-age=300" if cache else "no-store",
    }


def _weeks(report: ComplianceReport) -> list[dict[str, Any]]:
    """Pass rate per ISO week (the days of the report, grouped): one labelled row each."""
    weeks: dict[str, list[int]] = {}
    for day in report.days:
        moment = datetime.fromisoformat(day.day).replace(tzinfo=UTC)
        year, week, _ = moment.isocalendar()
        key = f"{year}-W{week:02d}"
        totals = weeks.setdefault(key, [0, 0])
        totals[0] += day.total
        totals[1] += day.passed
    return [
        {"week": key, "total": total, "passed": passed, "rate": passed / total if total else 0}
        for key, (total, passed) in sorted(weeks.items())
    ]
