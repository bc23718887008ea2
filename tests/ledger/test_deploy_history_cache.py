"""The deploy commands read their history through the verified prefix (keyed by the ledger's
location and first record): only records appended since the last read have their signatures
checked, every change to the verified records still fails, and a ledger created again at the
same path is walked afresh instead of failing on the old ledger's cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gatekeeper.ledger import chain
from gatekeeper.ledger.chain import record_builder
from gatekeeper.ledger.deployments import (
    GateApproval,
    find_gate_approval,
    record_deploy_event,
    verified_deploy_events,
)
from gatekeeper.ledger.registry import open_store
from gatekeeper.ledger.signing import Signer, generate_key_pem, load_signer
from gatekeeper.ledger.store import LedgerError
from gatekeeper.ledger.verified import CACHE_DIR
from tests.ledger.ledger_helpers import Db


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    private, _public = generate_key_pem()
    (tmp_path / "key.pem").write_bytes(private)
    return load_signer(tmp_path / "key.pem")


@pytest.fixture
def signatures_checked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sequence numbers of the records whose signature the walk checked."""
    seen: list[int] = []
    real = chain._check_signature

    def counting(record: Any, doc: Any, walk: Any) -> Any:
        seen.append(record.seq)
        return real(record, doc, walk)

    monkeypatch.setattr(chain, "_check_signature", counting)
    return seen


def write(url: str, base: Path, signer: Signer, services: list[str], tag: str = "") -> None:
    """One gate decision and one deployment per entry of ``services``, in that order."""
    store = open_store(url, base=base, create=True)
    try:
        for i, service in enumerate(services):
            release = {"service": service, "version": f"1.{i}.0{tag}", "environment": "prod"}
            fields = {"decision_id": f"d-{tag}{i}", "release": release}
            when = f"2026-01-01T00:00:{i:02d}.000000Z"
            store.append(record_builder(fields, recorded_at=when, signer=signer), {})
            record_deploy_event(
                store,
                kind="deploy.promoted",
                release=release,
                outcome="promoted",
                details={"deployment_id": f"dep-{tag}{i}"},
                signer=signer,
            )
    finally:
        store.close()


def history(url: str, base: Path, service: str | None, cache: Path | None) -> list[str]:
    store = open_store(url, base=base, create=False)
    try:
        events = verified_deploy_events(store, service=service, cache_dir=cache)
        return [str(doc["release"]["version"]) for _record, doc in events]
    finally:
        store.close()


def test_a_second_read_checks_only_the_signatures_of_new_records(
    store_url: str, tmp_path: Path, signer: Signer, signatures_checked: list[int]
) -> None:
    service_dir = tmp_path / "svc"
    write(store_url, tmp_path, signer, ["orders", "billing", "orders"])
    first = history(store_url, tmp_path, "orders", service_dir)
    assert first == ["1.0.0", "1.2.0"]
    assert signatures_checked == [1, 2, 3, 4, 5, 6]
    assert len(list((service_dir / CACHE_DIR).glob("*.json"))) == 1

    signatures_checked.clear()
    assert history(store_url, tmp_path, "orders", service_dir) == first
    assert signatures_checked == []  # the whole ledger is the verified prefix

    write(store_url, tmp_path, signer, ["orders"], tag="-b")
    signatures_checked.clear()
    assert history(store_url, tmp_path, "orders", service_dir) == [*first, "1.0.0-b"]
    assert signatures_checked == [7, 8]
    # The same answers without a cache: the prefix changes nothing but the work.
    assert history(store_url, tmp_path, "orders", None) == [*first, "1.0.0-b"]
    assert history(store_url, tmp_path, None, service_dir) == [
        "1.0.0",
        "1.1.0",
        "1.2.0",
        "1.0.0-b",
    ]


