"""The abort watcher: ``deploy abort`` drops a file in the state directory; a running deployer
polls for it and stops its rollout (which then reverts).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ABORT_FILE = "abort"


ABORT_POLL_S = 0.2


@contextlib.contextmanager
def abort_watch(directory: Path, event: threading.Event) -> Iterator[None]:
    """`deploy abort` (another process) drops a file; SIGINT/SIGTERM here do the same. Either
    sets the executor's abort event, which interrupts the current wait and reverts."""
    abort_file = directory / ABORT_FILE
    abort_file.unlink(missing_ok=True)
    done = threading.Event()

    def poll() -> None:
        while not done.wait(ABORT_POLL_S):
            if abort_file.exists():
                event.set()
                return

    watcher = threading.Thread(target=poll, name="gatekeeper-abort-watch", daemon=True)
    watcher.start()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: event.set())
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=2)
        for number, handler in previous.items():
            signal.signal(number, handler)
        abort_file.unlink(missing_ok=True)
