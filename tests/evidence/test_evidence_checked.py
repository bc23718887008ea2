"""Readers' fast paths build models unvalidated (``checked_builder``); the gate input they give
must be byte for byte the one validated models give.

Each case reads the same files twice: as shipped, and with every unvalidated builder replaced
by the model's own validation. The gate input JSON (what the engine sees and what its digest
is taken of) must be identical, and every model the fast path built must equal, field by field
and type by type, the model validation makes of the same values.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from gatekeeper.errors import InputError
from gatekeeper.evidence import load_evidence
from gatekeeper.evidence.readers import cyclonedx, grype
from gatekeeper.gate.input import build_gate_input
from gatekeeper.model import Component, Hash, Release, Vulnerability
from gatekeeper.model.base import checked_builder
from tests.conftest import CORPUS, EXAMPLES, REPO

NOW = datetime(2026, 12, 1, tzinfo=UTC)

# module, attribute, model: every unvalidated builder of the readers.
BUILDERS = (
    (cyclonedx, "_component", Component),
    (cyclonedx, "_hash", Hash),
    (grype, "_vulnerability", Vulnerability),
    (grype, "_component", Component),
)


def _synthetic(size: str, out: Path) -> list[str]:
    spec = importlib.util.spec_from_file_location("synthetic", REPO / "benchmarks" / "synthetic.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["synthetic"] = module
    spec.loader.exec_module(module)
    return [str(p) for p in module.generate(module.SIZES[size], out)]


def _input_json(paths: list[str]) -> str:
    evidence = load_evidence(paths)
    return build_gate_input(evidence, release=Release(), now=NOW, env={}).to_json()


def _validated_json(paths: list[str], monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as patch:
        for module, name, model in BUILDERS:
            patch.setattr(module, name, model.model_validate)
        return _input_json(paths)


def _models(value: Any) -> Iterator[BaseModel]:
    if isinstance(value, BaseModel):
        yield value
        for item in value.__dict__.values():
            yield from _models(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _models(item)


def _assert_same_as_validated(paths: list[str]) -> None:
    evidence = load_evidence(paths)
    for model in _models([evidence.components, evidence.vulnerabilities]):
        cls = type(model)
        assert tuple(model.__dict__) == tuple(cls.model_fields)
        again = cls.model_validate(dict(model.__dict__))
        assert again == model
        for name, value in model.__dict__.items():
            assert type(again.__dict__[name]) is type(value), (cls.__name__, name)


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in (".json", ".xml"))


def _edges(tmp_path: Path) -> list[str]:
    """Empty strings, missing fields and severities the fast paths must treat as validation
    does (an empty version is no version; a score without a usable severity word is rated)."""
    plain = {"type": "library", "name": "a", "version": "1", "purl": "pkg:npm/a@1"}
    sbom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "metadata": {"component": {"bom-ref": "root", "name": "app"}},
        "components": [
            plain,
            {"name": "b", "bom-ref": "", "version": "", "group": "", "purl": "", "type": ""},
            {"name": "c", "bom-ref": "c", "scope": "", "supplier": {"name": ""}},
            {"name": "d", "bom-ref": "d", "supplier": {}, "hashes": []},
            {
                "name": "e",
                "licenses": [
                    {"license": {"name": "Custom"}},
                    {"license": {"id": "MIT", "name": ""}},
                    {"expression": "MIT OR Apache-2.0"},
                ],
                "hashes": [{"alg": "SHA-256", "content": "ab"}],
            },
        ],
        "dependencies": [{"ref": "root", "dependsOn": ["c"]}],
    }
    matches = [
        {"vulnerability": {"id": "CVE-1", "severity": ""}, "artifact": {"name": "a"}},
        {
            "vulnerability": {"id": "CVE-2", "cvss": [{"metrics": {"baseScore": 7}}]},
            "artifact": {"name": "a", "version": "", "purl": ""},
        },
        {
            "vulnerability": {
                "id": "GHSA-3",
                "severity": "bogus",
                "fix": {"state": "fixed", "versions": ["2", ""]},
                "urls": ["u", "u", ""],
            },
            "relatedVulnerabilities": [
                {"id": "CVE-3", "description": "", "cvss": [{"metrics": {"baseScore": "9.1"}}]},
                {"id": "GHSA-3", "description": "second", "urls": ["v"]},
            ],
            "artifact": {"name": "b", "licenses": ["MIT", {"value": "", "spdxExpression": ""}]},
        },
    ]
    report = {"descriptor": {"name": "grype"}, "matches": matches}
    (tmp_path / "edges.cdx.json").write_text(json.dumps(sbom))
    (tmp_path / "edges.grype.json").write_text(json.dumps(report))
    return [str(tmp_path / "edges.cdx.json"), str(tmp_path / "edges.grype.json")]


def _cases(tmp_path: Path) -> list[list[str]]:
    cases = [[str(p) for p in sorted((EXAMPLES / "evidence").iterdir())]]
    edges = _edges(tmp_path)
    cases += [edges, edges[1:]]  # the scan alone: its components are the inventory
    cases.append(_synthetic("S", tmp_path / "S"))
    cases.append(_synthetic("M", tmp_path / "M"))
    return cases


def test_fast_paths_give_the_validated_gate_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for paths in _cases(tmp_path):
        fast = _input_json(paths)
        assert fast == _validated_json(paths, monkeypatch), paths
        _assert_same_as_validated(paths)
    # The synthetic releases take the fast paths (the comparison above means something).
    assert json.loads(fast)["components"][0]["hashes"]


@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_fast_paths_give_the_validated_gate_input_on_the_corpus(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        fast = _input_json([str(path)])
    except InputError as error:  # not evidence the readers accept: the same error either way
        with pytest.raises(InputError) as again:
            _validated_json([str(path)], monkeypatch)
        assert again.value.one_line() == error.one_line()
        return
    assert fast == _validated_json([str(path)], monkeypatch)
    _assert_same_as_validated([str(path)])


def test_checked_builder_validates_what_is_not_in_field_order() -> None:
    build = checked_builder(Hash)
    assert build({"value": "ab", "alg": "SHA-256"}) == Hash(alg="SHA-256", value="ab")
    assert tuple(build({"value": "ab", "alg": "SHA-256"}).__dict__) == ("alg", "value")
    with pytest.raises(ValidationError):
        build({"alg": "SHA-256"})  # a missing field is validated, and refused
    with pytest.raises(ValidationError):
        build({"value": 1, "alg": "SHA-256"})


def test_checked_models_copy_with_updates_like_validated_ones() -> None:
    build = checked_builder(Hash)
    first, second = build({"alg": "SHA-256", "value": "ab"}), build({"alg": "MD5", "value": "cd"})
    changed = first.model_copy(update={"value": "ef"})
    assert (changed.alg, changed.value, first.value, second.value) == ("SHA-256", "ef", "ab", "cd")
    assert first.model_fields_set == second.model_fields_set == {"alg", "value"}
    assert hash(first) == hash(Hash(alg="SHA-256", value="ab"))
