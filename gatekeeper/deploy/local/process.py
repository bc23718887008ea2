"""Worker processes of the local target: spawn, readiness, graceful stop, identity checks.

Each worker (and the proxy daemon) runs in its own session, hence its own process group, so
that a stop reaches everything it spawned and nothing survives as an orphan, and so that a
killed deployer does not take the fleet down with it. A pid alone is not an identity — pids
are reused — so every record carries the process start time from ``/proc/<pid>/stat`` and
nothing is signalled unless both match.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from gatekeeper.deploy.errors import DeployError

LOOPBACK = "127.0.0.1"
# Every process the local target starts carries these, so leftovers from a killed deployer can
# be found even if it died between spawning a process and recording it.
MARK_STATE_DIR = "GATEKEEPER_DEPLOY_STATE_DIR"
MARK_ROLE = "GATEKEEPER_DEPLOY_ROLE"
_PROC = Path("/proc")

# Popen objects of processes this deployer started, so that stopped ones are reaped (a zombie
# would otherwise look alive to kill(pid, 0)).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def free_port() -> int:
    """A port free on loopback right now (the worker binds it a moment later; a lost race is
    caught by the readiness check and retried with another port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot; None if it does not exist (or no /proc)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    fields = text[text.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # zombie or dead: gone for our purposes
        return None
    return int(fields[19])


def is_alive(pid: int, started: int | None) -> bool:
    """True when ``pid`` runs and is the same process that was recorded."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    now = start_time(pid)
    if now is None:
        if _PROC.is_dir():
            return False
        try:  # no /proc (not Linux): fall back to existence only
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return started is None or now == started


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdout: Path,
    stderr: Path,
) -> tuple[int, int | None]:
    """Start ``argv`` in a new session with output appended to the two log files.
    Returns (pid, start time). No shell is involved: argv goes to exec as is."""
    stdout.parent.mkdir(parents=True, exist_ok=True)
    with stdout.open("ab") as out, stderr.open("ab") as err:
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise DeployError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
    _CHILDREN[proc.pid] = proc
    return proc.pid, start_time(proc.pid)


def wait_ready(
    pid: int,
    started: int | None,
    port: int,
    health_path: str,
    timeout: float,
) -> str | None:
    """Poll ``GET health_path`` until it answers 2xx. None when ready, else why not."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not is_alive(pid, started):
            code = _CHILDREN[pid].returncode if pid in _CHILDREN else None
            return f"exited before it was ready (exit code {code})"
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=2.0)
        try:
            conn.request("GET", health_path)
            response = conn.getresponse()
            response.read()
            if 200 <= response.status < 300:
                return None
            last = f"health check answered {response.status}"
        except (OSError, http.client.HTTPException) as exc:
            last = f"health check failed: {type(exc).__name__}"
        finally:
            conn.close()
        time.sleep(0.1)
    return f"not ready after {timeout:g} s ({last})"


def stop(pid: int, started: int | None, grace: float) -> bool:
    """SIGTERM the process group, wait up to ``grace`` s for it to empty, then SIGKILL it.

    Returns True when the group is gone. A record whose pid now belongs to another process
    (start time differs) is left alone and counts as gone.
    """
    if not is_alive(pid, started):
        _reap(pid)
        _kill_group(pid, signal.SIGKILL)  # stragglers of a leader that already exited
        return True
    _kill_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not _group_alive(pid):
            return True
        time.sleep(0.05)
    _kill_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        _reap(pid)
        if not _group_alive(pid):
            return True
        time.sleep(0.05)
    return False


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]


def _group_alive(pgid: int) -> bool:
    """Any live (non-zombie) process left in process group ``pgid``?"""
    if not _PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def find_marked(state_dir: Path) -> list[tuple[int, int | None, str]]:
    """Processes started for ``state_dir`` (by any deployer): (pid, start time, role)."""
    wanted = f"{MARK_STATE_DIR}={state_dir}".encode()
    found: list[tuple[int, int | None, str]] = []
    if not _PROC.is_dir():
        return found
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        variables = environ.split(b"\0")
        if wanted not in variables:
            continue
        role = next(
            (v.split(b"=", 1)[1].decode() for v in variables if v.startswith(MARK_ROLE.encode())),
            "",
        )
        pid = int(entry.name)
        started = start_time(pid)
        if started is not None:
            found.append((pid, started, role))
    return found
