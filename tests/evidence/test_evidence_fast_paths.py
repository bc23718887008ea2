"""The CycloneDX reader's inline fast path must agree with its checked (Shape) path exactly.

Components whose fields are plain strings are read inline; anything else goes through Shape.
Reading the same SBOMs with the fast path switched off must give identical components, and
the unusual spellings the checked path accepts must still be accepted (or refused) as before.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.errors import InputError
from gatekeeper.evidence import gc_paused, load_evidence
from gatekeeper.evidence.readers import cyclonedx
from tests.evidence.evidence_corpus import corpus_file, fixture

SBOMS = [
    "cyclonedx-1.4/juice-shop.npm.bare.bom.1.4.json",
    "cyclonedx-1.6/spec-valid-bom-1.6.json",
    "cyclonedx-1.2/keycloak-10.0.2.bom.xml",
]


def _checked_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cyclonedx, "_plain_component", lambda *args: None)


@pytest.mark.parametrize("relative", SBOMS)
def test_fast_and_checked_paths_read_corpus_sboms_identically(
    relative: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = corpus_file(relative)
    fast = load_evidence([path]).components
    _checked_only(monkeypatch)
    checked = load_evidence([path]).components
    assert len(fast) > 0
    assert fast == checked


def test_fast_and_checked_paths_agree_on_the_xml_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    path = fixture("cyclonedx-1.5-small.xml")
    fast = load_evidence([path]).components
    _checked_only(monkeypatch)
    assert load_evidence([path]).components == fast


UNUSUAL: list[dict[str, Any]] = [
    # plain, for reference
    {"name": "a", "version": "1", "bom-ref": "r1", "licenses": [{"license": {"id": "MIT"}}]},
    # a version written as a number: accepted as text by the checked path
    {"name": "b", "version": 1.5},
    # empty strings read as absent
    {"name": "c", "version": "", "purl": "", "group": "", "bom-ref": "", "type": ""},
    # an empty expression falls back to the license object
    {"name": "d", "licenses": [{"expression": "", "license": {"name": "Custom"}}]},
    # a supplier without a name, explicit nulls
    {"name": "e", "supplier": {}, "scope": None, "hashes": None, "licenses": None},
    # a license repeated across components (shared instance) and an expression
    {"name": "f", "licenses": [{"license": {"id": "MIT"}}, {"expression": "MIT OR Apache-2.0"}]},
    {"name": "g", "hashes": [{"alg": "SHA-256", "content": "ab"}], "supplier": {"name": "ACME"}},
]


def _write_sbom(tmp_path: Path, components: list[dict[str, Any]]) -> str:
    path = tmp_path / "sbom.cdx.json"
    path.write_text(
        json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": components}),
        encoding="utf-8",
    )
    return str(path)


def test_unusual_but_valid_spellings_read_the_same_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_sbom(tmp_path, UNUSUAL)
    fast = load_evidence([path]).components
    assert [c.version for c in fast[:3]] == ["1", "1.5", None]
    assert fast[2].purl is None and fast[2].type == "library" and fast[2].ref is None
    assert fast[3].licenses[0].name == "Custom"
    assert fast[4].supplier is None and fast[6].supplier == "ACME"
    assert fast[5].licenses[1].expression == "MIT OR Apache-2.0"
    _checked_only(monkeypatch)
    assert load_evidence([path]).components == fast


@pytest.mark.parametrize(
    ("component", "where", "problem"),
    [
        ({"name": ""}, "/components/0/name", "required string"),
        ({"name": 7}, "/components/0/name", "expected a string, found number"),
        ({"name": "x", "purl": 3}, "/components/0/purl", "expected a string"),
        ({"name": "x", "licenses": [{}]}, "/components/0/licenses/0", "neither"),
        (
            {"name": "x", "licenses": [{"license": {}}]},
            "/components/0/licenses/0/license",
            "neither",
        ),
        ({"name": "x", "hashes": [{"alg": "MD5"}]}, "/components/0/hashes/0/content", "required"),
        ({"name": "x", "supplier": "ACME"}, "/components/0/supplier", "expected an object"),
        ({"name": "x", "licenses": {"id": "MIT"}}, "/components/0/licenses", "expected an array"),
    ],
)
def test_wrong_shapes_are_still_refused_with_their_pointer(
    tmp_path: Path, component: dict[str, Any], where: str, problem: str
) -> None:
    path = _write_sbom(tmp_path, [component])
    with pytest.raises(InputError) as caught:
        load_evidence([path])
    assert f"{path}:{where}: " in str(caught.value)
    assert problem in str(caught.value)


def test_gc_paused_restores_the_collector_and_nests() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # only the outermost block re-enables
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
