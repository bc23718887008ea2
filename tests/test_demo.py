"""`make demo` end to end (examples/demo.sh): every part runs, and the decision-service part
gates and deploys through a local service and verifies its log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.e2e  # the whole demo: about a minute


def test_the_demo_runs_end_to_end_through_the_decision_service(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    env["GATEKEEPER_DEMO_OUT"] = str(tmp_path / "demo")
    env["GATEKEEPER_DEMO_STOP_SERVICE"] = "1"  # no service left running after the test
    bin_dir = str(Path(sys.executable).parent)
    done = subprocess.run(
        ["bash", str(REPO / "examples" / "demo.sh"), bin_dir],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    served = out[out.index("== gatekeeper serve") :]
    assert "uploaded bundle sha256:" in served + done.stderr
    assert "PASS  orders-api 0.2.0" in served
    assert "verified against the service's key" in served
    # bundle upload, activation, the decision, and the deployment events the deployer reported
    intact = re.search(r"ledger intact: (\d+) records, (\d+) signed", served)
    assert intact and intact.group(1) == intact.group(2) and int(intact.group(1)) >= 5, served
    assert f"checkpoint: {intact.group(1)} records" in served
    assert "dashboard of the demo's decision service: http://127.0.0.1:" in out
