"""The Grype reader's inline fast path must agree with its checked (Shape) path exactly.

Matches whose fields are plain are read inline; anything else goes through Shape. Reading the
same reports with the fast path switched off must give identical vulnerabilities and
components, and what the checked path refuses must still be refused with the same message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.errors import InputError
from gatekeeper.evidence import load_evidence
from gatekeeper.evidence.readers import grype
from tests.conftest import CORPUS, EXAMPLES
from tests.evidence.evidence_corpus import fixture
from tests.evidence.test_evidence_checked import _synthetic


def _read(path: str) -> tuple[Any, ...]:
    evidence = load_evidence([path])
    return evidence.vulnerabilities, evidence.components


def _both(path: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = _read(path)
    with monkeypatch.context() as patch:
        patch.setattr(grype, "_plain_match", lambda *args: None)
        checked = _read(path)
    return fast, checked


def _reports(tmp_path: Path) -> list[str]:
    paths = [fixture("grype-jackson.json"), str(EXAMPLES / "evidence" / "grype.json")]
    paths += [p for p in _synthetic("S", tmp_path / "S") if p.endswith("grype.json")]
    if CORPUS.is_dir():
        paths += [str(p) for p in sorted(CORPUS.rglob("grype*.json")) if "openvex" not in p.name]
    return paths


def test_fast_and_checked_paths_read_real_reports_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in _reports(tmp_path):
        fast, checked = _both(path, monkeypatch)
        assert fast[0], path
        assert fast == checked, path
        assert [v.model_dump_json() for v in fast[0]] == [v.model_dump_json() for v in checked[0]]


def _match(vulnerability: dict[str, Any], artifact: Any = None, **more: Any) -> dict[str, Any]:
    return {"vulnerability": vulnerability, "artifact": artifact or {"name": "a"}, **more}


UNUSUAL: list[dict[str, Any]] = [
    _match({"id": "CVE-1", "severity": "High"}, {"name": "a", "version": "1", "purl": "pkg:x/a@1"}),
    _match({"id": "CVE-2", "severity": ""}, {"name": "a", "version": "", "purl": ""}),
    _match({"id": "CVE-3"}, {"name": "a", "version": 2}),  # a number: text on the checked path
    _match({"id": "CVE-4", "cvss": [{"metrics": {"baseScore": "7.5"}}]}),  # a quoted score
    _match({"id": "CVE-5", "cvss": [{"metrics": {"baseScore": 4}}, {"metrics": {}}]}),
    _match({"id": "CVE-6", "cvss": [{"vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}),
    _match({"id": "CVE-7", "cvss": [{"metrics": None, "vector": ""}]}),
    _match(
        {"id": "GHSA-8", "severity": "bogus", "description": "", "urls": ["u", "", "u"]},
        relatedVulnerabilities=[
            {"id": "CVE-8", "description": "", "cvss": [{"metrics": {"baseScore": 9.1}}]},
            {"id": "GHSA-8", "description": "second", "urls": ["v"]},
            {"id": "CVE-8", "cvss": [{"metrics": {"baseScore": 9.9}}]},
        ],
    ),
    _match(
        {"id": "CVE-9", "cvss": [{"metrics": {"baseScore": 5.0}}]},
        relatedVulnerabilities=[{"id": "CVE-9b", "cvss": "not an array"}],  # never read
    ),
    _match({"id": "CVE-10", "fix": {"state": "fixed", "versions": ["2", ""]}}),
    _match({"id": "CVE-11", "fix": {}}, {"name": "b", "licenses": ["MIT"]}),
    _match({"id": "CVE-12"}, relatedVulnerabilities=None),
    _match(  # its own score wins over the related ones'; an empty description is none
        {"id": "CVE-13", "description": "", "cvss": [{"metrics": {"baseScore": 5.0}}]},
        relatedVulnerabilities=[
            {"id": "GHSA-13", "description": "x", "cvss": [{"metrics": {"baseScore": 9.0}}]}
        ],
    ),
    _match(
        {"id": "CVE-14", "cvss": [{"metrics": {"baseScore": 9.0}}, {"metrics": {"baseScore": 3}}]}
    ),
]

REFUSED: list[dict[str, Any]] = [
    _match({"id": ""}),
    _match({"id": "CVE-1", "severity": 3}),
    _match({"id": "CVE-1", "cvss": [{"metrics": {"baseScore": True}}]}),
    _match({"id": "CVE-1", "urls": ["u", 1]}),
    _match({"id": "CVE-1", "fix": {"state": 1}}),
    _match({"id": "CVE-1", "fix": {"versions": "1.0"}}),
    _match({"id": "CVE-1"}, relatedVulnerabilities=[{"id": None}]),
    _match({"id": "CVE-1"}, relatedVulnerabilities=[{"id": "CVE-2", "urls": [None]}]),
    _match({"id": "CVE-1"}, {"name": "a", "purl": 5}),
    {"vulnerability": {"id": "CVE-1"}, "artifact": "a"},
]


def _report(tmp_path: Path, matches: list[dict[str, Any]]) -> str:
    path = tmp_path / "grype.json"
    path.write_text(json.dumps({"descriptor": {"name": "grype"}, "matches": matches}))
    return str(path)


def test_unusual_but_valid_matches_read_the_same_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, checked = _both(_report(tmp_path, UNUSUAL), monkeypatch)
    assert len(fast[0]) == len(UNUSUAL)
    assert fast == checked
    assert [v.model_dump_json() for v in fast[0]] == [v.model_dump_json() for v in checked[0]]


@pytest.mark.parametrize("match", REFUSED, ids=range(len(REFUSED)))
def test_what_the_checked_path_refuses_is_still_refused(
    match: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _report(tmp_path, [UNUSUAL[0], match])
    with pytest.raises(InputError) as fast:
        load_evidence([path])
    with monkeypatch.context() as patch:
        patch.setattr(grype, "_plain_match", lambda *args: None)
        with pytest.raises(InputError) as checked:
            load_evidence([path])
    assert fast.value.one_line() == checked.value.one_line()
    assert "/matches/1" in fast.value.one_line()
