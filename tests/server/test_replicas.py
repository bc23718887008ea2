"""Replicas sharing one database: each catches up with what the others appended, every record
lands once in one order, proofs from any replica agree — and a record the service did not sign
is still refused. The end-to-end test runs two real `gatekeeper serve` processes on one real
PostgreSQL with 64 concurrent submitting clients."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gatekeeper.audit.recorder import record_gate_result
from gatekeeper.gate.run import GateRequest, GateResult, run_gate
from gatekeeper.ledger.merkle import (
    Checkpoint,
    hashes_from_hex,
    record_leaf,
    verify_consistency,
    verify_inclusion,
)
from gatekeeper.ledger.signing import Signer
from gatekeeper.server.errors import LogMismatch
from gatekeeper.server.service import DecisionService, StatePaths, open_service
from gatekeeper.server.tokens import Scope, TokenStore
from tests.conftest import run_cli
from tests.ledger.ledger_helpers import PgServer
from tests.server.conftest import POLICY, Workspace, _free_port, release_yaml, sbom


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> GateResult:
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


def _replica(workspace: Workspace, name: str) -> DecisionService:
    """A second service process's view: same database and key, its own checkpoint file."""
    paths = StatePaths(state_dir=workspace.state, checkpoint=workspace.state / f"{name}.json")
    return open_service(
        paths, workspace.settings(), key_path=workspace.key, env={}, cwd=workspace.root
    )


def _proves(checkpoint: Checkpoint, record_hash: str, index: int, proof: list[bytes]) -> bool:
    return verify_inclusion(
        record_leaf(record_hash), index, checkpoint.tree_size, proof, checkpoint.root_hash
    )


def test_replicas_see_each_others_records_in_one_order(
    workspace: Workspace, result: GateResult
) -> None:
    first, second = _replica(workspace, "a"), _replica(workspace, "b")
    try:
        a1 = first.log.append(result, namespaces=())
        a2 = first.log.append(result, namespaces=())
        b1 = second.log.append(result, namespaces=())  # catches up with a1, a2 first
        assert [a1.log_index, a2.log_index, b1.log_index] == [0, 1, 2]
        # the other replica's record, in the first one's view of the log
        assert [r.hash for r in first.log.records(None)][2] == b1.record.hash
        checkpoint, proof = first.log.inclusion(2)
        assert checkpoint.tree_size == 3 and _proves(checkpoint, b1.record.hash, 2, proof)
        assert first.log.checkpoint.root_hash == second.log.sync().root_hash
        old = a2.checkpoint
        assert verify_consistency(
            old.tree_size,
            checkpoint.tree_size,
            old.root_hash,
            checkpoint.root_hash,
            second.log.consistency(old.tree_size, checkpoint.tree_size),
        )
    finally:
        first.close()
        second.close()


def test_a_record_signed_by_another_key_is_refused_by_every_replica(
    workspace: Workspace, result: GateResult
) -> None:
    first, second = _replica(workspace, "a"), _replica(workspace, "b")
    try:
        first.log.append(result, namespaces=())
        assert second.log.sync().tree_size == 1
        # Database write access and a key of one's own: linked into the chain, wrongly signed.
        intruder = Signer(Ed25519PrivateKey.generate())
        record_gate_result(first.log.store, result, signer=intruder)
        for service in (first, second):
            with pytest.raises(LogMismatch, match="not a trusted key"):
                service.log.append(result, namespaces=())
            assert service.log.ready() is False
    finally:
        first.close()
        second.close()


# ------------------------------------------------------------------------------------------
# Two real `gatekeeper serve` processes on one real PostgreSQL, 64 concurrent clients.

CLIENTS = 64
SUBMISSIONS_PER_CLIENT = 2


