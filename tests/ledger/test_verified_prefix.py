"""The verified prefix (.gatekeeper/verified/): a second `audit verify` checks only the
signatures of records appended since the first, and still catches every change made to the
records the first one verified — on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gatekeeper.ledger.chain import record_builder
from gatekeeper.ledger.registry import open_store
from gatekeeper.ledger.signing import generate_key_pem, load_signer
from gatekeeper.ledger.verified import (
    CACHE_DIR,
    cache_path,
    strip_password,
)
from tests.ledger.ledger_helpers import Db, cli


@pytest.fixture
def key(tmp_path: Path) -> Path:
    private, public = generate_key_pem()
    (tmp_path / "key.pem").write_bytes(private)
    (tmp_path / "key.pem.pub").write_bytes(public)
    return tmp_path / "key.pem"


def append(url: str, tmp_path: Path, key: Path, first: int, count: int) -> None:
    """Signed records ``first`` … ``first + count - 1`` (decision ids d-N, one service)."""
    signer = load_signer(key)
    store = open_store(url, base=tmp_path, create=True)
    try:
        for i in range(first, first + count):
            fields = {"decision_id": f"d-{i}", "release": {"service": "svc"}}
            when = f"2026-01-01T00:00:{i:02d}.000000Z"
            store.append(record_builder(fields, recorded_at=when, signer=signer), {})
    finally:
        store.close()


def verify(url: str, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    result = cli("audit", "verify", "--ledger", url, *extra, cwd=tmp_path)
    return result.code, result.stdout, result.stderr


def verify_json(url: str, tmp_path: Path, *extra: str) -> dict[str, object]:
    code, out, _err = verify(url, tmp_path, "--format", "json", *extra)
    doc: dict[str, object] = json.loads(out)
    doc["exit"] = code
    return doc


def cached(tmp_path: Path) -> Path:
    files = list((tmp_path / CACHE_DIR).glob("*.json"))
    assert len(files) == 1, files
    return files[0]


def body_of(db: Db, seq: int) -> str:
    return str(db.execute("SELECT body FROM gk_ledger_records WHERE seq = ?", (seq,))[0][0])


def test_second_verify_checks_only_the_new_signatures(
    store_url: str, tmp_path: Path, key: Path
) -> None:
    append(store_url, tmp_path, key, 1, 6)
    code, out, err = verify(store_url, tmp_path)
    assert (code, err) == (0, "")
    assert "6 signatures checked, 0 covered by the verified prefix" in out
    append(store_url, tmp_path, key, 7, 2)
    code, out, err = verify(store_url, tmp_path)
    assert (code, err) == (0, "")
    assert "ledger intact: 8 records, 8 signed" in out
    assert "2 signatures checked, 6 covered by the verified prefix" in out
    doc = verify_json(store_url, tmp_path)
    assert (doc["exit"], doc["signatures_checked"], doc["covered"]) == (0, 0, 8)
    assert doc["verified_cache_used"] is True
    doc = verify_json(store_url, tmp_path, "--no-cache")
    assert (doc["signatures_checked"], doc["covered"], doc["verified_cache_used"]) == (8, 0, False)


def test_a_body_edited_inside_the_prefix_is_caught(
    store_url: str, tmp_path: Path, key: Path
) -> None:
    append(store_url, tmp_path, key, 1, 5)
    assert verify(store_url, tmp_path)[0] == 0
    db = Db(store_url)
    body = body_of(db, 2)
    db.execute(
        "UPDATE gk_ledger_records SET body = ? WHERE seq = 2",
        (body.replace('"service":"svc"', '"service":"svd"'),),
    )
    db.close()
    code, out, err = verify(store_url, tmp_path)
    assert code == 1
    assert "record #2 (decision d-2) was modified: its content no longer matches its hash" in out
    assert "verified prefix does not match the ledger" in err


def test_a_rewritten_prefix_with_recomputed_hashes_fails_without_the_key(
    store_url: str, tmp_path: Path, key: Path
) -> None:
    """Record #2 edited, every hash from it on recomputed and relinked, the head fixed up —
    all an attacker without the signing key can do: the old signatures no longer verify."""
    append(store_url, tmp_path, key, 1, 5)
    assert verify(store_url, tmp_path)[0] == 0
    db = Db(store_url)
    prev = str(db.execute("SELECT hash FROM gk_ledger_records WHERE seq = 1")[0][0])
    for seq in range(2, 6):
        doc = json.loads(body_of(db, seq))
        doc["prev_hash"] = prev
        if seq == 2:
            doc["release"]["tampered"] = True
        body = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        prev = "sha256:" + hashlib.sha256(body.encode()).hexdigest()
        db.execute(
            "UPDATE gk_ledger_records SET body = ?, hash = ? WHERE seq = ?", (body, prev, seq)
        )
    db.execute("UPDATE gk_ledger_head SET hash = ? WHERE id = 1", (prev,))
    db.close()
    code, out, _err = verify(store_url, tmp_path)
    assert code == 1
    assert "record #2 (decision d-2) has an invalid signature" in out


def test_a_signature_or_column_changed_inside_the_prefix_is_caught(
    store_url: str, tmp_path: Path, key: Path
) -> None:
    append(store_url, tmp_path, key, 1, 5)
    assert verify(store_url, tmp_path)[0] == 0
    db = Db(store_url)
    db.execute(
        "UPDATE gk_ledger_records SET signature = "
        "(SELECT signature FROM gk_ledger_records WHERE seq = 1) WHERE seq = 3"
    )
    db.close()
    code, out, _err = verify(store_url, tmp_path)
    assert code == 1
    assert "record #3 (decision d-3) has an invalid signature" in out
    assert verify(store_url, tmp_path, "--no-cache")[0] == 1


def test_an_indexed_column_changed_inside_the_prefix_is_caught(
    store_url: str, tmp_path: Path, key: Path
) -> None:
    append(store_url, tmp_path, key, 1, 5)
    assert verify(store_url, tmp_path)[0] == 0
    db = Db(store_url)
    db.execute("UPDATE gk_ledger_records SET service = 'other' WHERE seq = 4")
    db.close()
    code, out, _err = verify(store_url, tmp_path)
    assert code == 1
    assert "record #4 (decision d-4) was modified: its indexed columns differ" in out


def test_a_truncated_ledger_is_caught(store_url: str, tmp_path: Path, key: Path) -> None:
    """The last records deleted and the head row fixed up: a walk alone cannot tell, the
    verified prefix can."""
    append(store_url, tmp_path, key, 1, 5)
    assert verify(store_url, tmp_path)[0] == 0
    db = Db(store_url)
    new_head = db.execute("SELECT hash FROM gk_ledger_records WHERE seq = 3")[0][0]
    db.execute("DELETE FROM gk_ledger_records WHERE seq > 3")
    db.execute("UPDATE gk_ledger_head SET seq = 3, hash = ? WHERE id = 1", (new_head,))
    db.close()
    code, out, err = verify(store_url, tmp_path)
    assert code == 1
    assert "record #5 with hash" in out and "is no longer in the ledger" in out
    assert str(cached(tmp_path).name) in out
    assert "verified prefix does not match" in err
    assert verify_json(store_url, tmp_path)["intact"] is False  # still failing, not forgotten
    # Deliberately starting over: --no-cache walks everything and remembers the new state.
    assert verify(store_url, tmp_path, "--no-cache")[0] == 0
    assert verify(store_url, tmp_path)[0] == 0


@pytest.mark.parametrize(
    "content",
    ["{not json", '{"schema": "gatekeeper.verified-prefix/v1"}', "x" * 20_000, "[]"],
    ids=["invalid-json", "missing-fields", "too-big", "not-an-object"],
)
def test_a_corrupt_cache_is_a_warning_and_a_full_walk(
    tmp_path: Path, key: Path, content: str
) -> None:
    url = str(tmp_path / "ledger.db")
    append(url, tmp_path, key, 1, 4)
    assert verify(url, tmp_path)[0] == 0
    path = cached(tmp_path)
    path.write_text(content)
    code, out, err = verify(url, tmp_path)
    assert code == 0
    assert "4 signatures checked, 0 covered by the verified prefix" in out
    assert f"{path}: verified-prefix cache ignored" in err
    assert json.loads(path.read_text())["records"] == 4  # written again after the walk


def test_a_forged_cache_numbers_cannot_hide_a_change(tmp_path: Path, key: Path) -> None:
    """A cache claiming a different head or digest is a mismatch: walked, never a pass."""
    url = str(tmp_path / "ledger.db")
    append(url, tmp_path, key, 1, 4)
    assert verify(url, tmp_path)[0] == 0
    path = cached(tmp_path)
    doc = json.loads(path.read_text())
    doc["columns"] = "sha256:" + "1" * 64
    path.write_text(json.dumps(doc))
    code, out, err = verify(url, tmp_path)
    assert code == 1
    assert "is no longer in the ledger" in out
    assert "verified prefix does not match" in err


def test_a_prefix_is_only_trusted_for_the_keys_it_was_verified_with(
    tmp_path: Path, key: Path
) -> None:
    url = str(tmp_path / "ledger.db")
    append(url, tmp_path, key, 1, 4)
    assert verify(url, tmp_path)[0] == 0
    other = tmp_path / "other.pem.pub"
    other.write_bytes(generate_key_pem()[1])
    code, out, _err = verify(url, tmp_path, "--trusted-key", str(other))
    assert code == 1
    assert "which is not a trusted key" in out
    code, out, _err = verify(url, tmp_path, "--trusted-key", str(tmp_path / "key.pem.pub"))
    assert code == 0
    assert "0 signatures checked, 4 covered by the verified prefix" in out


def test_the_cache_key_is_the_normalised_location(tmp_path: Path, key: Path) -> None:
    url = str(tmp_path / "ledger.db")
    append(url, tmp_path, key, 1, 3)
    assert verify("ledger.db", tmp_path)[0] == 0  # relative
    code, out, _err = verify(f"sqlite:///{tmp_path}/./ledger.db", tmp_path)  # another spelling
    assert code == 0 and "3 covered by the verified prefix" in out
    resolved = "sqlite:" + str((tmp_path / "ledger.db").resolve())
    assert cached(tmp_path) == cache_path(resolved, tmp_path)
    assert json.loads(cached(tmp_path).read_text())["ledger"] == resolved


def test_a_postgresql_cache_key_has_no_password() -> None:
    assert (
        strip_password("postgresql://gk:s3cret@db:5432/ledger") == "postgresql://gk@db:5432/ledger"
    )
    assert strip_password("postgresql://gk:***@db/ledger") == "postgresql://gk@db/ledger"
    assert (
        strip_password("postgresql://db/ledger?user=gk&password=s3cret&sslmode=require")
        == "postgresql://db/ledger?user=gk&sslmode=require"
    )


def test_non_ascii_bodies_hash_alike_in_the_database_and_here(
    store_url: str, tmp_path: Path, key: Path
) -> None:
    """PostgreSQL hashes the prefix's bodies itself: its bytes must be the ones hashed when
    the record was written, or every warm verify would fail."""
    signer = load_signer(key)
    store = open_store(store_url, base=tmp_path, create=True)
    try:
        for i, text in enumerate(["Überprüfung ✓", "发布 🚀", "naïve\u2028line"]):
            fields = {"decision_id": f"u-{i}", "release": {"service": "svc"}, "note": text}
            when = f"2026-01-02T00:00:0{i}.000000Z"
            store.append(record_builder(fields, recorded_at=when, signer=signer), {})
    finally:
        store.close()
    assert verify(store_url, tmp_path)[0] == 0
    code, out, err = verify(store_url, tmp_path)
    assert (code, err) == (0, "")
    assert "0 signatures checked, 3 covered by the verified prefix" in out
