"""`gate run` records its decision: by default, signed when a key is configured, never turning a
failure into a pass, and exiting 3 when the ledger cannot be written."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.ledger.ledger_helpers import cli, gate_args


def _gate(
    tmp_path: Path,
    release: str,
    *extra: str,
    env: dict[str, str] | None = None,
    ledger: str | None = None,
):  # type: ignore[no-untyped-def]
    args = gate_args(release, ledger or "", *extra)
    if ledger is None:
        args = args[:2] + args[4:]  # no --ledger: the default location
    return cli(*args, cwd=tmp_path, env=env)


def test_records_into_the_default_ledger(tmp_path: Path) -> None:
    result = _gate(tmp_path, "billing-worker-0.9.0")
    assert result.code == 1  # the policy said no; recording keeps it that way
    decision_id = result.json()["decision_id"]
    log = cli("audit", "log", cwd=tmp_path)
    assert log.code == 0
    assert decision_id in log.stdout
    assert "\tfail\tbilling-worker 0.9.0 staging" in log.stdout
    assert (tmp_path / ".gatekeeper" / "ledger.db").is_file()


def test_ledger_url_from_environment_and_config(tmp_path: Path) -> None:
    env_ledger = tmp_path / "from-env.db"
    result = _gate(tmp_path, "orders-api-2.0.0", env={"GATEKEEPER_LEDGER_URL": str(env_ledger)})
    assert result.code == 0
    assert env_ledger.is_file()
    (tmp_path / "gatekeeper.yaml").write_text("ledger: audit/from-config.db\n")
    result = _gate(tmp_path, "orders-api-2.0.0", env={"GATEKEEPER_LEDGER_URL": str(env_ledger)})
    assert result.code == 0
    assert (tmp_path / "audit" / "from-config.db").is_file()  # the file wins over the env


def test_no_ledger_records_nothing(tmp_path: Path) -> None:
    result = _gate(tmp_path, "orders-api-2.0.0", "--no-ledger")
    assert result.code == 0
    assert not (tmp_path / ".gatekeeper").exists()


def test_unwritable_ledger_is_exit_3_for_a_pass_and_for_a_fail(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the ledger's folder should be")
    ledger = str(blocker / "ledger.db")
    passed = _gate(tmp_path, "orders-api-2.0.0", ledger=ledger)
    assert passed.code == 3
    assert "cannot open ledger" in passed.stderr
    failed = _gate(tmp_path, "billing-worker-0.9.0", ledger=ledger)
    assert failed.code == 3


def test_corrupt_ledger_is_exit_3(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(b"this is not a database" * 100)
    result = _gate(tmp_path, "orders-api-2.0.0", ledger=str(ledger))
    assert result.code == 3
    assert "gatekeeper: error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_signed_records_verify_against_the_trusted_key_only(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "ledger.pem"
    made = cli("audit", "keygen", str(key), cwd=tmp_path)
    assert made.code == 0, made.stderr
    ledger = str(tmp_path / "ledger.db")
    env = {"GATEKEEPER_LEDGER_KEY": str(key)}
    assert _gate(tmp_path, "orders-api-2.0.0", env=env, ledger=ledger).code == 0
    ok = cli("audit", "verify", "--ledger", ledger, "--trusted-key", f"{key}.pub", cwd=tmp_path)
    assert ok.code == 0, ok.stdout
    assert "1 signed, signed by ed25519:" in ok.stdout

    other = tmp_path / "other.pem"
    assert cli("audit", "keygen", str(other), cwd=tmp_path).code == 0
    untrusted = cli(
        "audit", "verify", "--ledger", ledger, "--trusted-key", f"{other}.pub", cwd=tmp_path
    )
    assert untrusted.code == 1
    assert "not a trusted key" in untrusted.stdout

    # An unsigned record slipped in after the signed one is refused when signatures matter.
    assert _gate(tmp_path, "orders-api-2.0.0", ledger=ledger).code == 0
    unsigned = cli(
        "audit", "verify", "--ledger", ledger, "--trusted-key", f"{key}.pub", cwd=tmp_path
    )
    assert unsigned.code == 1
    assert "record #2" in unsigned.stdout and "is not signed" in unsigned.stdout

    # A forged signature is caught even without a trusted key list.
    db = sqlite3.connect(ledger)
    db.execute("UPDATE gk_ledger_records SET signature = ? WHERE seq = 1", ("A" * 88,))
    db.commit()
    db.close()
    forged = cli("audit", "verify", "--ledger", ledger, cwd=tmp_path)
    assert forged.code == 1
    assert "record #1" in forged.stdout and "invalid signature" in forged.stdout


def test_inputs_and_bundles_are_stored_once_per_digest(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.db")
    for _ in range(3):
        assert _gate(tmp_path, "orders-api-2.0.0", ledger=ledger).code == 0
    db = sqlite3.connect(ledger)
    bodies = [json.loads(row[0]) for row in db.execute("SELECT body FROM gk_ledger_records")]
    blobs = {row[0] for row in db.execute("SELECT digest FROM gk_ledger_blobs")}
    db.close()
    assert len(bodies) == 3
    snapshots = {b["bundle"]["snapshot"] for b in bodies}
    inputs = {b["input_digest"] for b in bodies}
    assert len(snapshots) == 1  # three runs, one stored bundle
    assert blobs == snapshots | inputs  # each input stored once per digest, nothing else
