"""Signatures of a large chain are checked in worker processes; what `audit verify` reports
must be exactly what the one-process walk reports: the first problem, in record order."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from gatekeeper.ledger import chain
from gatekeeper.ledger.canonical import canonical_json, digest_of_text
from gatekeeper.ledger.chain import _ParallelSignatures as _RealPool
from gatekeeper.ledger.chain import record_builder, verify_chain
from gatekeeper.ledger.registry import open_store
from gatekeeper.ledger.signing import generate_key_pem, load_signer
from gatekeeper.ledger.store import Head


def _signed_ledger(tmp_path: Path, count: int) -> Path:
    key = tmp_path / "key.pem"
    key.write_bytes(generate_key_pem()[0])
    signer = load_signer(key)
    db = tmp_path / "l.db"
    store = open_store(str(db), base=tmp_path, create=True)
    try:
        for i in range(count):
            fields = {"decision_id": f"d-{i}", "release": {"service": "svc"}}
            store.append(
                record_builder(fields, recorded_at=f"2026-01-01T00:00:{i:02d}Z", signer=signer),
                {},
            )
    finally:
        store.close()
    return db


def _both(db: Path) -> tuple[chain.VerifyResult, chain.VerifyResult]:
    store = open_store(str(db), base=db.parent, create=False)
    try:
        one = verify_chain(store.records, head=store.head(), parallel=False)
        many = verify_chain(store.records, head=store.head(), parallel=True)
    finally:
        store.close()
    return one, many


def _sql(db: Path, statement: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute(statement)
    conn.commit()
    conn.close()


def test_an_intact_signed_chain_verifies_in_parallel(
    tmp_path: Path, in_parallel: list[object]
) -> None:
    one, many = _both(_signed_ledger(tmp_path, 8))
    assert one == many
    assert many.ok and many.signed == 8 and many.count == 8
    assert len(in_parallel) == 1  # the second walk used worker processes


@pytest.mark.usefixtures("in_parallel")
def test_a_bad_signature_is_the_first_problem_reported(tmp_path: Path) -> None:
    db = _signed_ledger(tmp_path, 8)
    # A well-formed signature, of another record: only verifying it can tell.
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE gk_ledger_records SET signature = "
        "(SELECT signature FROM gk_ledger_records WHERE seq = 4) WHERE seq = 5"
    )
    conn.commit()
    conn.close()
    one, many = _both(db)
    assert many == one
    assert not many.ok and many.problem is not None
    assert many.problem.seq == 5 and "invalid signature" in many.problem.message


@pytest.mark.parametrize("bad", [5, 8], ids=["checked-by-a-worker", "checked-here"])
def test_batches_checked_here_or_by_workers_report_the_first_bad_one(
    tmp_path: Path, in_parallel: list[object], monkeypatch: pytest.MonkeyPatch, bad: int
) -> None:
    """When the workers fall behind, this process checks a batch itself: a bad signature is
    found, and named in record order, whichever of them checked it."""
    turns = iter([True, False] * 10)  # records 1-3 and 7-9 checked here, 4-6 and 10-12 not
    monkeypatch.setattr(_RealPool, "behind", lambda self: next(turns))
    db = _signed_ledger(tmp_path, 12)
    copied = "SET signature = (SELECT signature FROM gk_ledger_records WHERE seq = 2)"
    _sql(db, f"UPDATE gk_ledger_records {copied} WHERE seq = {int(bad)}")
    one, many = _both(db)
    assert len(in_parallel) == 1
    assert many == one
    assert many.problem is not None and many.problem.seq == bad
    assert "invalid signature" in many.problem.message


def test_workers_that_cannot_run_leave_the_walk_to_this_process(
    tmp_path: Path, in_parallel: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures.process import BrokenProcessPool

    def broken(*args: object) -> int:
        raise BrokenProcessPool("a worker died")

    monkeypatch.setattr(_RealPool, "first_invalid", broken)
    db = _signed_ledger(tmp_path, 8)
    _sql(db, "UPDATE gk_ledger_records SET signature = 'AAAA' WHERE seq = 6")
    one, many = _both(db)
    assert many == one
    assert many.problem is not None and many.problem.seq == 6


@pytest.mark.usefixtures("in_parallel")
def test_a_bad_signature_after_another_problem_does_not_hide_it(tmp_path: Path) -> None:
    db = _signed_ledger(tmp_path, 8)
    _sql(db, "UPDATE gk_ledger_records SET signature = 'AAAA' WHERE seq = 7")
    _sql(db, "UPDATE gk_ledger_records SET body = body || ' ' WHERE seq = 3")
    one, many = _both(db)
    assert many == one
    assert many.problem is not None and many.problem.seq == 3
    assert "modified" in many.problem.message


@pytest.mark.parametrize("with_prefix", [False, True], ids=["full", "after-a-prefix"])
def test_workers_dying_mid_walk_still_visit_every_record_once(
    tmp_path: Path, in_parallel: list[object], monkeypatch: pytest.MonkeyPatch, with_prefix: bool
) -> None:
    """The compliance report keeps what the walk visits: a walk done again in one process
    (the workers died after some records were visited) must not lose or repeat any."""
    from concurrent.futures.process import BrokenProcessPool

    db = _signed_ledger(tmp_path, 12)
    store = open_store(str(db), base=tmp_path)
    prefix = None
    if with_prefix:
        first = verify_chain(lambda: list(store.records())[:4], head=Head(4, _hash_of(store, 4)))
        prefix = first.verified_prefix()
        assert prefix is not None and prefix.records == 4
    calls = {"n": 0}
    real_add = _RealPool.add

    def dying(self: _RealPool, *args: str | int) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise BrokenProcessPool("a worker died")
        real_add(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_RealPool, "add", dying)
    seen: list[int] = []
    try:
        result = verify_chain(
            store.records,
            head=store.head(),
            visit=lambda record, _doc: seen.append(record.seq),
            parallel=True,
            prefix=prefix,
        )
    finally:
        store.close()
    assert result.ok and result.count == 12 and result.signed == 12
    assert result.covered == (4 if with_prefix else 0)
    assert seen == list(range(1, 13))
    assert calls["n"] >= 5  # the workers were in use and died mid-walk


def _hash_of(store: object, seq: int) -> str:
    found = [r.hash for r in store.records() if r.seq == seq]  # type: ignore[attr-defined]
    return found[0]


def test_a_release_that_is_not_an_object_is_named_not_a_crash(tmp_path: Path) -> None:
    """A rewritten body (hash recomputed) whose release is a string: the record is named as
    modified, by both walks (it was an AttributeError)."""
    db = _signed_ledger(tmp_path, 4)
    conn = sqlite3.connect(db)
    body = json.loads(
        conn.execute("SELECT body FROM gk_ledger_records WHERE seq = 2").fetchone()[0]
    )
    text = canonical_json({**body, "release": "svc"})
    conn.execute(
        "UPDATE gk_ledger_records SET body = ?, hash = ? WHERE seq = 2",
        (text, digest_of_text(text)),
    )
    conn.commit()
    conn.close()
    one, many = _both(db)
    assert one == many
    assert one.problem is not None and one.problem.seq == 2
    assert "indexed columns differ from its content" in one.problem.message
