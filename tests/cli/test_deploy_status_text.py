"""`deploy status` in text: each pool with its version, share and workers."""

from __future__ import annotations

import pytest

from gatekeeper.cli.deploy import _print_status
from gatekeeper.deploy.operator import StatusResult


def _worker(pid: int, version: str) -> dict[str, object]:
    return {"id": f"{version}-{pid}", "pid": pid, "port": 9000 + pid, "version": version}


def test_a_canary_judged_against_a_fresh_baseline_shows_the_three_shares(
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = {
        "phase": "progressing",
        "canary_weight": 10,
        "stable": {"version": "1.0.1"},
        "canary": {"version": "1.0.2"},
        "stable_workers": [_worker(1, "1.0.1"), _worker(2, "1.0.1")],
        "canary_workers": [_worker(3, "1.0.2")],
        "baseline_workers": [_worker(4, "1.0.1")],
    }
    _print_status(StatusResult("shop", "local", {"state": state}, None, None, False))
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:3] == ["stable", "1.0.1", "80"] for line in lines), lines
    assert any(line.split()[:3] == ["canary", "1.0.2", "10"] for line in lines), lines
    assert any(line.split()[:3] == ["baseline", "1.0.1", "10"] for line in lines), lines


def test_without_a_fresh_baseline_no_baseline_line(capsys: pytest.CaptureFixture[str]) -> None:
    state = {
        "phase": "stable",
        "canary_weight": 0,
        "stable": {"version": "1.0.1"},
        "stable_workers": [_worker(1, "1.0.1")],
    }
    _print_status(StatusResult("shop", "local", {"state": state}, None, None, False))
    out = capsys.readouterr().out
    assert "baseline" not in out and "stable  1.0.1" in out and "100 %" in out
