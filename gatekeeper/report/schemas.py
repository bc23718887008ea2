"""The published JSON Schemas of the two documented contracts, generated from the models.

``docs/schemas/decision-v1.json`` (what ``--format json`` prints) and
``docs/schemas/gate-input-v1.json`` (what policies see as ``input``) are committed; a test
fails when they drift from the models. Regenerate with::

    .venv/bin/python -m gatekeeper.report.schemas docs/schemas
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gatekeeper.errors import InputError
from gatekeeper.model import DECISION_SCHEMA, GATE_INPUT_SCHEMA, Decision, GateInput

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
REGENERATE_COMMAND = ".venv/bin/python -m gatekeeper.report.schemas docs/schemas"


def _with_header(schema: dict[str, Any], contract: str) -> dict[str, Any]:
    header: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$comment": f"{contract}; generated from the pydantic models by "
        f"gatekeeper.report.schemas, do not edit by hand",
    }
    return {**header, **schema}


def schema_documents() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema document, exactly as committed under docs/schemas/."""
    return {
        "decision-v1.json": _with_header(
            Decision.model_json_schema(by_alias=True), DECISION_SCHEMA
        ),
        "gate-input-v1.json": _with_header(
            GateInput.model_json_schema(by_alias=True), GATE_INPUT_SCHEMA
        ),
    }


def serialize(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into ``directory`` (created if needed); returns the paths written."""
    written: list[Path] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, schema in schema_documents().items():
            path = directory / name
            path.write_text(serialize(schema), encoding="utf-8")
            written.append(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot write schemas: {reason}", path=str(directory)) from exc
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else Path("docs/schemas")
    try:
        for path in write_schemas(directory):
            print(path)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
