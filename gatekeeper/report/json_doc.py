"""The Decision document (``gatekeeper.decision/v1``) as JSON: the machine-readable contract."""

from __future__ import annotations

import json
from typing import ClassVar

from gatekeeper.model import Decision


class JsonReporter:
    name: ClassVar[str] = "json"
    description: ClassVar[str] = "the Decision document, schema gatekeeper.decision/v1"

    def render(self, decision: Decision, *, color: bool = False) -> str:
        # Key order is the model's field order (stable, documented); no sort_keys on purpose.
        return json.dumps(decision.to_document(), indent=2, ensure_ascii=False) + "\n"
