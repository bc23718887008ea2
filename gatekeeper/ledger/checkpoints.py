"""The signed checkpoint of a Merkle log, kept in a file outside the database: the decision
service's own (what a restored or edited database is checked against) and a client's memory
of the last checkpoint it saw (what a rewritten log is caught by)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from gatekeeper.ledger.merkle import Checkpoint, LogError
from gatekeeper.ledger.store import LedgerError
from gatekeeper.loading import parse_json_text, read_regular_file

MAX_CHECKPOINT_BYTES = 64 * 1024


def read_checkpoint(path: Path) -> Checkpoint | None:
    if not path.exists():
        return None
    raw = read_regular_file(
        path, max_bytes=MAX_CHECKPOINT_BYTES, error=LedgerError, what="checkpoint file"
    )
    doc = parse_json_text(raw.decode("utf-8", "replace"), display=str(path), error=LedgerError)
    try:
        return Checkpoint.from_document(doc)
    except LogError as exc:
        raise LedgerError(exc.message, path=str(path)) from None


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Atomically replace the checkpoint file (write, fsync, rename), so a crash leaves either
    the old or the new checkpoint, never half of one."""
    # A name of this process and thread: replicas sharing the file never write one temporary.
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    text = json.dumps(checkpoint.to_document(), indent=2) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except OSError as exc:
        raise LedgerError(
            f"cannot write the checkpoint file: {exc.strerror or exc}", path=str(path)
        ) from None
