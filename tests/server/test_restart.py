"""Restart safety: the service refuses to start (or append) when its database no longer
matches the last signed checkpoint kept outside it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gatekeeper.gate.run import GateRequest, GateResult, run_gate
from gatekeeper.ledger.merkle import sign_checkpoint
from gatekeeper.ledger.signing import Signer, generate_key_pem
from gatekeeper.server.errors import LogMismatch
from gatekeeper.server.log import write_checkpoint
from tests.conftest import run_cli
from tests.server.conftest import Workspace


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> GateResult:
    """One real gate result, appended as often as a test needs records."""
    from tests.server.conftest import POLICY, release_yaml, sbom

    root = tmp_path_factory.mktemp("gate")
    (root / "p.rego").write_text(POLICY, encoding="utf-8")
    (root / "s.json").write_text(sbom("goodlib"), encoding="utf-8")
    (root / "r.yaml").write_text(release_yaml("shop"), encoding="utf-8")
    return run_gate(
        GateRequest(
            evidence=(str(root / "s.json"),),
            policies=(str(root / "p.rego"),),
            release_file=str(root / "r.yaml"),
            cwd=root,
        )
    )


def _append(workspace: Workspace, result: GateResult, count: int) -> None:
    service = workspace.open()
    try:
        for _ in range(count):
            service.log.append(result, namespaces=())
    finally:
        service.close()


def _db(workspace: Workspace) -> sqlite3.Connection:
    return sqlite3.connect(str(workspace.state / "ledger.db"), isolation_level=None)


def _backup(workspace: Workspace, target: Path) -> None:
    source = _db(workspace)
    destination = sqlite3.connect(str(target))
    source.backup(destination)
    destination.close()
    source.close()


def _refused(workspace: Workspace, *words: str) -> str:
    with pytest.raises(LogMismatch) as caught:
        workspace.open().close()
    message = caught.value.one_line()
    assert "\n" not in message
    for word in words:
        assert word in message
    return message


def test_a_clean_restart_keeps_the_log_and_its_checkpoint(
    workspace: Workspace, result: GateResult
) -> None:
    _append(workspace, result, 3)
    service = workspace.open()
    try:
        assert service.log.tree.size == 3
        assert service.log.checkpoint.tree_size == 3
        service.log.append(result, namespaces=())
    finally:
        service.close()
    saved = json.loads((workspace.state / "checkpoint.json").read_text())
    assert saved["tree_size"] == 4
    assert (workspace.state / "checkpoint.json").stat().st_mode & 0o077 == 0


def test_a_database_restored_from_an_older_backup_is_refused(
    workspace: Workspace, result: GateResult, tmp_path: Path
) -> None:
    _append(workspace, result, 2)
    _backup(workspace, tmp_path / "old.db")
    _append(workspace, result, 3)
    for suffix in ("", "-wal", "-shm"):
        (workspace.state / f"ledger.db{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "old.db", workspace.state / "ledger.db")
    _refused(workspace, "holds 2 records", "last checkpoint has 5", "older backup")


def test_a_truncated_tail_is_refused(workspace: Workspace, result: GateResult) -> None:
    _append(workspace, result, 4)
    db = _db(workspace)
    row = db.execute("SELECT seq, hash FROM gk_ledger_records WHERE seq = 3").fetchone()
    db.execute("DELETE FROM gk_ledger_records WHERE seq = 4")
    db.execute("UPDATE gk_ledger_head SET seq = ?, hash = ?", row)  # a careful attacker
    db.close()
    _refused(workspace, "holds 3 records", "last checkpoint has 4")


def test_a_modified_record_is_refused(workspace: Workspace, result: GateResult) -> None:
    _append(workspace, result, 3)
    db = _db(workspace)
    body = db.execute("SELECT body FROM gk_ledger_records WHERE seq = 2").fetchone()[0]
    forged = body.replace('"outcome":"pass"', '"outcome":"fail"')
    assert forged != body
    db.execute("UPDATE gk_ledger_records SET body = ? WHERE seq = 2", (forged,))
    db.close()
    _refused(workspace, "record #2", "modified")


def test_a_record_rewritten_with_a_new_hash_is_refused_by_its_signature(
    workspace: Workspace, result: GateResult
) -> None:
    """Rewrite the last record's body and recompute its hash and the head row: the chain
    links again, but the record's signature and the checkpoint's root no longer match."""
    from gatekeeper.ledger.canonical import digest_of_text

    _append(workspace, result, 2)
    db = _db(workspace)
    body = db.execute("SELECT body FROM gk_ledger_records WHERE seq = 2").fetchone()[0]
    forged = body.replace('"version":"1.0.0"', '"version":"6.6.6"')
    assert forged != body
    db.execute(
        "UPDATE gk_ledger_records SET body = ?, hash = ? WHERE seq = 2",
        (forged, digest_of_text(forged)),
    )
    db.execute("UPDATE gk_ledger_head SET hash = ?", (digest_of_text(forged),))
    db.close()
    _refused(workspace, "record #2")


def test_a_missing_or_foreign_checkpoint_file_is_refused(
    workspace: Workspace, result: GateResult
) -> None:
    _append(workspace, result, 2)
    checkpoint = workspace.state / "checkpoint.json"
    saved = checkpoint.read_text()
    checkpoint.unlink()
    _refused(workspace, "holds 2 records", "checkpoint file", "missing")
    # A checkpoint signed by another key (the attacker's) is not the service's.
    service_key = Ed25519PrivateKey.generate()
    write_checkpoint(
        checkpoint,
        sign_checkpoint(
            Signer(service_key),
            origin="gatekeeper",
            tree_size=0,
            root_hash=b"\0" * 32,
            timestamp="2026-01-01T00:00:00.000000Z",
        ),
    )
    _refused(workspace, "not signed by this service's key")
    checkpoint.write_text(saved)
    workspace.open().close()


def test_records_past_the_checkpoint_signed_by_the_service_are_a_crash_and_accepted(
    workspace: Workspace, result: GateResult, tmp_path: Path
) -> None:
    _append(workspace, result, 2)
    older = (workspace.state / "checkpoint.json").read_text()
    _append(workspace, result, 1)
    # As if the service died between committing record 3 and writing its checkpoint.
    (workspace.state / "checkpoint.json").write_text(older)
    service = workspace.open()
    try:
        assert service.log.checkpoint.tree_size == 3
    finally:
        service.close()


def test_a_record_appended_by_someone_else_is_refused(
    workspace: Workspace, result: GateResult
) -> None:
    """Someone with database access (no key) copies a record to the end: no service
    signature links it, so start-up refuses; a running service (which accepts records its
    replicas append, signed and linked) refuses to append after it, naming it."""
    _append(workspace, result, 2)
    service = workspace.open()
    try:
        db = _db(workspace)
        db.execute(
            "INSERT INTO gk_ledger_records (seq, decision_id, recorded_at, service, body, hash,"
            " signature) SELECT 3, decision_id, recorded_at, service, body, hash, signature"
            " FROM gk_ledger_records WHERE seq = 1"
        )
        db.execute("UPDATE gk_ledger_head SET seq = 3")
        db.close()
        with pytest.raises(LogMismatch, match=r"does not verify: record #3 .* was inserted"):
            service.log.append(result, namespaces=())
    finally:
        service.close()
    _refused(workspace, "record #3")


@pytest.mark.e2e  # real gatekeeper processes
def test_serve_refuses_to_start_with_one_line_and_exit_3(
    workspace: Workspace, result: GateResult, tmp_path: Path
) -> None:
    _append(workspace, result, 1)
    _backup(workspace, tmp_path / "old.db")
    _append(workspace, result, 1)
    for suffix in ("", "-wal", "-shm"):
        (workspace.state / f"ledger.db{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "old.db", workspace.state / "ledger.db")
    run = run_cli(
        "serve",
        "--state-dir",
        str(workspace.state),
        "--key",
        str(workspace.key),
        "-p",
        str(workspace.policy),
        "--port",
        "0",
    )
    assert run.code == 3
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gatekeeper: error:")
    assert "older backup" in lines[0]


@pytest.mark.e2e  # real gatekeeper processes
def test_a_key_readable_by_others_is_refused(workspace: Workspace) -> None:
    workspace.key.chmod(0o644)
    run = run_cli(
        "serve", "--state-dir", str(workspace.state), "--key", str(workspace.key), "--port", "0"
    )
    assert run.code == 2
    assert run.stderr.strip().count("\n") == 0
    assert "readable by others (mode 0644)" in run.stderr
    # The same key from the environment (a secret store's injection) is accepted.
    from gatekeeper.server.keys import load_service_key

    private, _ = generate_key_pem()
    signer = load_service_key(None, {"GATEKEEPER_SERVER_KEY": private.decode()})
    assert signer.key_id.startswith("ed25519:")
    no_key = run_cli("serve", "--state-dir", str(workspace.state), "--port", "0")
    assert no_key.code == 2 and "no signing key" in no_key.stderr


@pytest.mark.e2e  # real gatekeeper processes
def test_token_commands_create_list_and_revoke(workspace: Workspace) -> None:
    state = str(workspace.state)
    created = run_cli(
        "serve", "token", "create", "--state-dir", state, "--project", "shop", "--scope", "submit"
    )
    assert created.code == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("gkt_")
    # Hashed at rest: the secret is nowhere in the token database.
    secret = token.rsplit("_", 1)[1]
    assert secret.encode() not in (workspace.state / "tokens.db").read_bytes()
    listed = run_cli("serve", "token", "list", "--state-dir", state)
    token_id = token.split("_")[1]
    assert f"{token_id}  shop  submit  active" in listed.stdout
    assert run_cli("serve", "token", "revoke", "--state-dir", state, token_id).code == 0
    assert "revoked" in run_cli("serve", "token", "list", "--state-dir", state).stdout
    from gatekeeper.server.tokens import TokenStore

    store = TokenStore(workspace.state / "tokens.db")
    try:
        assert store.authenticate(token) is None
    finally:
        store.close()
    bad = run_cli(
        "serve", "token", "create", "--state-dir", state, "--project", "../x", "--scope", "read"
    )
    assert bad.code == 2 and "project name" in bad.stderr


@pytest.mark.e2e  # a real `gatekeeper serve` process
def test_the_serve_command_serves_and_restarts_on_its_own_log(workspace: Workspace) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    state = str(workspace.state)
    token = run_cli(
        "serve", "token", "create", "--state-dir", state, "--project", "shop", "--scope", "submit"
    ).stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}

    def serve_once(submit: bool) -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gatekeeper",
                "serve",
                "--state-dir",
                state,
                "--key",
                str(workspace.key),
                "-p",
                str(workspace.policy),
                "--port",
                str(port),
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
            headers = {"Authorization": f"Bearer {token}"}
            if submit:
                files = [
                    (
                        "evidence",
                        ("good.cdx.json", (workspace.root / "good.cdx.json").read_bytes()),
                    ),
                    ("release", ("release.yaml", (workspace.root / "release.yaml").read_bytes())),
                ]
                answer = httpx.post(f"{url}/v1/gate", files=files, headers=headers, timeout=60)
                assert answer.status_code == 200, answer.text
            size = httpx.get(f"{url}/v1/checkpoint", headers=headers).json()["tree_size"]
            return int(size)
        finally:
            process.terminate()
            process.wait(timeout=30)
            assert process.stderr is not None
            process.stderr.close()

    assert serve_once(submit=True) == 1
    assert serve_once(submit=False) == 1  # restarted on its own log and checkpoint


def test_a_rotated_key_keeps_the_old_records_trusted_only_when_named(
    workspace: Workspace, result: GateResult, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization

    from gatekeeper.server.service import open_service

    _append(workspace, result, 2)
    old_public = tmp_path / "old.pub"
    old_private = serialization.load_pem_private_key(workspace.key.read_bytes(), password=None)
    old_public.write_bytes(
        old_private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    new_private, _ = generate_key_pem()
    new_key = tmp_path / "new.key"
    new_key.write_bytes(new_private)
    new_key.chmod(0o600)

    def reopen(previous: tuple[Path, ...]):  # type: ignore[no-untyped-def]
        return open_service(
            workspace.paths(),
            workspace.settings(),
            key_path=new_key,
            env={},
            cwd=workspace.root,
            previous_keys=previous,
        )

    with pytest.raises(LogMismatch, match="record #1"):
        reopen(()).close()  # the new key alone does not vouch for the old records
    service = reopen((old_public,))
    try:
        assert service.log.checkpoint.key_id == service.signer.key_id  # re-signed
        service.log.append(result, namespaces=())
        assert service.log.tree.size == 3
    finally:
        service.close()
    reopen((old_public,)).close()


@pytest.mark.e2e  # real gatekeeper processes
def test_serve_verify_checks_the_log_with_the_public_key_only(
    workspace: Workspace, result: GateResult, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization

    _append(workspace, result, 2)
    _backup(workspace, tmp_path / "old.db")
    _append(workspace, result, 1)
    private = serialization.load_pem_private_key(workspace.key.read_bytes(), password=None)
    public = tmp_path / "service.pub"
    public.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    args = ("serve", "verify", "--state-dir", str(workspace.state), "--public-key", str(public))
    ok = run_cli(*args)
    assert ok.code == 0, ok.stderr
    assert "log OK: 3 records" in ok.stdout
    for suffix in ("", "-wal", "-shm"):
        (workspace.state / f"ledger.db{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "old.db", workspace.state / "ledger.db")
    restored = run_cli(*args)
    assert restored.code == 1
    assert "older backup" in restored.stderr and restored.stderr.count("\n") == 1
