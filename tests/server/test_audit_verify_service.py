"""`gatekeeper audit verify --server URL`: an auditor checks the service's whole log with its
public key only. Intact: exit 0 with the signed checkpoint; a record rewritten in the
database, a checkpoint signed by another key, a log restarted from scratch under the same key:
exit 1 naming it; a token without admin scope or nobody listening: exit 3."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gatekeeper.server.tokens import Scope
from tests.conftest import CliResult, run_cli
from tests.server.conftest import RunningServer, Workspace, running
from tests.server.test_deploy_through_service import _pem

pytestmark = pytest.mark.e2e  # a real service, real gatekeeper processes


def _verify(url: str, token: str, key: Path, cwd: Path, *more: str) -> CliResult:
    env = {"GATEKEEPER_TOKEN": token}
    return run_cli(
        "audit", "verify", "--server", url, "--trusted-key", str(key), *more, env=env, cwd=cwd
    )


def _submit_some(server: RunningServer, count: int) -> None:
    submit = server.token("shop", Scope.SUBMIT)
    for n in range(count):
        evidence = "bad.cdx.json" if n % 2 else "good.cdx.json"
        assert server.submit(submit, [evidence]).status_code == 200


def test_an_intact_log_verifies_and_a_rewritten_record_is_named(
    server: RunningServer, tmp_path: Path
) -> None:
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    public = _pem(server.service.signer.private_key, tmp_path / "service.pub")
    admin = server.token("audit", Scope.ADMIN)
    _submit_some(server, 5)

    intact = _verify(server.url, admin, public, auditor)
    assert intact.code == 0, intact.stderr
    assert "ledger intact: 5 records, 5 signed" in intact.stdout
    assert f"checkpoint: 5 records, root {server.service.log.tree.root().hex()}" in intact.stdout
    assert (auditor / ".gatekeeper" / "server-checkpoint.json").is_file()  # remembered

    as_json = _verify(server.url, admin, public, auditor, "--format", "json").json()
    assert as_json["intact"] is True and as_json["records"] == 5
    assert as_json["ledger"] == server.url

    # Not an auditor's token: refused, not "intact".
    submit = server.token("shop", Scope.SUBMIT)
    refused = _verify(server.url, submit, public, auditor)
    assert refused.code == 3 and "refused the token (403)" in refused.stderr

    # Another key: the checkpoint is not trusted.
    other = _pem(Ed25519PrivateKey.generate(), tmp_path / "other.pub")
    untrusted = _verify(server.url, admin, other, auditor)
    assert untrusted.code == 1
    assert "TAMPERED" in untrusted.stdout and "not signed by a trusted key" in untrusted.stdout

    # Someone with database access turns the failing record #2 into a pass.
    with sqlite3.connect(server.workspace.state / "ledger.db") as db:
        (body,) = db.execute("SELECT body FROM gk_ledger_records WHERE seq = 2").fetchone()
        flipped = body.replace('"outcome":"fail"', '"outcome":"pass"', 1)
        assert flipped != body
        db.execute("UPDATE gk_ledger_records SET body = ? WHERE seq = 2", (flipped,))
    tampered = _verify(server.url, admin, public, auditor)
    assert tampered.code == 1, tampered.stdout + tampered.stderr
    assert "TAMPERED" in tampered.stdout and "#2" in tampered.stdout


def test_a_log_started_over_under_the_same_key_is_caught_by_the_auditors_memory(
    workspace: Workspace, tmp_path: Path
) -> None:
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    service = workspace.open()
    public = _pem(service.signer.private_key, tmp_path / "service.pub")
    try:
        with running(service, workspace) as server:
            admin = server.token("audit", Scope.ADMIN)
            _submit_some(server, 3)
            assert _verify(server.url, admin, public, auditor).code == 0
    finally:
        service.close()
    # The operator (or an attacker with the key's host) starts over with an empty state.
    tokens = (workspace.state / "tokens.db").read_bytes()
    shutil.rmtree(workspace.state)
    workspace.state.mkdir()
    (workspace.state / "tokens.db").write_bytes(tokens)
    service = workspace.open()
    try:
        with running(service, workspace) as server:
            _submit_some(server, 2)
            again = _verify(server.url, admin, public, auditor)
            assert again.code == 1, again.stdout + again.stderr
            assert "shrank from 3 to 2" in again.stdout
            url = server.url
    finally:
        service.close()
    gone = _verify(url, admin, public, auditor)
    assert gone.code == 3 and "unreachable" in gone.stderr


def test_report_replay_and_export_read_the_services_verified_log(
    server: RunningServer, tmp_path: Path
) -> None:
    public = _pem(server.service.signer.private_key, tmp_path / "service.pub")
    env = {"GATEKEEPER_TOKEN": server.token("audit", Scope.ADMIN)}
    env["GATEKEEPER_SERVER_PUBLIC_KEY"] = str(public)
    _submit_some(server, 3)
    url = server.url
    ledger = str(server.workspace.state / "ledger.db")

    served = run_cli("audit", "report", "--server", url, "--format", "json", env=env, cwd=tmp_path)
    assert served.code == 0, served.stderr
    local = run_cli("audit", "report", "--ledger", ledger, "--format", "json", cwd=tmp_path)
    assert local.code == 0, local.stderr
    strip = ("generated_at", "ledger")
    assert {k: v for k, v in served.json().items() if k not in strip} == {
        k: v for k, v in local.json().items() if k not in strip
    }

    with server.client(env["GATEKEEPER_TOKEN"]) as client:
        newest = client.get("/v1/decisions").json()["decisions"][0]["decision_id"]
    replayed = run_cli("audit", "replay", newest, "--server", url, env=env, cwd=tmp_path)
    assert replayed.code == 0, replayed.stdout + replayed.stderr
    assert "IDENTICAL" in replayed.stdout
    vsa = run_cli("audit", "export", "vsa", newest, "--server", url, env=env, cwd=tmp_path)
    assert vsa.code == 0 and '"verificationResult": "PASSED"' in vsa.stdout

    # A log that does not verify is not read from at all.
    with sqlite3.connect(ledger) as db:
        db.execute(
            'UPDATE gk_ledger_records SET body = replace(body, \'"outcome":"fail"\', '
            '\'"outcome":"pass"\') WHERE seq = 2'
        )
    refused = run_cli("audit", "report", "--server", url, "--format", "json", env=env, cwd=tmp_path)
    assert refused.code == 3 and "does not verify" in refused.stderr
    assert refused.stdout == ""
