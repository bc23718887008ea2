"""`gate run --server`: same decision and exit codes as a local run, reports written locally,
and nothing the service says is used unless it verifies (otherwise exit 3, never a pass)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gatekeeper.server.client import submit
from gatekeeper.server.errors import ServerAnswerError
from gatekeeper.server.tokens import Scope
from tests.conftest import run_cli
from tests.server.conftest import RunningServer

pytestmark = pytest.mark.e2e  # real server, real gatekeeper processes


def _public_pem(server: RunningServer, path: Path, *, other: bool = False) -> Path:
    key = Ed25519PrivateKey.generate() if other else server.service.signer.private_key
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def _env(server: RunningServer, token: str, key: Path, url: str | None = None) -> dict[str, str]:
    return {
        "GATEKEEPER_SERVER": url or server.url,
        "GATEKEEPER_TOKEN": token,
        "GATEKEEPER_SERVER_PUBLIC_KEY": str(key),
    }


def test_gate_run_through_the_server_matches_a_local_run(server: RunningServer) -> None:
    root = server.workspace.root
    token = server.token("shop", Scope.SUBMIT)
    env = _env(server, token, _public_pem(server, root / "service.pub"))
    policy = str(server.workspace.policy)
    for evidence, code in (("bad.cdx.json", 1), ("good.cdx.json", 0)):
        remote = run_cli(
            "gate",
            "run",
            "--release",
            "release.yaml",
            evidence,
            "-o",
            "json=remote.json",
            cwd=root,
            env=env,
        )
        local = run_cli(
            "gate",
            "run",
            "-p",
            policy,
            "--release",
            "release.yaml",
            evidence,
            "-o",
            "json=local.json",
            "--no-ledger",
            cwd=root,
        )
        assert (remote.code, local.code) == (code, code), remote.stderr
        served = json.loads((root / "remote.json").read_text())
        mine = json.loads((root / "local.json").read_text())
        for key in ("outcome", "violations", "inputs", "release", "policy_bundle"):
            assert served[key] == mine[key], key
    assert server.service.log.tree.size == 2
    assert not (root / ".gatekeeper" / "ledger.db").exists()  # recorded by the service only
    assert (root / ".gatekeeper" / "server-checkpoint.json").exists()

    broken = root / "broken.json"
    broken.write_text("{", encoding="utf-8")
    bad_input = run_cli(
        "gate", "run", "--release", "release.yaml", "broken.json", cwd=root, env=env
    )
    assert bad_input.code == 2
    assert bad_input.stderr.startswith("gatekeeper: error: broken.json:")


def test_unreachable_garbage_or_unverifiable_servers_are_exit_3(
    server: RunningServer, tmp_path: Path
) -> None:
    root = server.workspace.root
    token = server.token("shop", Scope.SUBMIT)
    good_key = _public_pem(server, tmp_path / "service.pub")
    args = ("gate", "run", "--release", "release.yaml", "good.cdx.json")

    # Nothing listens there.
    down = run_cli(*args, cwd=root, env=_env(server, token, good_key, "http://127.0.0.1:9"))
    assert down.code == 3 and "unreachable" in down.stderr

    # A server answering 200 with garbage.
    class Garbage(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"decision": {"outcome": "pass"}}')

        def log_message(self, *args: Any) -> None:
            pass

    garbage = HTTPServer(("127.0.0.1", 0), Garbage)
    thread = threading.Thread(target=garbage.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{garbage.server_address[1]}"
        answered = run_cli(*args, cwd=root, env=_env(server, token, good_key, url))
        assert answered.code == 3 and "answer refused" in answered.stderr
    finally:
        garbage.shutdown()

    # The real service, but a different pinned key (a man in the middle would have it).
    wrong = run_cli(
        *args,
        cwd=root,
        env=_env(server, token, _public_pem(server, tmp_path / "other.pub", other=True)),
    )
    assert wrong.code == 3 and "not signed by the pinned service key" in wrong.stderr

    # A revoked token.
    server.service.tokens.revoke(token)
    refused = run_cli(*args, cwd=root, env=_env(server, token, good_key))
    assert refused.code == 3 and "refused the token (401)" in refused.stderr
    for result in (down, answered, wrong, refused):
        assert result.stderr.count("\n") == 1  # one line, no traceback


def _replaying(answer: dict[str, Any], consistency: dict[str, Any] | None = None) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/log/consistency":
            return httpx.Response(200, json=consistency or {"hashes": []})
        return httpx.Response(200, json=answer)

    return httpx.MockTransport(handle)


def test_a_forged_answer_or_a_rewritten_log_is_refused(
    server: RunningServer, tmp_path: Path
) -> None:
    root = server.workspace.root
    token = server.token("shop", Scope.SUBMIT)
    env = _env(server, token, _public_pem(server, tmp_path / "service.pub"))
    genuine = server.submit(token, ["bad.cdx.json"]).json()
    evidence = [str(root / "bad.cdx.json")]
    release = str(root / "release.yaml")

    # The genuine answer verifies.
    served = submit(
        "http://x",
        evidence=evidence,
        release_file=release,
        env=env,
        cwd=tmp_path,
        transport=_replaying(genuine),
    )
    assert served.decision.outcome.value == "fail"

    forged = json.loads(json.dumps(genuine))
    forged["decision"]["outcome"] = "pass"  # flipped in transit
    with pytest.raises(ServerAnswerError, match="not the one recorded"):
        submit(
            "http://x",
            evidence=evidence,
            release_file=release,
            env=env,
            cwd=tmp_path / "a",
            transport=_replaying(forged),
        )

    # This workspace remembers the size-1 checkpoint; a size-2 log that is not its extension
    # (an empty consistency proof) is refused.
    later = server.submit(token, ["good.cdx.json"]).json()
    with pytest.raises(ServerAnswerError, match="does not extend"):
        submit(
            "http://x",
            evidence=evidence,
            release_file=release,
            env=env,
            cwd=tmp_path,
            transport=_replaying(later, {"hashes": []}),
        )
    # And with the service's real proof it is accepted.
    served = submit(server.url, evidence=evidence, release_file=release, env=env, cwd=tmp_path)
    assert served.checkpoint.tree_size == 3
