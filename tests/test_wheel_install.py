"""The wheel alone is enough: installed into a clean virtualenv, with no source tree around,
`gatekeeper gate run` works on the shipped example with the built-in policies."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e  # seconds per test: real processes or servers (README, Development)


def test_wheel_installs_and_gates_the_shipped_example(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(REPO),
        ],
        check=True,
        timeout=300,
    )
    wheel = next(dist.glob("gatekeeper-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=600)

    # Run from an empty directory so nothing of the source tree can be picked up.
    work = tmp_path / "elsewhere"
    work.mkdir()
    locate = subprocess.run(
        [
            str(python),
            "-c",
            "import gatekeeper, pathlib; print(pathlib.Path(gatekeeper.__file__).parent)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=work,
    )
    package = Path(locate.stdout.strip())
    assert REPO not in package.parents, "the installed package must not be the source tree"
    examples = package / "_builtin" / "examples"
    assert (package / "_builtin" / "policies").is_dir()
    evidence = sorted(str(p) for p in (examples / "evidence").iterdir())
    result = subprocess.run(
        [
            str(env_dir / "bin" / "gatekeeper"),
            "gate",
            "run",
            "--format",
            "json",
            "--release",
            str(examples / "release.yaml"),
            *evidence,
        ],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    decision = json.loads(result.stdout)
    assert decision["outcome"] == "fail"
    assert any(v["policy"] == "GK-VULN-001" for v in decision["violations"])
    assert "_builtin/policies" in decision["policy_bundle"]["sources"][0]
