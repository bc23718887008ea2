"""Golden-file comparison for rendered reports.

A snapshot is the exact text a user would see. When a change to a renderer is intended, review
the diff and rewrite the files with ``GATEKEEPER_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/report``.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

SNAPSHOTS = Path(__file__).resolve().parent / "fixtures" / "snapshots"


def assert_snapshot(name: str, actual: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("GATEKEEPER_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), (
        f"missing snapshot {path}; create it with GATEKEEPER_UPDATE_SNAPSHOTS=1 and review it"
    )
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"{name} (snapshot)",
                tofile=f"{name} (rendered)",
            )
        )
        raise AssertionError(
            f"{name} differs from its snapshot; if intended, rerun with "
            f"GATEKEEPER_UPDATE_SNAPSHOTS=1 and review:\n{diff}"
        )
