"""Waivers held by the service, per project: what ``.gatekeeper/waivers.yaml`` is to a local
gate run, set by an operator (admin token) and applied to every submission of the project.

A runner's own waivers never reach the service (a runner cannot waive its own failures); a
project's waiver set is a record of the service's log (kind ``waiver.set``: the file's text,
its digest, who set it), signed like a decision, so which waivers were in force when is part of
what auditors verify. Setting a new file replaces the project's set; an empty file clears it.
The file is checked exactly as ``gate run`` checks one (scope rules, approvals, expiry within
the service's maximum) before it is recorded.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gatekeeper.config import DEFAULT_MAX_WAIVER_DAYS
from gatekeeper.errors import GatekeeperError
from gatekeeper.gate.waivers import MAX_WAIVERS_BYTES, WaiverError, load_waivers
from gatekeeper.server.log import Appended, DecisionLog, LogEvent
from gatekeeper.server.tokens import PROJECT_NAME

WAIVERS_KIND = "waiver.set"


@dataclass(frozen=True)
class WaiverSet:
    project: str
    text: str  # the waivers file as set (YAML or JSON)
    digest: str
    waivers: int
    set_at: str
    set_by: str
    log_index: int

    def to_document(self) -> dict[str, Any]:
        return dict(self.__dict__)


class WaiverCatalogue:
    """Each project's waivers, read from the log's ``waiver.set`` records."""

    def __init__(self, log: DecisionLog, *, max_days: int = DEFAULT_MAX_WAIVER_DAYS) -> None:
        self.log = log
        self.max_days = max_days

    def history(self, project: str) -> list[WaiverSet]:
        return [
            _waiver_set(event)
            for event in self.log.events()
            if event.document.get("kind") == WAIVERS_KIND
            and event.document.get("project") == project
        ]

    def current(self, project: str) -> WaiverSet | None:
        sets = self.history(project)
        return sets[-1] if sets else None

    def file_for(self, project: str, folder: Path) -> Path | None:
        """The project's current waivers as a file in ``folder`` for the gate (None: none)."""
        current = self.current(project)
        if current is None:
            return None
        path = folder / "service-waivers.yaml"
        path.write_text(current.text, encoding="utf-8")
        return path

    def set(self, project: str, content: bytes, *, by: str) -> tuple[WaiverSet, Appended]:
        if not PROJECT_NAME.match(project):
            raise WaiverError(f"project name {project!r} is not a valid project")
        if len(content) > MAX_WAIVERS_BYTES:
            raise WaiverError(f"waivers file over {MAX_WAIVERS_BYTES} bytes")
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise WaiverError("the uploaded waivers are not UTF-8 text") from None
        handle, temporary = tempfile.mkstemp(suffix=".waivers.yaml")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            try:
                waivers = load_waivers(
                    Path(temporary), max_days=self.max_days, now=datetime.now(UTC)
                )
            except GatekeeperError as error:
                # Name the upload, not the service's temporary copy of it.
                raise type(error)(
                    error.one_line().replace(temporary, "the uploaded waivers")
                ) from None
        finally:
            Path(temporary).unlink(missing_ok=True)
        appended = self.log.append_event(
            {
                "kind": WAIVERS_KIND,
                "project": project,
                # The set belongs to the project: `audit log --service` and project tokens
                # see it with the project's decisions.
                "release": {"service": project},
                "waivers": {
                    "text": text,
                    "digest": "sha256:" + hashlib.sha256(content).hexdigest(),
                    "count": len(waivers),
                },
                "by": by,
            },
            {},
        )
        current = self.current(project)
        if current is None:  # pragma: no cover - the record just appended is in the log
            raise WaiverError("the waivers just recorded are not in the log")
        return current, appended


def _waiver_set(event: LogEvent) -> WaiverSet:
    waivers = event.document.get("waivers")
    fields = waivers if isinstance(waivers, dict) else {}
    return WaiverSet(
        project=str(event.document.get("project")),
        text=str(fields.get("text", "")),
        digest=str(fields.get("digest")),
        waivers=int(fields.get("count") or 0),
        set_at=event.recorded_at,
        set_by=str(event.document.get("by")),
        log_index=event.log_index,
    )
