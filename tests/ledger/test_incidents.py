"""Incidents in the ledger: linked to a recorded deployment, resolved once, never before
they opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.errors import InputError
from gatekeeper.ledger.incidents import open_incident, resolve_incident
from gatekeeper.ledger.registry import open_store
from tests.ledger.dora_history import small_history

START, END = "2026-11-01T00:00:00.000000Z", "2026-11-11T00:00:00.000000Z"


def test_an_incident_must_name_a_recorded_deployment_and_resolve_once(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "l.db"), base=tmp_path, create=True)
    try:
        incident = small_history(store)
        with pytest.raises(InputError, match="no deployment nope of shop"):
            open_incident(
                store,
                service="shop",
                deployment_id="nope",
                summary="",
                at=START,
                source="t",
                signer=None,
            )
        with pytest.raises(InputError, match="already resolved"):
            resolve_incident(
                store, incident_id=incident, at=END, summary="", source="t", signer=None
            )
        newest = open_incident(
            store,
            service="shop",
            deployment_id=None,
            summary="x",
            at="2026-11-08T02:00:00.000000Z",
            source="t",
            signer=None,
        )
        assert newest.deployment_id == "dep5"  # the newest promoted to production
        with pytest.raises(InputError, match="before it opened"):
            resolve_incident(
                store, incident_id=newest.incident_id, at=START, summary="", source="t", signer=None
            )
    finally:
        store.close()
