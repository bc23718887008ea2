from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gatekeeper.errors import InputError
from gatekeeper.model import Decision
from gatekeeper.report.json_doc import JsonReporter
from gatekeeper.report.schemas import (
    REGENERATE_COMMAND,
    schema_documents,
    serialize,
    write_schemas,
)
from tests.report import report_samples as samples

DOCS_SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


@pytest.mark.parametrize("case", sorted(samples.ALL))
def test_json_round_trips_into_the_same_decision(case: str) -> None:
    decision = samples.ALL[case]()
    text = JsonReporter().render(decision)
    assert Decision.model_validate(json.loads(text)) == decision


def test_json_key_order_is_the_model_order_and_unicode_is_kept() -> None:
    text = JsonReporter().render(samples.failing())
    document = json.loads(text)
    assert list(document)[:4] == ["schema", "decision_id", "created_at", "outcome"]
    assert document["schema"] == "gatekeeper.decision/v1"
    assert "grüße" in text
    assert text.startswith('{\n  "schema"')


@pytest.mark.parametrize("case", sorted(samples.ALL))
def test_json_validates_against_the_committed_decision_schema(case: str) -> None:
    schema = json.loads((DOCS_SCHEMAS / "decision-v1.json").read_text(encoding="utf-8"))
    document = json.loads(JsonReporter().render(samples.ALL[case]()))
    jsonschema.Draft202012Validator(schema).validate(document)


def test_committed_decision_schema_rejects_a_broken_document() -> None:
    schema = json.loads((DOCS_SCHEMAS / "decision-v1.json").read_text(encoding="utf-8"))
    document = json.loads(JsonReporter().render(samples.failing()))
    document["outcome"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(document)


@pytest.mark.parametrize("name", sorted(schema_documents()))
def test_committed_schemas_are_up_to_date_with_the_models(name: str) -> None:
    committed = DOCS_SCHEMAS / name
    expected = serialize(schema_documents()[name])
    assert committed.exists(), f"{committed} is missing; run: {REGENERATE_COMMAND}"
    assert committed.read_text(encoding="utf-8") == expected, (
        f"{committed} is out of date with the pydantic models; run: {REGENERATE_COMMAND}"
    )


def test_write_schemas_writes_every_schema(tmp_path: Path) -> None:
    written = write_schemas(tmp_path / "out")
    assert sorted(p.name for p in written) == ["decision-v1.json", "gate-input-v1.json"]
    for path in written:
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text("utf-8")))


def test_write_schemas_into_an_unwritable_place_is_an_input_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        write_schemas(blocker / "schemas")
    assert str(blocker) in str(caught.value)
