"""Violations are built unvalidated (``checked_builder``): the decision must be the one
validated violations give, field by field and type by type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gatekeeper.gate import evaluate
from gatekeeper.gate.run import GateRequest, run_gate
from gatekeeper.model import Violation
from tests.conftest import EXAMPLES
from tests.evidence.test_evidence_checked import _synthetic

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _decision(paths: list[str], tmp_path: Path) -> tuple[dict[str, Any], tuple[Violation, ...]]:
    result = run_gate(GateRequest(evidence=tuple(paths), cwd=tmp_path, now=NOW))
    document = json.loads(result.decision.model_dump_json())
    for key in ("decision_id", "timings"):
        document.pop(key)
    return document, result.decision.violations


@pytest.mark.parametrize("case", ["example", "M"])
def test_violations_are_the_validated_ones(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if case == "example":
        paths = [str(p) for p in sorted((EXAMPLES / "evidence").glob("*.json"))]
    else:
        paths = _synthetic(case, tmp_path / case)
    fast, violations = _decision(paths, tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(evaluate, "_checked_violation", Violation.model_validate)
        validated, _ = _decision(paths, tmp_path)
    assert fast == validated
    assert len(violations) > (1000 if case == "M" else 3)
    for violation in violations:
        assert tuple(violation.__dict__) == tuple(Violation.model_fields)
        again = Violation.model_validate(dict(violation.__dict__))
        assert again == violation
        for name, value in violation.__dict__.items():
            assert type(again.__dict__[name]) is type(value), name


def test_a_violation_with_odd_evidence_keys_is_validated() -> None:
    # Engines answer JSON (string keys); anything else is validated, and refused, as before.
    rule = evaluate.GateRule(
        package="p",
        name="deny",
        level=evaluate.Level.DENY,
        info=evaluate.PolicyInfo(id="P-1"),
        location=evaluate.RuleLocation(file="p.rego", line=1),
    )
    with pytest.raises(ValidationError):
        evaluate._result_items([{"msg": "m", "evidence": {1: "x"}}], rule)
