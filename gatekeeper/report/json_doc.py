"""The Decision document (``gatekeeper.decision/v1``) as JSON: the machine-readable contract."""

from __future__ import annotations

from typing import ClassVar

from gatekeeper.model import Decision


class JsonReporter:
    name: ClassVar[str] = "json"
    description: ClassVar[str] = "the Decision document, schema gatekeeper.decision/v1"

    def render(self, decision: Decision, *, color: bool = False) -> str:
        # Key order is the model's field order (stable, documented); no sort_keys on purpose.
        # pydantic's compiled serializer: a failing L release carries thousands of violations.
        return decision.model_dump_json(by_alias=True, indent=2) + "\n"
