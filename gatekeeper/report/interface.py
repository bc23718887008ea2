"""The report-format axis: one renderer per output format, registered by name."""

from __future__ import annotations

from typing import ClassVar, Protocol

from gatekeeper.model import Decision


class Reporter(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]

    def render(self, decision: Decision, *, color: bool = False) -> str:
        """The whole report as text. ``color`` only matters to terminal formats."""
        ...
