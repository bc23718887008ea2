"""The decision service over real HTTP: the same decision as `gate run`, proofs a client can
check, tokens and scopes, bounded and validated uploads, health and metrics."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.ledger.canonical import digest_of_text
from gatekeeper.ledger.merkle import (
    Checkpoint,
    checkpoint_valid,
    hashes_from_hex,
    record_leaf,
    verify_consistency,
    verify_inclusion,
)
from gatekeeper.server.service import ServiceSettings, open_service
from gatekeeper.server.tokens import Scope
from tests.conftest import run_cli
from tests.server.conftest import RunningServer, Workspace, running

pytestmark = pytest.mark.e2e  # a real server and real engine runs: seconds per test


def _verify_answer(answer: dict[str, Any], server: RunningServer) -> Checkpoint:
    """What a client does with an answer: the checkpoint is signed by the pinned key, the
    record's body hashes to the record hash, and the proof puts it in the checkpoint's tree."""
    checkpoint = Checkpoint.from_document(answer["checkpoint"])
    assert checkpoint_valid(checkpoint, server.service.signer.public_raw)
    record = answer["record"]
    assert digest_of_text(record["body"]) == record["hash"]
    assert record["key_id"] == server.service.signer.key_id == checkpoint.key_id
    proof = answer["inclusion_proof"]
    assert verify_inclusion(
        record_leaf(record["hash"]),
        proof["leaf_index"],
        proof["tree_size"],
        hashes_from_hex(proof["hashes"], "proof"),
        checkpoint.root_hash,
    )
    return checkpoint


def test_a_submission_is_judged_like_gate_run_and_comes_back_provable(
    server: RunningServer,
) -> None:
    token = server.token("shop", Scope.SUBMIT)
    root = server.workspace.root
    for evidence, outcome, exit_code in (("bad.cdx.json", "fail", 1), ("good.cdx.json", "pass", 0)):
        response = server.submit(token, [evidence])
        assert response.status_code == 200, response.text
        answer = response.json()
        local = run_cli(
            "gate",
            "run",
            "-p",
            str(server.workspace.policy),
            "--release",
            "release.yaml",
            evidence,
            "--format",
            "json",
            "--no-ledger",
            cwd=root,
        )
        assert local.code == exit_code
        expected = local.json()
        served = answer["decision"]
        assert served["schema"] == expected["schema"] == "gatekeeper.decision/v1"
        for key in ("outcome", "violations", "inputs", "release", "policy_bundle", "summary"):
            assert served[key] == expected[key], key
        assert served["outcome"] == outcome
        _verify_answer(answer, server)

    # Read back by id: the same decision, a proof against the newest checkpoint.
    decision_id = answer["decision"]["decision_id"]
    with server.client(token) as client:
        by_id = client.get(f"/v1/decisions/{decision_id}").json()
        assert by_id["decision"] == answer["decision"]
        assert _verify_answer(by_id, server).tree_size == 2
        listed = client.get("/v1/decisions", params={"artifact": "sha256:" + "0" * 63 + "1"})
        assert [d["outcome"] for d in listed.json()["decisions"]] == ["pass", "fail"]
        none = client.get("/v1/decisions", params={"artifact": "sha256:" + "f" * 64})
        assert none.json()["decisions"] == []


def test_consistency_proofs_link_successive_checkpoints(server: RunningServer) -> None:
    token = server.token("shop", Scope.SUBMIT)
    checkpoints = []
    for _ in range(3):
        answer = server.submit(token, ["good.cdx.json"]).json()
        checkpoints.append(Checkpoint.from_document(answer["checkpoint"]))
    with server.client(token) as client:
        current = Checkpoint.from_document(client.get("/v1/checkpoint").json())
        assert current == checkpoints[-1]
        for old in checkpoints[:-1]:
            proof = client.get(
                "/v1/log/consistency", params={"from": old.tree_size, "to": current.tree_size}
            ).json()
            hashes = hashes_from_hex(proof["hashes"], "proof")
            assert verify_consistency(
                old.tree_size, current.tree_size, old.root_hash, current.root_hash, hashes
            )
        beyond = client.get("/v1/log/consistency", params={"from": 1, "to": 99})
        assert beyond.status_code == 400


def test_missing_wrong_and_revoked_tokens_get_401_without_detail(server: RunningServer) -> None:
    token = server.token("shop", Scope.SUBMIT)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with server.client() as anonymous:
        for path in ("/v1/checkpoint", "/v1/decisions", "/metrics", "/openapi.json"):
            response = anonymous.get(path)
            assert response.status_code == 401
            assert response.json() == {"detail": "unauthorized"}
        assert anonymous.post("/v1/gate").status_code == 401
        # Health needs no token.
        assert anonymous.get("/health/live").status_code == 200
        ready = anonymous.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["ready"] is True
    for bad in (forged, "gkt_nonsense", "Basic abc"):
        with server.client(bad) as client:
            assert client.get("/v1/checkpoint").json() == {"detail": "unauthorized"}
    server.service.tokens.revoke(token)
    with server.client(token) as client:
        assert client.get("/v1/checkpoint").status_code == 401


def test_scopes_and_projects(server: RunningServer) -> None:
    shop = server.token("shop", Scope.SUBMIT)
    shop_reader = server.token("shop", Scope.READ)
    other = server.token("billing", Scope.SUBMIT)
    admin = server.token("ops", Scope.ADMIN)
    decision_id = server.submit(shop, ["good.cdx.json"]).json()["decision"]["decision_id"]

    # A read or admin token cannot submit; a submit token cannot submit another project's.
    for token in (shop_reader, admin, other):
        response = server.submit(token, ["good.cdx.json"])
        assert response.status_code == 403
        assert response.json() == {"detail": "forbidden"}
    assert server.service.log.tree.size == 1

    with server.client(other) as client:  # another project's decision does not exist for it
        assert client.get(f"/v1/decisions/{decision_id}").status_code == 404
        assert client.get("/v1/decisions").json()["decisions"] == []
        assert client.get("/v1/decisions", params={"service": "shop"}).status_code == 403
    for token in (shop, shop_reader, admin):
        with server.client(token) as client:
            assert client.get(f"/v1/decisions/{decision_id}").status_code == 200
            listed = client.get("/v1/decisions").json()["decisions"]
            assert [d["decision_id"] for d in listed] == [decision_id]


def test_bad_uploads_are_400_with_the_cli_message_and_nothing_is_recorded(
    server: RunningServer,
) -> None:
    token = server.token("shop", Scope.SUBMIT)
    root = server.workspace.root
    (root / "broken.json").write_text('{"bomFormat": "CycloneDX", ', encoding="utf-8")
    response = server.submit(token, ["broken.json"])
    assert response.status_code == 400
    body = response.json()
    assert body["exit_code"] == 2
    assert body["error"].startswith("broken.json:")
    assert "gatekeeper-upload" not in body["error"]  # the service's temporary folder is hidden
    local = run_cli(
        "gate",
        "run",
        "-p",
        str(server.workspace.policy),
        "--release",
        "release.yaml",
        "broken.json",
        "--no-ledger",
        cwd=root,
    )
    assert local.code == 2
    assert body["error"] in local.stderr

    assert server.submit(token, ["good.cdx.json"], release=None).status_code == 400
    assert server.service.log.tree.size == 0


def test_an_oversized_body_is_refused_with_413(workspace: Workspace) -> None:
    service = workspace.open()
    # A small bound (the default is 256 MiB); the app reads it when it is created.
    service.settings = dataclasses.replace(service.settings, max_upload_bytes=2048)
    try:
        with running(service, workspace) as server:
            token = server.token("shop", Scope.SUBMIT)
            with server.client(token) as client:
                big = [("evidence", ("big.json", b"x" * 10_000))]
                assert client.post("/v1/gate", files=big).status_code == 413
                # A chunked body (no Content-Length) is cut off while it streams in.
                streamed = client.post(
                    "/v1/gate",
                    content=iter([b"--x\r\n"] + [b"y" * 1024] * 8),
                    headers={"Content-Type": "multipart/form-data; boundary=x"},
                )
                assert streamed.status_code == 413
                assert "limit of 2048 bytes" in streamed.json()["error"]
            assert service.log.tree.size == 0
    finally:
        service.close()


def test_metrics_count_requests_decisions_and_the_log(server: RunningServer) -> None:
    token = server.token("shop", Scope.SUBMIT)
    server.submit(token, ["bad.cdx.json"])
    server.submit(token, ["good.cdx.json"])
    with server.client(token) as client:
        text = client.get("/metrics").text
        assert client.get("/openapi.json").json()["paths"]["/v1/gate"]
    assert 'gatekeeper_decisions_total{outcome="fail"} 1' in text
    assert 'gatekeeper_decisions_total{outcome="pass"} 1' in text
    assert "gatekeeper_evaluation_seconds_count 2" in text
    assert 'gatekeeper_http_requests_total{method="POST",route="/v1/gate",status="200"} 2' in text
    assert "gatekeeper_log_size 2" in text


def test_upload_names_cannot_leave_the_upload_folder(server: RunningServer) -> None:
    token = server.token("shop", Scope.SUBMIT)
    root = server.workspace.root
    files = [
        ("evidence", ("../../../../tmp/evil/good.cdx.json", (root / "good.cdx.json").read_bytes())),
        ("release", ("..\\..\\release.yaml", (root / "release.yaml").read_bytes())),
    ]
    with server.client(token) as client:
        answer = client.post("/v1/gate", files=files)
        assert answer.status_code == 200, answer.text
        assert [ref["path"] for ref in answer.json()["decision"]["inputs"]] == ["good.cdx.json"]
        unexpected = client.post("/v1/gate", files=[("policy", ("x.rego", b"package x"))])
        assert unexpected.status_code == 400
        assert "unexpected form field 'policy'" in unexpected.json()["error"]
    assert not Path("/tmp/evil").exists()


def test_a_database_written_behind_the_service_makes_submissions_503(
    server: RunningServer,
) -> None:
    import sqlite3

    token = server.token("shop", Scope.SUBMIT)
    assert server.submit(token, ["good.cdx.json"]).status_code == 200
    db = sqlite3.connect(str(server.workspace.state / "ledger.db"), isolation_level=None)
    db.execute("UPDATE gk_ledger_head SET hash = ?", ("sha256:" + "e" * 64,))
    db.close()
    refused = server.submit(token, ["good.cdx.json"])
    assert refused.status_code == 503
    assert "head changed" in refused.json()["error"]
    assert refused.json()["exit_code"] == 3
    assert server.service.log.tree.size == 1
    with server.client() as anonymous:  # a load balancer takes it out of rotation
        ready = anonymous.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] is False


def test_no_answer_names_the_services_temporary_upload_folder(workspace: Workspace) -> None:
    # The built-in library names the SBOM file in some violations' subjects and messages.
    service = open_service(
        workspace.paths(), ServiceSettings(), key_path=workspace.key, env={}, cwd=workspace.root
    )
    try:
        with running(service, workspace) as server:
            answer = server.submit(server.token("shop", Scope.SUBMIT), ["good.cdx.json"]).json()
    finally:
        service.close()
    decision = answer["decision"]
    assert "gatekeeper-upload-" not in json.dumps(decision)
    assert any(v.get("subject") == "good.cdx.json" for v in decision["violations"])
