"""Incidents from alerting tools (POST /v1/incidents…) and DORA keys (GET /v1/dora) on the
decision service: a submit token of the project writes, a read token cannot."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from gatekeeper.ledger.remote import ServerAnswerError, post_incident
from gatekeeper.server.tokens import Scope
from tests.ledger.dora_history import small_history
from tests.server.conftest import RunningServer


def _seed(server: RunningServer) -> None:
    """The hand-computed history of tests/ledger/test_dora.py, signed with the service's key
    and appended behind it (the service accepts records its own key signed)."""
    log = server.service.log
    small_history(log.store, log.signer)
    log.sync()


def _env(server: RunningServer, token: str) -> dict[str, str]:
    public = server.workspace.root / "service.pub"
    public.write_bytes(
        server.service.signer.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return {
        "GATEKEEPER_TOKEN": token,
        "GATEKEEPER_SERVER_PUBLIC_KEY": str(public),
    }


def test_a_submit_token_opens_and_resolves_an_incident_the_client_verifies(
    server: RunningServer, tmp_path: Path
) -> None:
    _seed(server)
    token = server.token("shop", Scope.SUBMIT)
    env = _env(server, token)
    opened = post_incident(
        server.url,
        "/v1/incidents",
        {"service": "shop", "deployment_id": "dep5", "opened_at": "2026-11-08T02:00:00Z"},
        env=env,
        cwd=tmp_path,
    )
    assert opened["deployment_id"] == "dep5" and opened["incident_id"].startswith("inc-")
    resolved = post_incident(
        server.url,
        f"/v1/incidents/{opened['incident_id']}/resolve",
        {"resolved_at": "2026-11-08T02:30:00Z", "summary": "rolled forward"},
        env=env,
        cwd=tmp_path,
    )
    assert resolved["at"] == "2026-11-08T02:30:00.000000Z"
    with server.client(token) as client:
        keys = client.get("/v1/dora", params={"from": "2026-11-01", "to": "2026-11-10"}).json()
    shop = keys["services"]["shop"]
    # dep5 now failed too: 4 of 5; restores 1800, 7200 and the new 1800 s -> median 1800
    assert shop["change_failure_rate"]["value"] == 0.8
    assert shop["time_to_restore"]["value"] == 1800


class _AlteringTransport(httpx.BaseTransport):
    """Forwards to the real service, then changes its answer as a man in the middle would."""

    def __init__(self, alter: Callable[[dict[str, Any]], None]) -> None:
        self.inner = httpx.HTTPTransport()
        self.alter = alter

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        document = json.loads(response.read())
        self.alter(document)
        return httpx.Response(response.status_code, json=document)


def _forge_incident(document: dict[str, Any]) -> None:
    document["incident"]["incident_id"] = "inc-forged"


def _forge_body(document: dict[str, Any]) -> None:
    document["record"]["body"] = document["record"]["body"].replace("dep5", "dep4")


@pytest.mark.parametrize(
    ("alter", "reason"),
    [
        (_forge_incident, "the returned incident is not the one recorded"),
        (_forge_body, "the record's body does not match its hash"),
    ],
)
def test_an_incident_answer_changed_on_the_way_is_refused(
    server: RunningServer,
    tmp_path: Path,
    alter: Callable[[dict[str, Any]], None],
    reason: str,
) -> None:
    _seed(server)
    env = _env(server, server.token("shop", Scope.SUBMIT))
    with pytest.raises(ServerAnswerError, match=reason):
        post_incident(
            server.url,
            "/v1/incidents",
            {"service": "shop", "deployment_id": "dep5", "opened_at": "2026-11-08T02:00:00Z"},
            env=env,
            cwd=tmp_path,
            transport=_AlteringTransport(alter),
        )


def test_a_read_token_cannot_write_and_another_project_sees_nothing(
    server: RunningServer, tmp_path: Path
) -> None:
    _seed(server)
    size = server.service.log.tree.size
    read = server.token("shop", Scope.READ)
    admin = server.token("shop", Scope.ADMIN)
    other = server.token("cart", Scope.SUBMIT)
    body = {"service": "shop", "deployment_id": "dep5"}
    for token in (read, admin, other):
        with server.client(token) as client:
            assert client.post("/v1/incidents", json=body).status_code == 403
    incident = small_history(server.service.log.store, server.service.log.signer)
    server.service.log.sync()
    size = server.service.log.tree.size
    with server.client(read) as client:
        assert client.post(f"/v1/incidents/{incident}/resolve", json={}).status_code == 403
        assert client.get("/v1/dora").status_code == 200
        assert client.get("/v1/dora", params={"service": "cart"}).status_code == 403
    with server.client(other) as client:
        assert client.post(f"/v1/incidents/{incident}/resolve", json={}).status_code == 404
        cart = client.get("/v1/dora").json()
    assert list(cart["services"]) == ["cart"]
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.post("/v1/incidents", json=body).status_code == 401
    assert server.service.log.tree.size == size  # nothing was written
    with pytest.raises(ServerAnswerError, match="refused the token"):
        post_incident(server.url, "/v1/incidents", body, env=_env(server, read), cwd=tmp_path)


def test_bad_incident_input_is_400_with_one_line(server: RunningServer) -> None:
    token = server.token("shop", Scope.SUBMIT)
    with server.client(token) as client:
        answer = client.post("/v1/incidents", json={"service": "shop", "opened_at": "soon"})
        assert answer.status_code == 400 and "opened_at" in answer.json()["error"]
        answer = client.post("/v1/incidents", json={"service": "shop"})
        assert answer.status_code == 400 and "no promoted deployment" in answer.json()["error"]
        assert client.post("/v1/incidents", content=b"[1]").status_code == 400
        # Text that is not Unicode would break the record's encoding: bad input, not a 500.
        lone = b'{"service": "shop", "summary": "down \\ud800"}'
        answer = client.post("/v1/incidents", content=lone)
        assert answer.status_code == 400 and "surrogate" in answer.json()["error"]
        duplicate = b'{"service": "shop", "service": "other"}'
        assert client.post("/v1/incidents", content=duplicate).status_code == 400
        deploy_event = b'{"kind": "deploy.promoted", "outcome": "x\\udc00"}'
        answer = client.post("/v1/deployments", content=deploy_event)
        assert answer.status_code == 400 and "surrogate" in answer.json()["error"]
        assert client.get("/v1/dora", params={"from": "yesterday"}).status_code == 400
