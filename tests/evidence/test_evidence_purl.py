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


# The fast path of the common spelling must give exactly what packageurl gives, and decline
# (leave the purl to packageurl) whenever it could differ.
_PURLS = [
    "pkg:npm/left-pad@1.3.0",
    "pkg:npm/left-pad",
    "pkg:npm/@angular/core@12.0.0",
    "pkg:npm/%40angular/core@12.0.0",
    "pkg:NPM/Left-Pad@1.3.0",
    "pkg:npm/Left-Pad@1.3.0",
    "pkg:maven/org.apache.commons/commons-lang3@3.12.0",
    "pkg:maven/org.Apache/Commons@3.12.0",
    "pkg:golang/github.com/sirupsen/logrus@v1.9.0",
    "pkg:golang/github.com/Sirupsen/logrus@v1.9.0",
    "pkg:pypi/django-rest@3.0",
    "pkg:pypi/django_rest@3.0",
    "pkg:pypi/Django_Rest@3.0",
    "pkg:pypi/zope.interface@5.4.0",
    "pkg:hackage/a_b@1",
    "pkg:pub/flutter.dev@1.0",
    "pkg:pub/flutter_dev@1.0",
    "pkg:cpan/libwww/perl@6.0",
    "pkg:oci/debian@sha256-ABC",
    "pkg:huggingface/model@ABCDEF",
    "pkg:mlflow/model@1",
    "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie",
    "pkg:deb/debian/curl@1:7.50.3-1",
    "pkg:rpm/fedora/curl@7.50.3-1.fc25~beta",
    "pkg:gem/rails@7.0.0#lib",
    "pkg:npm/a@1.0%2B2",
    "pkg:npm/a@1.0+2",
    "pkg:npm/a@@1",
    "pkg:npm/a@",
    "pkg:npm//a@1",
    "pkg:npm/a/@1",
    "pkg:npm/./a@1",
    "pkg:npm/a/../b@1",
    "pkg://npm/a@1",
    "pkg:/npm/a@1",
    "pkg:npm/a@1\n",
    " pkg:npm/a@1 ",
    "pkg:npm/a b@1",
    "pkg:npm/ä@1",
    "pkg:npm/a@1.0-ÄÖ",
    "pkg:npm/a:b@1",
    "pkg:1npm/a@1",
    "pkg:unknowntype/a@1",
    "pkg:generic/a/b/c/d@1_2",
    "pkg:github/owner/repo@v1",
    "PKG:npm/a@1",
    "pkg:npm",
    "pkg:npm/",
    "not a purl@1",
    "pkg:docker/library/nginx@1.21.0-alpine",
    "pkg:cargo/serde_json@1.0.0",
]


def _fuzzed_purls(count: int) -> list[str]:
    import random

    rng = random.Random(12)  # noqa: S311 - reproducible test data
    hostile = "abcxyz019._-/@%?#:+~ AZ_ä\n"
    plain = "ab9._-/@~A_"  # mostly well-formed: exercises what the fast path accepts
    types = ["npm", "pypi", "maven", "golang", "pub", "oci", "cpan", "generic", "hackage", "Npm"]
    purls = []
    for _ in range(count):
        alphabet = hostile if rng.random() < 0.5 else plain
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
        purls.append(f"pkg:{rng.choice(types)}/{body}")
    return purls


@pytest.mark.parametrize("purl", [*_PURLS, *_fuzzed_purls(3000)])
def test_fast_purl_path_agrees_with_packageurl(purl: str) -> None:
    from gatekeeper.evidence import purl as module

    fast = module._fast_canonical(purl.strip())
    if fast is not None:
        assert fast == module._packageurl_canonical(purl.strip())


def test_fast_purl_path_takes_the_common_spellings() -> None:
    from gatekeeper.evidence import purl as module

    assert module._fast_canonical("pkg:npm/left-pad@1.3.0") == ("pkg:npm/left-pad", "1.3.0")
    assert module._fast_canonical("pkg:maven/org.apache/commons@3") == (
        "pkg:maven/org.apache/commons",
        "3",
    )
    assert module._fast_canonical("pkg:pypi/django-rest") == ("pkg:pypi/django-rest", None)
    # Declined: packageurl rewrites these.
    assert module._fast_canonical("pkg:pypi/django_rest@1") is None
    assert module._fast_canonical("pkg:npm/Left-Pad@1") is None
    assert module._fast_canonical("pkg:npm/a@1?x=y") is None