@pytest.mark.parametrize(
    "statement",
    [
        # another service's deployment, whose body the cached read does not parse
        "UPDATE gk_ledger_records SET body = replace(body, 'dep-1', 'dep-9') WHERE seq = 4",
        "UPDATE gk_ledger_records SET signature = NULL WHERE seq = 2",
        "UPDATE gk_ledger_records SET service = 'billing' WHERE seq = 6",
        "DELETE FROM gk_ledger_records WHERE seq = 6",
    ],
)
def test_a_change_to_a_verified_record_fails_the_cached_read(
    store_url: str, tmp_path: Path, signer: Signer, statement: str
) -> None:
    service_dir = tmp_path / "svc"
    write(store_url, tmp_path, signer, ["orders", "billing", "orders"])
    history(store_url, tmp_path, "orders", service_dir)
    db = Db(store_url)
    try:
        db.execute(statement)
    finally:
        db.close()
    with pytest.raises(LedgerError, match="not intact"):
        history(store_url, tmp_path, "orders", service_dir)


def test_a_truncated_ledger_fails_and_names_the_cache_to_delete(
    tmp_path: Path, signer: Signer
) -> None:
    url = str(tmp_path / "ledger.db")
    service_dir = tmp_path / "svc"
    write(url, tmp_path, signer, ["orders", "orders"])
    history(url, tmp_path, "orders", service_dir)
    db = Db(url)
    try:
        db.execute("DELETE FROM gk_ledger_records WHERE seq > 2")
        head = db.execute("SELECT hash FROM gk_ledger_records WHERE seq = 2")[0][0]
        db.execute("UPDATE gk_ledger_head SET seq = 2, hash = ? WHERE id = 1", (head,))
    finally:
        db.close()
    with pytest.raises(LedgerError, match="no longer in the ledger") as caught:
        history(url, tmp_path, "orders", service_dir)
    assert str(service_dir / CACHE_DIR) in str(caught.value)


def test_a_ledger_created_again_at_the_same_path_is_read_afresh(
    tmp_path: Path, signer: Signer
) -> None:
    url = str(tmp_path / "ledger.db")
    service_dir = tmp_path / "svc"
    write(url, tmp_path, signer, ["orders", "orders", "orders"])
    assert history(url, tmp_path, "orders", service_dir) == ["1.0.0", "1.1.0", "1.2.0"]
    Path(url).unlink()
    write(url, tmp_path, signer, ["orders"], tag="-new")
    assert history(url, tmp_path, "orders", service_dir) == ["1.0.0-new"]


def decide(url: str, base: Path, signer: Signer, digest: str, outcome: str, n: int) -> None:
    store = open_store(url, base=base, create=True)
    try:
        release = {"service": "orders", "version": f"2.{n}.0", "artifact_digest": digest}
        fields = {"decision_id": f"g-{n}", "outcome": outcome, "release": release}
        when = f"2026-02-01T00:00:{n:02d}.000000Z"
        store.append(record_builder(fields, recorded_at=when, signer=signer), {})
    finally:
        store.close()


def approval(url: str, base: Path, digest: str, cache: Path) -> GateApproval:
    store = open_store(url, base=base, create=False)
    try:
        return find_gate_approval(store, digest, cache_dir=cache)
    finally:
        store.close()


def test_the_permission_is_read_through_the_prefix_and_still_fails_closed(
    store_url: str, tmp_path: Path, signer: Signer, signatures_checked: list[int]
) -> None:
    service_dir = tmp_path / "svc"
    digest = "sha256:" + "ab" * 32
    write(store_url, tmp_path, signer, ["orders", "billing"])
    decide(store_url, tmp_path, signer, digest, "pass", 5)
    first = approval(store_url, tmp_path, digest, service_dir)
    assert first.allowed and first.decision_id == "g-5"

    signatures_checked.clear()
    again = approval(store_url, tmp_path, digest, service_dir)
    assert (again.allowed, again.decision_id, signatures_checked) == (True, "g-5", [])

    # A newer failing decision for the artifact, appended after the prefix, withdraws it.
    decide(store_url, tmp_path, signer, digest, "fail", 6)
    withdrawn = approval(store_url, tmp_path, digest, service_dir)
    assert (withdrawn.allowed, withdrawn.decision_id) == (False, "g-6")
    assert signatures_checked == [6]

    # That failing decision edited into a pass, now inside the prefix: the ledger is refused.
    db = Db(store_url)
    try:
        db.execute("UPDATE gk_ledger_records SET body = replace(body, '\"fail\"', '\"pass\"')")
    finally:
        db.close()
    tampered = approval(store_url, tmp_path, digest, service_dir)
    assert not tampered.allowed and not tampered.ledger_intact
    assert "was modified" in tampered.reason
