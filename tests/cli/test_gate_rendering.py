"""``gate run`` renders its report on a thread while the decision is recorded; what the
rendering gives or raises reaches the command as if rendered in place."""

from __future__ import annotations

import pytest

from gatekeeper.cli.gate import Rendering
from gatekeeper.gate.decide import error_decision
from gatekeeper.model import Decision
from gatekeeper.report.registry import get_reporter


class Broken:
    def render(self, decision: Decision, *, color: bool = False) -> str:
        raise UnicodeEncodeError("utf-8", "x", 0, 1, "bad")


def test_rendered_text_is_the_reporters() -> None:
    decision = error_decision("boom")
    reporter = get_reporter("json")
    assert Rendering(reporter, decision, color=False).text() == reporter.render(decision)


def test_a_rendering_failure_is_raised_to_the_command() -> None:
    with pytest.raises(UnicodeEncodeError):
        Rendering(Broken(), error_decision("boom"), color=False).text()
