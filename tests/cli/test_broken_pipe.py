"""A reader that stops reading (`| head`) is not an internal error, and never a pass."""

from __future__ import annotations

import subprocess
import sys

# A command that prints line by line, as `deploy status` and `audit log` do, registered on the
# real command group so that the group's error handling is what is tested.
_SCRIPT = """
import click
from gatekeeper.cli import main

@main.command("many-lines")
def many_lines():
    for i in range(200_000):
        click.echo(f"line {i}")

main()
"""


def test_a_closed_pipe_is_quiet_and_not_exit_0_or_3() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, "many-lines"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(16)  # like `head -c 16`: read a little, then hang up
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    code = proc.wait(timeout=60)
    assert stderr == ""
    assert code == 1  # not 3 (the machinery failed), and not 0: the output was cut off
