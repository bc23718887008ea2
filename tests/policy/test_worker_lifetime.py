"""Killing the gate mid-evaluation leaves no engine worker running and no input file behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")

# Four hundred million iterations: far longer than the test waits, little memory.
SPIN = """package spin

deny contains msg if {
\tsome i in numbers.range(1, 20000)
\tsome j in numbers.range(1, 20000)
\ti + j == -1
\tmsg := "never"
}
"""


def big_sbom(path: Path) -> None:
    # Over the 1 MB above which the input is handed to workers in a temporary file.
    components = [
        {"type": "library", "name": f"pkg{i}", "version": "1.0.0", "purl": f"pkg:pypi/pkg{i}@1.0.0"}
        for i in range(9000)
    ]
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components}
    path.write_text(json.dumps(doc), "utf-8")


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_gate(tmp_path: Path) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "spin.rego").write_text(SPIN, "utf-8")
    big_sbom(tmp_path / "sbom.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    env["TMPDIR"] = str(tmp_path / "tmp")
    command = [sys.executable, "-m", "gatekeeper", "gate", "run", "--no-ledger"]
    proc = subprocess.Popen(
        [*command, "-p", str(tmp_path / "spin.rego"), str(tmp_path / "sbom.json")],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, env


def input_files(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "tmp").glob("gatekeeper-input-*"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_killed_gate_leaves_no_worker_and_no_input_file(tmp_path: Path, signum: int) -> None:
    proc, env = start_gate(tmp_path)
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while time.monotonic() < deadline and not (workers and input_files(tmp_path)):
            workers = children_of(proc.pid)
            time.sleep(0.1)
        assert workers and input_files(tmp_path), "the gate never reached evaluation"
        time.sleep(0.5)  # the workers are evaluating now
        proc.send_signal(signum)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(w) for w in workers):
            time.sleep(0.1)
        assert not [w for w in workers if alive(w)], "an engine worker outlived the gate"
    finally:
        if proc.poll() is None:
            proc.kill()
    if signum == signal.SIGTERM:
        assert proc.returncode == 128 + signal.SIGTERM
        assert input_files(tmp_path) == []
    else:
        # No code runs in a SIGKILLed process: the next run removes what it left.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "gatekeeper",
                "gate",
                "run",
                "--no-ledger",
                str(REPO / "examples" / "evidence" / "sbom.cdx.json"),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert input_files(tmp_path) == []
