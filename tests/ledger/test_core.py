"""The ledger core without processes: chain building, snapshots, period parsing, URLs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gatekeeper.audit.snapshot import restore_bundle, snapshot_bundle
from gatekeeper.cli.audit import period_bound
from gatekeeper.cli.impact import since_timestamp
from gatekeeper.errors import ConfigError
from gatekeeper.ledger.canonical import GENESIS_HASH
from gatekeeper.ledger.chain import record_builder, verify_chain
from gatekeeper.ledger.postgres_store import mask_password
from gatekeeper.ledger.registry import open_store, resolve_ledger_url
from gatekeeper.ledger.store import LedgerError, LedgerMissing
from gatekeeper.policy.bundle import load_bundle
from tests.ledger.ledger_helpers import POLICIES


def _append(store, n: int) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        fields = {"decision_id": f"d-{i}", "release": {"service": "svc"}}
        store.append(
            record_builder(fields, recorded_at=f"2026-01-0{i + 1}T00:00:00Z", signer=None), {}
        )


def test_chain_links_each_record_to_the_previous(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "l.db"), base=tmp_path, create=True)
    _append(store, 3)
    records = list(store.records())
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].document()["prev_hash"] == GENESIS_HASH
    assert records[1].document()["prev_hash"] == records[0].hash
    result = verify_chain(store.records, head=store.head())
    assert result.ok and result.count == 3 and result.head_hash == records[2].hash
    assert [r.decision_id for r in store.records(start="2026-01-02", end="2026-01-03")] == ["d-1"]
    store.close()


def test_snapshot_round_trip_keeps_the_bundle(tmp_path: Path) -> None:
    bundle = load_bundle([str(POLICIES)])
    text = snapshot_bundle(bundle)
    restored = restore_bundle(text, digest="sha256:x")
    assert restored == bundle
    with pytest.raises(LedgerError, match="unreadable"):
        restore_bundle('{"schema": "other"}', digest="sha256:x")


def test_durations_and_dates() -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    assert since_timestamp("30d", now=now) == "2026-03-01T12:00:00.000000Z"
    assert since_timestamp("2w", now=now) == "2026-03-17T12:00:00.000000Z"
    assert since_timestamp("2026-01-01", now=now) == "2026-01-01T00:00:00.000000Z"
    with pytest.raises(ConfigError):
        since_timestamp("a month", now=now)
    assert period_bound("2026-02-28", option="--to", end=True) == "2026-03-01T00:00:00.000000Z"
    assert period_bound("2026-02-28", option="--from") == "2026-02-28T00:00:00.000000Z"


def test_ledger_location_precedence(tmp_path: Path) -> None:
    env = {"GATEKEEPER_LEDGER_URL": "postgresql://ci/ledger"}
    assert resolve_ledger_url(
        "x.db", config_value="y.db", config_dir=tmp_path, env=env, cwd=Path("/w")
    ) == ("x.db", Path("/w"))
    assert resolve_ledger_url(
        None, config_value="y.db", config_dir=tmp_path, env=env, cwd=Path("/w")
    ) == ("y.db", tmp_path)
    assert (
        resolve_ledger_url(None, config_value=None, config_dir=None, env=env, cwd=Path("/w"))[0]
        == "postgresql://ci/ledger"
    )
    assert (
        resolve_ledger_url(None, config_value=None, config_dir=None, env={}, cwd=Path("/w"))[0]
        == ".gatekeeper/ledger.db"
    )
    with pytest.raises(ConfigError, match="unknown ledger URL scheme"):
        open_store("mysql://x/y", base=tmp_path)
    assert mask_password("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"


def test_unreachable_postgres_is_a_ledger_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="cannot connect"):
        open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", base=tmp_path)


def test_a_missing_ledger_is_its_own_type_and_a_broken_one_is_not(tmp_path: Path) -> None:
    # The deployer treats "no ledger yet" as "no approval" by catching LedgerMissing; any
    # other ledger failure (here: a file that is no SQLite database) must stay an error.
    with pytest.raises(LedgerMissing):
        open_store(str(tmp_path / "absent.db"), base=tmp_path)
    broken = tmp_path / "broken.db"
    broken.write_text("not a database")
    with pytest.raises(LedgerError) as caught:
        open_store(str(broken), base=tmp_path).head()
    assert not isinstance(caught.value, LedgerMissing)
