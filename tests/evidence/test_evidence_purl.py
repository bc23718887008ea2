"""Package URLs compare with the purl spec's per-type normalisation (packageurl-python)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatekeeper.evidence import load_evidence
from gatekeeper.evidence.purl import purl_identity, purl_matches
from gatekeeper.model import VexState


@pytest.mark.parametrize(
    ("product", "purl", "matches"),
    [
        ("pkg:pypi/Django_Rest", "pkg:pypi/django-rest@3.0", True),
        ("pkg:pypi/django-rest@3.0", "pkg:PYPI/Django_Rest@3.0?extension=whl", True),
        ("pkg:github/Owner/Repo", "pkg:github/owner/repo@v1", True),
        # golang names are case-sensitive: a different module.
        (
            "pkg:golang/github.com/Sirupsen/logrus",
            "pkg:golang/github.com/sirupsen/logrus@v1.9.0",
            False,
        ),
        (
            "pkg:golang/github.com/sirupsen/logrus",
            "pkg:golang/github.com/sirupsen/logrus@v1.9.0",
            True,
        ),
        ("pkg:pypi/django-rest@3.1", "pkg:pypi/django-rest@3.0", False),
    ],
)
def test_purl_matching_normalizes_per_type(product: str, purl: str, matches: bool) -> None:
    assert purl_matches(product, purl) is matches


def test_identity_ignores_qualifiers_and_subpath() -> None:
    assert purl_identity("pkg:pypi/Django_Rest@1.0?x=y#sub") == "pkg:pypi/django-rest@1.0"
    assert purl_identity("not a purl@1") == "not a purl@1"


def _grype(tmp_path: Path, purl: str) -> str:
    path = tmp_path / "grype.json"
    path.write_text(
        json.dumps(
            {
                "descriptor": {"name": "grype"},
                "matches": [
                    {
                        "vulnerability": {"id": "CVE-2026-7", "severity": "High"},
                        "artifact": {"name": "Django_Rest", "version": "3.0", "purl": purl},
                    }
                ],
            }
        )
    )
    return str(path)


def _trivy(tmp_path: Path, purl: str) -> str:
    path = tmp_path / "trivy.json"
    path.write_text(
        json.dumps(
            {
                "SchemaVersion": 2,
                "Results": [
                    {
                        "Vulnerabilities": [
                            {
                                "VulnerabilityID": "CVE-2026-7",
                                "PkgName": "django-rest",
                                "InstalledVersion": "3.0",
                                "PkgIdentifier": {"PURL": purl},
                                "Severity": "HIGH",
                            }
                        ]
                    }
                ],
            }
        )
    )
    return str(path)


def test_one_vulnerability_from_two_scanners_spelling_the_purl_differently(tmp_path: Path) -> None:
    merged = load_evidence(
        [_grype(tmp_path, "pkg:pypi/Django_Rest@3.0"), _trivy(tmp_path, "pkg:pypi/django-rest@3.0")]
    )
    assert len(merged.vulnerabilities) == 1
    assert set(merged.vulnerabilities[0].scanners) == {"grype", "trivy"}


def test_golang_modules_differing_in_case_stay_apart(tmp_path: Path) -> None:
    merged = load_evidence(
        [
            _grype(tmp_path, "pkg:golang/github.com/Sirupsen/logrus@3.0"),
            _trivy(tmp_path, "pkg:golang/github.com/sirupsen/logrus@3.0"),
        ]
    )
    assert len(merged.vulnerabilities) == 2


def test_openvex_product_matches_a_differently_spelled_purl(tmp_path: Path) -> None:
    vex = tmp_path / "vex.openvex.json"
    vex.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.com/vex/1",
                "author": "security@example.com",
                "timestamp": "2026-11-01T00:00:00Z",
                "version": 1,
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2026-7"},
                        "products": [{"@id": "pkg:pypi/django-rest"}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path",
                    }
                ],
            }
        )
    )
    merged = load_evidence([_grype(tmp_path, "pkg:pypi/Django_Rest@3.0"), str(vex)])
    assert merged.vulnerabilities[0].state is VexState.NOT_AFFECTED
