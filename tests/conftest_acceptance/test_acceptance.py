"""conftest's own acceptance suite (acceptance.bats, 96 tests) run through the `conftest`
wrapper beside this file, which maps conftest's commands onto `gatekeeper conftest`.

The suite is read from ../shared/conftest-acceptance (never copied into the repository) and
run in a temporary copy, because it runs `./conftest` from its own folder. At least 88 of its
96 tests must pass; docs/conftest-compat.md lists each one that does not, with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# ../shared beside the repository (GATEKEEPER_SHARED_DIR overrides it, e.g. in a worktree).
SUITE = (
    Path(os.environ.get("GATEKEEPER_SHARED_DIR", ROOT.parent / "shared")) / "conftest-acceptance"
)
WRAPPER = Path(__file__).with_name("conftest")
REQUIRED = 88
# Known differences (docs/conftest-compat.md): a test outside this list failing is a regression.
EXPECTED_FAILURES = {
    "Pass when testing a blank namespace",
    "Verify command filters out non-matching namespaces",
    "Can update policies in test command",
    "Should fail if strict is set and there are unused variables in the policy",
    "Should fail when verifying if strict is set and there are unused variables in the policy",
}


@pytest.mark.e2e
def test_conftest_acceptance_suite(tmp_path: Path) -> None:
    if not (SUITE / "acceptance.bats").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"conftest's acceptance suite is missing at {SUITE}")
        pytest.skip(f"conftest's acceptance suite not found at {SUITE}")
    bats = shutil.which("bats")
    if bats is None:
        if os.environ.get("CI") == "true":
            pytest.fail("bats is not installed (apt-get install bats)")
        pytest.skip("bats is not installed")
    work = tmp_path / "acceptance"
    shutil.copytree(SUITE, work)
    for path in [work, *work.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    shutil.copy2(WRAPPER, work / "conftest")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    run = subprocess.run(
        [bats, "--tap", "acceptance.bats"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    passed = re.findall(r"^ok \d+ (.*)$", run.stdout, re.M)
    failed = re.findall(r"^not ok \d+ (.*)$", run.stdout, re.M)
    assert len(passed) + len(failed) == 96, run.stdout[-2000:] + run.stderr[-2000:]
    unexpected = sorted(set(failed) - EXPECTED_FAILURES)
    assert not unexpected, f"acceptance tests newly failing: {unexpected}"
    assert len(passed) >= REQUIRED, f"{len(passed)} of 96 passed"