def _serve(workspace: Workspace, url: str, name: str, port: int) -> subprocess.Popen[bytes]:
    """A replica as on its own host: its own state folder and checkpoint file; the ledger and
    the tokens in the shared PostgreSQL database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    state = workspace.root / f"host-{name}"
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gatekeeper",
            "serve",
            "--state-dir",
            str(state),
            "--ledger",
            url,
            "--tokens",
            url,
            "--checkpoint-file",
            str(state / "checkpoint.json"),
            "--key",
            str(workspace.key),
            "-p",
            str(workspace.policy),
            "--port",
            str(port),
        ],
        cwd=workspace.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "died")
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never became ready")


@pytest.fixture
def replicas(pg_server: PgServer, workspace: Workspace) -> Iterator[tuple[list[str], str, str]]:
    url = pg_server.new_database()
    tokens = TokenStore(url)  # in PostgreSQL: every replica, on any host, sees the same
    token, _ = tokens.create("shop", Scope.SUBMIT)
    tokens.close()
    ports = [_free_port(), _free_port()]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # One after the other: the second starts on the log the first created.
        for i, port in enumerate(ports):
            processes.append(_serve(workspace, url, f"replica-{i}", port))
            _wait_ready(f"http://127.0.0.1:{port}", processes[-1])
        yield [f"http://127.0.0.1:{p}" for p in ports], token, url
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.mark.e2e
def test_two_replicas_on_one_postgresql_with_64_clients(
    replicas: tuple[list[str], str, str], workspace: Workspace
) -> None:
    urls, token, pg_url = replicas
    evidence = (workspace.root / "good.cdx.json").read_bytes()
    release = (workspace.root / "release.yaml").read_bytes()
    answers: list[dict[str, Any]] = []
    problems: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        seen: Checkpoint | None = None  # the last checkpoint this client saw, from any replica
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            for turn in range(SUBMISSIONS_PER_CLIENT):
                url = urls[(number + turn) % len(urls)]  # alternate replicas, as a balancer does
                response = http.post(
                    f"{url}/v1/gate",
                    files=[("evidence", ("sbom.json", evidence)), ("release", ("r.yaml", release))],
                )
                if response.status_code != 200:
                    with lock:
                        problems.append(f"{url}: {response.status_code} {response.text[:200]}")
                    return
                answer = response.json()
                checkpoint = Checkpoint.from_document(answer["checkpoint"])
                proof = hashes_from_hex(answer["inclusion_proof"]["hashes"], "proof")
                if not _proves(checkpoint, answer["record"]["hash"], answer["log_index"], proof):
                    with lock:
                        problems.append(f"inclusion proof of {answer['log_index']} fails")
                if seen is not None:
                    if checkpoint.tree_size < seen.tree_size:
                        with lock:
                            problems.append("a replica answered with an older checkpoint")
                    consistency = http.get(
                        f"{url}/v1/log/consistency",
                        params={"from": seen.tree_size, "to": checkpoint.tree_size},
                    ).json()
                    path = hashes_from_hex(consistency["hashes"], "consistency")
                    if not verify_consistency(
                        seen.tree_size,
                        checkpoint.tree_size,
                        seen.root_hash,
                        checkpoint.root_hash,
                        path,
                    ):
                        with lock:
                            problems.append("checkpoints of two replicas are not consistent")
                seen = checkpoint
                with lock:
                    answers.append(answer)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not problems, problems[:5]
    total = CLIENTS * SUBMISSIONS_PER_CLIENT
    assert len(answers) == total
    # Every decision recorded once, at its own position; positions 0..total-1 all used.
    assert sorted(a["log_index"] for a in answers) == list(range(total))
    assert len({a["decision"]["decision_id"] for a in answers}) == total
    # Both replicas hold the same tree, and the whole log verifies offline with the public key.
    auth = {"Authorization": f"Bearer {token}"}
    tops = [httpx.get(f"{u}/v1/checkpoint", headers=auth).json() for u in urls]
    assert {t["tree_size"] for t in tops} == {total} and len({t["root_hash"] for t in tops}) == 1
    public = workspace.root / "service.pub"
    public.write_bytes(_public_pem(workspace.key))
    for i in range(len(urls)):
        verify = run_cli(
            "serve",
            "verify",
            "--state-dir",
            str(workspace.root / f"host-replica-{i}"),
            "--ledger",
            pg_url,
            "--public-key",
            str(public),
        )
        assert verify.code == 0 and f"{total} records" in verify.stdout, verify.stderr


def _public_pem(key_file: Path) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.e2e
def test_a_token_revoked_once_is_refused_by_every_replica(
    replicas: tuple[list[str], str, str], workspace: Workspace
) -> None:
    urls, _token, pg_url = replicas
    created = run_cli(
        "serve", "token", "create", "--tokens", pg_url, "--project", "shop", "--scope", "read"
    )
    assert created.code == 0, created.stderr
    reader = created.stdout.strip()
    for url in urls:  # created on "another host": known to both replicas at once
        answer = httpx.get(f"{url}/v1/decisions", headers={"Authorization": f"Bearer {reader}"})
        assert answer.status_code == 200
    listed = run_cli("serve", "token", "list", "--tokens", pg_url)
    assert listed.stdout.count("  shop  ") == 2
    assert run_cli("serve", "token", "revoke", "--tokens", pg_url, reader).code == 0
    for url in urls:
        answer = httpx.get(f"{url}/v1/decisions", headers={"Authorization": f"Bearer {reader}"})
        assert answer.status_code == 401
    # The secret is not stored: only its SHA-256.
    import psycopg

    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT secret_sha256 FROM gk_tokens").fetchall()
    assert len(rows) == 2 and all(reader.rsplit("_", 1)[1] not in row[0] for row in rows)


@pytest.mark.e2e
def test_a_dashboard_login_on_one_replica_is_known_to_the_other(
    replicas: tuple[list[str], str, str],
) -> None:
    """Behind a load balancer the next page may reach another replica: the session is in
    the shared PostgreSQL database (only its SHA-256), and signing out on one ends it on
    both."""
    urls, token, pg_url = replicas
    with httpx.Client(base_url=urls[0]) as browser:
        answer = browser.post("/dashboard/login", data={"token": token})
        assert answer.status_code == 303, answer.text
        cookie = answer.cookies.get("gk_dashboard")
    assert cookie

    def page(url: str) -> int:
        with httpx.Client(base_url=url) as browser:
            browser.cookies.set("gk_dashboard", cookie, path="/dashboard")
            return browser.get("/dashboard/waivers").status_code

    assert [page(url) for url in urls] == [200, 200]
    import psycopg

    with psycopg.connect(pg_url) as conn:
        (stored,) = conn.execute("SELECT id_sha256 FROM gk_tokens_sessions").fetchall()
    assert cookie not in stored[0]
    with httpx.Client(base_url=urls[1]) as browser:
        browser.cookies.set("gk_dashboard", cookie, path="/dashboard")
        assert browser.post("/dashboard/logout").status_code == 303
    assert [page(url) for url in urls] == [303, 303]
