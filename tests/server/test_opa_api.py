"""OPA's Data and Policy APIs on the real service, queried by opa-python-client, and the
``opa-server`` engine: a gate run through it decides as a local run, and every way the server
can fail is exit 3, never a pass."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from opa_client.opa import OpaClient

from gatekeeper.server.tokens import Scope
from tests.conftest import run_cli
from tests.server.conftest import POLICY, RunningServer

pytestmark = pytest.mark.e2e  # real server, real gatekeeper processes

BAD_INPUT = {"components": [{"name": "badlib"}, {"name": "goodlib"}]}


def _client(server: RunningServer, token: str) -> OpaClient:
    parts = urlsplit(server.url)
    return OpaClient(host=str(parts.hostname), port=int(parts.port or 80), token=token, timeout=30)


def test_opa_python_client_queries_the_policies_the_service_holds(server: RunningServer) -> None:
    client = _client(server, server.token("shop", Scope.SUBMIT))
    try:
        assert "banned.rego" in client.get_policies_list()
        assert client.get_policy("banned.rego")["result"]["raw"] == POLICY
        answer = client.query_rule(
            input_data=BAD_INPUT, package_path="test.banned", rule_name="deny"
        )
        assert answer == {"result": ["badlib is banned"]}
        clean = client.query_rule(input_data={"components": []}, package_path="test.banned")
        assert clean["result"]["deny"] == []
        # An undefined document is {} as OPA answers, not an error and not a made-up value.
        assert client.query_rule(input_data={}, package_path="test.nothing_here") == {}
    finally:
        client.close_connection()


def test_data_api_needs_a_token_and_policy_changes_need_admin(server: RunningServer) -> None:
    with server.client() as anonymous:
        assert anonymous.post("/v1/data/test/banned/deny", json={"input": {}}).status_code == 401
        assert anonymous.get("/v1/policies").status_code == 401
    extra = "package test.extra\n\nimport rego.v1\n\nanswer := input.x * 2\n"
    with server.client(server.token("shop", Scope.SUBMIT)) as submitter:
        assert submitter.put("/v1/policies/extra.rego", content=extra).status_code == 403
        assert submitter.delete("/v1/policies/banned.rego").status_code == 403
    with server.client(server.token("ops", Scope.ADMIN)) as admin:
        assert admin.put("/v1/policies/extra.rego", content=extra).json() == {}
        assert admin.post("/v1/data/test/extra/answer", json={"input": {"x": 21}}).json() == {
            "result": 42
        }
        broken = admin.put("/v1/policies/broken.rego", content="package broken\n\nallow if {")
        assert broken.status_code == 400 and broken.json()["code"] == "invalid_parameter"
        network = admin.put(
            "/v1/policies/net.rego",
            content='package net\n\nimport rego.v1\n\nx := http.send({"method": "GET", '
            '"url": "http://127.0.0.1:9"})\n',
        )
        assert network.status_code == 400 and "http.send" in network.json()["message"]
        # The service's own bundle is not the Policy API's to delete.
        assert admin.delete("/v1/policies/banned.rego").status_code == 404
        assert admin.delete("/v1/policies/extra.rego").json() == {}
        assert admin.post("/v1/data/test/extra/answer", json={"input": {"x": 1}}).json() == {}
    # Modules put through the Policy API never change what /v1/gate judges with.
    token = server.token("shop", Scope.SUBMIT)
    assert server.submit(token, ["good.cdx.json"]).json()["decision"]["outcome"] == "pass"


def test_gate_run_on_the_opa_server_engine_decides_as_a_local_run(server: RunningServer) -> None:
    root = server.workspace.root
    token = server.token("shop", Scope.SUBMIT)
    policy = str(server.workspace.policy)
    for evidence, code in (("bad.cdx.json", 1), ("good.cdx.json", 0)):
        common = ("gate", "run", "-p", policy, "--release", "release.yaml", evidence, "--no-ledger")
        remote = run_cli(
            *common,
            "--engine",
            "opa-server",
            "--opa-url",
            server.url,
            "--format",
            "json",
            cwd=root,
            env={"GATEKEEPER_OPA_TOKEN": token},
        )
        local = run_cli(*common, "--format", "json", cwd=root)
        assert (remote.code, local.code) == (code, code), remote.stderr
        served, mine = remote.json(), local.json()
        assert served["engine"]["name"] == "opa-server"
        for key in ("outcome", "violations", "summary"):
            assert served[key] == mine[key], key


def test_every_server_failure_is_exit_3(server: RunningServer, tmp_path: Path) -> None:
    root = server.workspace.root
    token = server.token("shop", Scope.SUBMIT)
    policy = str(server.workspace.policy)
    args = ("gate", "run", "-p", policy, "--release", "release.yaml", "bad.cdx.json", "--no-ledger")
    auth = {"GATEKEEPER_OPA_TOKEN": token}

    def gate(url: str | None, env: dict[str, str], *extra: str) -> tuple[int, str]:
        engine = ("--engine", "opa-server", *(("--opa-url", url) if url else ()))
        result = run_cli(*args, *engine, *extra, cwd=root, env=env)
        return result.code, result.stderr

    code, err = gate(None, auth)
    assert code == 3 and "GATEKEEPER_OPA_URL" in err
    code, err = gate("http://127.0.0.1:9", auth)
    assert code == 3 and "cannot reach" in err
    code, err = gate(server.url, {})  # no token: 401
    assert code == 3 and "HTTP 401" in err

    # The run's policy differs from what the server holds: refused, not judged by other rules.
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "banned.rego").write_text(POLICY.replace('"badlib"', '"otherlib"'), "utf-8")
    result = run_cli(
        "gate",
        "run",
        "-p",
        str(changed),
        "--release",
        "release.yaml",
        "bad.cdx.json",
        "--no-ledger",
        "--engine",
        "opa-server",
        "--opa-url",
        server.url,
        cwd=root,
        env=auth,
    )
    assert result.code == 3 and "does not hold banned.rego" in result.stderr

    # A server that lists the policies but answers queries with garbage or errors.
    listing = json.dumps({"result": [{"id": "banned.rego", "raw": POLICY}]}).encode()

    class Broken(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(listing)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path.endswith("/deny"):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"<html>not json</html>")
            else:
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b'{"code": "internal_error", "message": "boom"}')

        def log_message(self, *_: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        code, err = gate(f"http://127.0.0.1:{httpd.server_port}", auth)
        assert code == 3 and ("not JSON" in err or "HTTP 500" in err), err
    finally:
        httpd.shutdown()
