"""The compliance report with what only layers above the ledger know: control titles from the
control catalogue (policy/) and waiver expiry (gate/). The view itself is ledger/report.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from gatekeeper.gate.waivers import expires_at
from gatekeeper.ledger.chain import VerifyResult
from gatekeeper.ledger.report import (
    ComplianceReport,
    ControlTitles,
    build_report,
    no_control_titles,
)
from gatekeeper.ledger.store import LedgerStore
from gatekeeper.ledger.verified import VerifiedPrefix
from gatekeeper.policy.controls import load_catalogue


def compliance_report(
    store: LedgerStore,
    *,
    start: str | None,
    end: str | None,
    service: str | None = None,
    now: datetime | None = None,
    parallel: bool = False,
    prefix: VerifiedPrefix | None = None,
    on_chain: Callable[[VerifyResult], None] | None = None,
) -> ComplianceReport:
    """``parallel``: signatures checked in worker processes (see ``verify_chain``);
    ``prefix``/``on_chain``: the verified-prefix cache (see ``build_report``)."""
    return build_report(
        store,
        start=start,
        end=end,
        service=service,
        now=now,
        waiver_ends=expires_at,
        control_titles=control_titles(),
        parallel=parallel,
        prefix=prefix,
        on_chain=on_chain,
    )


def control_titles() -> ControlTitles:
    """Control id -> (title, framework) from the control catalogue, ids only without it."""
    try:
        catalogue: Any = load_catalogue()
    except Exception:
        # A report must still render (ids only) when the catalogue cannot be read.
        return no_control_titles

    def lookup(control: str) -> tuple[str, str]:
        found = catalogue.get(control)
        if found is None:
            return ("", "")
        return (str(found.title), str(found.framework.name))

    return lookup
