"""Sharing one evaluation between several worker processes: a claim counter in a small file.

Why: a gate run's evaluation is CPU-bound in the engine while the parent process only waits,
and the queries (one group per policy package) are independent. Two workers that each load
the bundle and the input, then take the next unclaimed group until none is left, finish in
about half the time on two cores, whatever the groups cost (no static split to balance).

How: the parent writes an 8-byte big-endian counter (0) to a temporary file and names it in
the request. A worker locks the file (``flock``), reads the counter, writes it back plus one
and unlocks: the value it read is the group it owns. A value past the last group means done.
Groups are claimed, never assigned, so a worker that starts late simply claims fewer. The
parent checks that every group was answered exactly once (see ``base.GuardedEngine``): a
worker that died, skipped or repeated a group fails the evaluation, never a partial result.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gatekeeper.errors import EngineError

try:  # POSIX only; without it evaluation stays in one worker (see ``sharing_supported``).
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_COUNTER_BYTES = 8


def sharing_supported() -> bool:
    return fcntl is not None


CLAIM_FILE_PREFIX = "gatekeeper-claims-"


def sweep_orphan_files(prefix: str) -> None:
    """Remove ``<tmp>/<prefix><pid>-*`` files whose creating process no longer exists."""
    with contextlib.suppress(OSError):
        for entry in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
            pid_text = entry.name[len(prefix) :].split("-", 1)[0]
            if pid_text.isdigit() and not _alive(int(pid_text)):
                entry.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def new_claim_file() -> str:
    """A fresh counter file at 0; the caller removes it when the workers are done."""
    sweep_orphan_files(CLAIM_FILE_PREFIX)
    fd, path = tempfile.mkstemp(prefix=f"{CLAIM_FILE_PREFIX}{os.getpid()}-")
    try:
        os.write(fd, bytes(_COUNTER_BYTES))
    finally:
        os.close(fd)
    return path


def _claims(path: str, count: int) -> Iterator[int]:
    """Group numbers this process owns, one at a time, until all ``count`` are claimed."""
    if fcntl is None:  # pragma: no cover - the parent never shares work without fcntl
        raise EngineError("shared evaluation needs fcntl (POSIX)")
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as exc:
        raise EngineError(f"cannot open the evaluation claim file: {exc}") from None
    try:
        while True:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                raw = os.pread(fd, _COUNTER_BYTES, 0)
                if len(raw) != _COUNTER_BYTES:
                    raise EngineError("the evaluation claim file is damaged")
                claimed = int.from_bytes(raw, "big")
                os.pwrite(fd, (claimed + 1).to_bytes(_COUNTER_BYTES, "big"), 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            if claimed >= count:
                return
            yield claimed
    finally:
        os.close(fd)


def assigned_queries(request: dict[str, Any]) -> Iterator[tuple[int, list[str]]]:
    """(group number, its queries) for this worker: claimed groups of a shared request
    (``tasks`` + ``claim_file``), else all of ``queries`` as group 0."""
    tasks = request.get("tasks")
    if tasks is None:
        yield 0, [str(q) for q in request.get("queries", [])]
        return
    if not isinstance(tasks, list) or not all(isinstance(t, list) for t in tasks):
        raise EngineError("engine worker received malformed query groups")
    for index in _claims(str(request.get("claim_file")), len(tasks)):
        yield index, [str(q) for q in tasks[index]]
