"""--validate on a large generated SBOM, and offline schema resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatekeeper.errors import InputError
from gatekeeper.evidence import load_evidence
from gatekeeper.evidence.validate import CYCLONEDX_VERSIONS, cyclonedx_validator


def _sbom(count: int, spec: str = "1.6") -> dict[str, object]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": spec,
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {"component": {"type": "application", "name": "app", "bom-ref": "app"}},
        "components": [
            {
                "type": "library",
                "bom-ref": f"pkg:npm/pkg-{i}@1.0.{i}",
                "name": f"pkg-{i}",
                "version": f"1.0.{i}",
                "purl": f"pkg:npm/pkg-{i}@1.0.{i}",
                "licenses": [{"license": {"id": "MIT"}}],
                "hashes": [{"alg": "SHA-256", "content": f"{i:064x}"}],
            }
            for i in range(count)
        ],
        "dependencies": [
            {"ref": "app", "dependsOn": [f"pkg:npm/pkg-{i}@1.0.{i}" for i in range(10)]}
        ],
    }


def test_five_thousand_components_validate(tmp_path: Path) -> None:
    path = tmp_path / "big.cdx.json"
    path.write_text(json.dumps(_sbom(5000)), encoding="utf-8")
    merged = load_evidence([str(path)], validate=True)
    assert len(merged.components) == 5000
    assert sum(1 for c in merged.components if c.direct) == 10


def test_errors_are_counted_and_the_first_is_located(tmp_path: Path) -> None:
    sbom = _sbom(50)
    components = sbom["components"]
    assert isinstance(components, list)
    for index in (7, 20, 31):
        components[index]["type"] = "gadget"
    path = tmp_path / "bad.cdx.json"
    path.write_text(json.dumps(sbom), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_evidence([str(path)], validate=True)
    text = str(caught.value)
    assert "bad.cdx.json:/components/7/type" in text
    assert "3 errors" in text


def test_unknown_spec_version_cannot_be_validated(tmp_path: Path) -> None:
    path = tmp_path / "old.cdx.json"
    path.write_text(json.dumps(_sbom(1, spec="1.1")), encoding="utf-8")
    load_evidence([str(path)])
    with pytest.raises(InputError, match="specVersion"):
        load_evidence([str(path)], validate=True)


@pytest.mark.parametrize("version", CYCLONEDX_VERSIONS)
def test_every_shipped_schema_compiles_offline_and_resolves_its_refs(version: str) -> None:
    validator = cyclonedx_validator(version)
    # A license id exercises the $ref into spdx.schema.json.
    good = {
        "bomFormat": "CycloneDX",
        "specVersion": version,
        "version": 1,
        "components": [
            {
                "type": "library",
                "name": "a",
                "version": "1",
                "licenses": [{"license": {"id": "MIT"}}],
            }
        ],
    }
    bad = json.loads(json.dumps(good))
    bad["components"][0]["licenses"][0]["license"]["id"] = "NOT-A-LICENSE"
    assert validator.is_valid(good)
    assert not validator.is_valid(bad)
