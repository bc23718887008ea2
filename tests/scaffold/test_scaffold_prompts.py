"""`scaffold new` on a terminal: asks for missing answers and re-asks until one is valid."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

DEADLINE_S = 120


def _read_until(fd: int, needle: bytes, seen: bytearray) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while needle not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {needle!r}; output so far: {bytes(seen)!r}")
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            seen.extend(chunk)


def test_prompts_validate_each_answer_as_typed(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gatekeeper", "scaffold", "new", "python-library", str(dest)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    seen = bytearray()
    try:
        _read_until(controller, b"name - distribution name", seen)
        os.write(controller, b"../escape\n")  # invalid: asked again, nothing written
        _read_until(controller, b"does not match", seen)
        del seen[:]
        os.write(controller, b"good-lib\n")
        # Every other parameter: accept the shown default with Enter.
        for _ in range(5):
            _read_until(controller, b": ", seen)
            del seen[:]
            os.write(controller, b"\n")
        assert proc.wait(timeout=DEADLINE_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    record = json.loads((dest / ".gatekeeper/template.json").read_text())
    assert record["answers"]["name"] == "good-lib"
    assert record["answers"]["package"] == "good_lib"  # default derived from the answer
    assert not (tmp_path / "escape").exists()
