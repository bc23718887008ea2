"""Refusals that need no running processes: the gate decision must be authentic (its chain
verifies, and it is signed when a key is configured), and the latest decision counts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.deploy.e2e.helpers import World, index_code, make_world

pytestmark = pytest.mark.e2e  # seconds per test: real processes or servers (README, Development)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def _dry_run(world: World, release: Path, **env: str) -> tuple[int, str]:
    result = world.deploy(str(release), "--env", "dev", "--dry-run", env=env or None)
    return result.code, result.stdout + result.stderr


def test_a_tampered_decision_is_not_authentic(world: World) -> None:
    release = world.version("v1", "1.0.1", index_code("v1"))
    assert _dry_run(world, release)[0] == 0
    ledger = world.svc / ".gatekeeper" / "ledger.db"
    with sqlite3.connect(ledger) as db:
        db.execute(
            'UPDATE gk_ledger_records SET body = replace(body, \'"outcome":"pass"\', '
            '\'"outcome":"pass" \') WHERE seq = 1'
        )
    code, output = _dry_run(world, release)
    assert code == 1
    assert "ledger is not intact" in output and "record #1" in output
    assert "was modified" in output


def test_an_unsigned_decision_is_refused_when_a_key_is_configured(world: World) -> None:
    release = world.version("v1", "1.0.1", index_code("v1"))
    key = world.root / "ledger.pem"
    assert run_cli("audit", "keygen", str(key)).code == 0
    code, output = _dry_run(world, release, GATEKEEPER_LEDGER_KEY=str(key))
    assert code == 1 and "is not signed" in output

    # Signed by the configured key: allowed.
    signed = run_cli(
        "gate",
        "run",
        "--release",
        str(release),
        str(world.sbom),
        cwd=world.svc,
        env={"GATEKEEPER_LEDGER_KEY": str(key)},
    )
    assert signed.code == 0, signed.stderr
    code, output = _dry_run(world, release, GATEKEEPER_LEDGER_KEY=str(key))
    assert code == 0, output


def test_the_latest_decision_for_the_artifact_counts(world: World) -> None:
    release = world.version("v1", "1.0.1", index_code("v1"))
    assert _dry_run(world, release)[0] == 0
    # The same artifact judged again without its SBOM: that decision fails, and wins.
    failed = run_cli("gate", "run", "--release", str(release), cwd=world.svc)
    assert failed.code == 1
    code, output = _dry_run(world, release)
    assert code == 1 and "is 'fail'" in output
    # The refusal names the policies that failed, so the user knows what to fix.
    assert "failing policies GK-" in output


def _decision_seqs(ledger: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(ledger) as db:
        return [
            (int(seq), str(body))
            for seq, body in db.execute("SELECT seq, body FROM gk_ledger_records ORDER BY seq")
        ]


@pytest.mark.parametrize("later", [False, True])
def test_deleting_a_withdrawing_fail_does_not_re_enable_the_pass(world: World, later: bool) -> None:
    release = world.version("v1", "1.0.1", index_code("v1"))
    assert _dry_run(world, release)[0] == 0
    failed = run_cli("gate", "run", "--release", str(release), cwd=world.svc)
    assert failed.code == 1
    if later:  # the fail is not the newest record: something else was recorded after it
        other = world.version("v2", "1.0.2", index_code("v2"))
        assert _dry_run(world, other)[0] == 0
    ledger = world.svc / ".gatekeeper" / "ledger.db"
    fail_seq = next(seq for seq, body in _decision_seqs(ledger) if '"outcome":"fail"' in body)
    with sqlite3.connect(ledger) as db:
        db.execute("DELETE FROM gk_ledger_records WHERE seq = ?", (fail_seq,))
    code, output = _dry_run(world, release)
    assert code == 1, output
    assert "ledger is not intact" in output


def test_a_ledger_cut_back_past_what_the_deployer_saw_is_refused(world: World) -> None:
    from gatekeeper.deploy.context import DeployRequest, load_context
    from gatekeeper.deploy.permission import gate_approval

    release = world.version("v1", "1.0.1", index_code("v1"))
    digest = next(
        line.split(":", 1)[1].strip().strip('"')
        for line in release.read_text().splitlines()
        if line.startswith("artifact_digest")
    )
    context = load_context(world.svc)
    request = DeployRequest(release_file=release, environment="dev", service_dir=world.svc)

    def check() -> tuple[bool, str]:
        approval = gate_approval(request, context, digest, service="shop")
        return approval.allowed, approval.reason

    assert check()[0]
    failed = run_cli("gate", "run", "--release", str(release), cwd=world.svc)
    assert failed.code == 1
    allowed, reason = check()
    assert not allowed and "is 'fail'" in reason  # seen, and its head remembered
    # Cut the failing record off the end and rewrite the head row to match: the chain alone
    # looks intact, but it no longer holds the head the deployer saw.
    ledger = world.svc / ".gatekeeper" / "ledger.db"
    with sqlite3.connect(ledger) as db:
        (last,) = db.execute("SELECT max(seq) FROM gk_ledger_records").fetchone()
        (prev_hash,) = db.execute(
            "SELECT hash FROM gk_ledger_records WHERE seq = ?", (last - 1,)
        ).fetchone()
        db.execute("DELETE FROM gk_ledger_records WHERE seq = ?", (last,))
        db.execute("UPDATE gk_ledger_head SET seq = ?, hash = ?", (last - 1, prev_hash))
    allowed, reason = check()
    assert not allowed and "anchored hash" in reason
