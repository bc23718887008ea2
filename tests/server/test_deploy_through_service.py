"""`gatekeeper deploy` with GATEKEEPER_SERVER: the permission is the service's newest decision
for the digest, used only once it verifies against the pinned key; a failing newest decision
refuses (exit 1, naming the policy), and a service that cannot prove its answer — wrong key,
a tampered database, nobody listening — stops the deploy (exit 3), never lets it through."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gatekeeper.server.tokens import Scope
from tests.conftest import run_cli
from tests.deploy.e2e.helpers import World, index_code, make_world
from tests.server.conftest import RunningServer, sbom

pytestmark = pytest.mark.e2e  # a real service, real gatekeeper processes


def _pem(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def test_deploy_rests_on_the_services_verified_newest_decision(
    server: RunningServer, tmp_path: Path
) -> None:
    world: World = make_world(tmp_path / "world")
    release = world.version("v1", "1.0.1", index_code("v1"), gate=False)
    public = _pem(server.service.signer.private_key, tmp_path / "service.pub")
    env = {
        "GATEKEEPER_SERVER": server.url,
        "GATEKEEPER_TOKEN": server.token("shop", Scope.SUBMIT),
        "GATEKEEPER_SERVER_PUBLIC_KEY": str(public),
    }

    def dry_run(**overrides: str) -> tuple[int, str]:
        result = world.deploy(str(release), "--env", "dev", "--dry-run", env={**env, **overrides})
        return result.code, result.stdout + result.stderr

    code, output = dry_run()
    assert code == 1 and "no gate decision is recorded" in output

    submitted = run_cli(
        "gate", "run", "--release", str(release), str(world.sbom), cwd=world.svc, env=env
    )
    assert submitted.code == 0, submitted.stderr
    code, output = dry_run()
    assert code == 0, output

    # The same artifact judged again with a banned component: the newest decision wins.
    bad = world.root / "bad.cdx.json"
    bad.write_text(sbom("badlib"), encoding="utf-8")
    failed = run_cli("gate", "run", "--release", str(release), str(bad), cwd=world.svc, env=env)
    assert failed.code == 1, failed.stderr
    code, output = dry_run()
    assert code == 1 and "is 'fail'" in output and "TEST-001" in output

    # Answers that cannot be verified are errors, not permissions.
    other = _pem(Ed25519PrivateKey.generate(), tmp_path / "other.pub")
    code, output = dry_run(GATEKEEPER_SERVER_PUBLIC_KEY=str(other))
    assert code == 3 and "not signed by the pinned service key" in output
    code, output = dry_run(GATEKEEPER_SERVER="http://127.0.0.1:9")
    assert code == 3 and "unreachable" in output

    # Database write access: the passing record's outcome rewritten to hide the failure.
    ledger = server.workspace.state / "ledger.db"
    with sqlite3.connect(ledger) as db:
        db.execute(
            'UPDATE gk_ledger_records SET body = replace(body, \'"outcome":"fail"\', '
            '\'"outcome":"pass"\') WHERE seq = 2'
        )
    code, output = dry_run()
    assert code == 3, output


def test_deployment_events_are_recorded_by_the_service_and_listed_by_audit_log(
    server: RunningServer, tmp_path: Path
) -> None:
    world: World = make_world(tmp_path / "world")
    release = world.version("v1", "1.0.1", index_code("v1"), gate=False)
    public = _pem(server.service.signer.private_key, tmp_path / "service.pub")
    submit = server.token("shop", Scope.SUBMIT)
    env = {
        "GATEKEEPER_SERVER": server.url,
        "GATEKEEPER_TOKEN": submit,
        "GATEKEEPER_SERVER_PUBLIC_KEY": str(public),
    }
    gated = run_cli(
        "gate", "run", "--release", str(release), str(world.sbom), cwd=world.svc, env=env
    )
    assert gated.code == 0, gated.stderr
    try:
        deployed = world.deploy(str(release), "--env", "dev", env=env)
        assert deployed.code == 0, deployed.stdout + deployed.stderr
        assert "not recorded by the decision service" not in deployed.stderr
    finally:
        world.deploy("stop", env=env)
    with server.client(submit) as client:
        events = client.get("/v1/deployments").json()["deployments"]
    kinds = [e["kind"] for e in events]
    assert "deploy.started" in kinds and "deploy.promoted" in kinds
    assert all(e["release"]["version"] == "1.0.1" for e in events)
    assert all(e["release"]["environment"] == "dev" for e in events)

    listed = run_cli("audit", "log", "--server", server.url, env={"GATEKEEPER_TOKEN": submit})
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("#1\t") and "\tpass\tshop 1.0.1" in lines[0]  # the decision
    assert any("\tdeploy.promoted\tpromoted\tshop 1.0.1 dev" in line for line in lines)
    admin = server.token("audit", Scope.ADMIN)
    verified = run_cli(
        "audit",
        "verify",
        "--server",
        server.url,
        "--trusted-key",
        str(public),
        env={"GATEKEEPER_TOKEN": admin},
        cwd=tmp_path,
    )
    assert verified.code == 0 and f"{len(lines)} records" in verified.stdout, verified.stdout

    # A read token may give the permission but not record: the rollout goes on, and says so.
    reader = server.token("shop", Scope.READ)
    try:
        again = world.deploy(str(release), "--env", "dev", env={**env, "GATEKEEPER_TOKEN": reader})
        assert again.code == 0, again.stdout + again.stderr
        assert "not recorded by the decision service" in again.stderr
        assert "refused the token (403)" in again.stderr
    finally:
        world.deploy("stop", env=env)


def test_the_service_refuses_deployment_events_it_cannot_vouch_for(server: RunningServer) -> None:
    submit = server.token("shop", Scope.SUBMIT)
    good = {
        "kind": "deploy.started",
        "release": {"service": "shop", "version": "1"},
        "outcome": "started",
        "deployment": {},
    }
    with server.client(submit) as client:
        assert client.post("/v1/deployments", json=good).status_code == 200
        other = {**good, "release": {"service": "billing"}}
        assert client.post("/v1/deployments", json=other).status_code == 403
        for bad in ({**good, "kind": "gate.decision"}, {**good, "deployment": []}, [1]):
            answer = client.post("/v1/deployments", json=bad)
            assert answer.status_code == 400 and answer.json()["exit_code"] == 2
    with server.client(server.token("shop", Scope.READ)) as client:
        assert client.post("/v1/deployments", json=good).status_code == 403
