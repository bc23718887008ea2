"""Trivy misconfigurations and secrets are findings; scanner package lists stand in as
components when no SBOM is given."""

from __future__ import annotations

import json
from pathlib import Path

from gatekeeper.evidence import load_evidence
from gatekeeper.model import FindingCategory, Severity
from tests.conftest import EXAMPLES, run_cli

TRIVY = str(EXAMPLES / "releases" / "exposed-secret" / "trivy.json")


def test_misconfigurations_and_secrets_are_findings() -> None:
    merged = load_evidence([TRIVY])
    by_category = {f.category: f for f in merged.findings}
    assert len(merged.findings) == 2  # the PASS check is not a finding
    misconfig = by_category[FindingCategory.MISCONFIGURATION]
    assert (misconfig.rule_id, misconfig.severity, misconfig.path, misconfig.line) == (
        "AVD-DS-0002",
        Severity.HIGH,
        "Dockerfile",
        1,
    )
    secret = by_category[FindingCategory.SECRET]
    assert (secret.rule_id, secret.severity, secret.path, secret.line) == (
        "aws-access-key-id",
        Severity.CRITICAL,
        "app/settings.py",
        12,
    )
    assert "****" not in secret.message and "AWS_ACCESS_KEY_ID" not in secret.message


def test_trivy_packages_stand_in_as_components() -> None:
    merged = load_evidence([TRIVY])
    assert [c.purl for c in merged.components] == ["pkg:pypi/flask@3.0.3", "pkg:pypi/boto3@1.35.0"]
    assert merged.components[0].licenses[0].choices[0].ids == ("BSD-3-Clause",)


def test_trivy_vulnerable_packages_stand_in_without_a_package_list(tmp_path: Path) -> None:
    path = tmp_path / "trivy.json"
    path.write_text(
        json.dumps(
            {
                "SchemaVersion": 2,
                "Results": [
                    {
                        "Target": "requirements.txt",
                        "Vulnerabilities": [
                            {
                                "VulnerabilityID": "CVE-2023-32681",
                                "PkgName": "requests",
                                "InstalledVersion": "2.19.1",
                                "PkgIdentifier": {"PURL": "pkg:pypi/requests@2.19.1"},
                                "Severity": "MEDIUM",
                            }
                        ],
                    }
                ],
            }
        )
    )
    assert [c.purl for c in load_evidence([str(path)]).components] == ["pkg:pypi/requests@2.19.1"]


def test_exception_status_is_a_suppressed_finding(tmp_path: Path) -> None:
    path = tmp_path / "trivy.json"
    path.write_text(
        json.dumps(
            {
                "SchemaVersion": 2,
                "Results": [
                    {
                        "Target": "deploy.yaml",
                        "Misconfigurations": [
                            {"ID": "KSV001", "Severity": "HIGH", "Status": "EXCEPTION"}
                        ],
                    }
                ],
            }
        )
    )
    [finding] = load_evidence([str(path)]).findings
    assert finding.ignored and finding.rule_id == "KSV001"


def test_osv_scanner_packages_stand_in_as_components(tmp_path: Path) -> None:
    path = tmp_path / "osv.json"
    path.write_text(
        json.dumps(
            {
                "results": [
                    {
                        "source": {"path": "poetry.lock", "type": "lockfile"},
                        "packages": [
                            {
                                "package": {
                                    "name": "Jinja2",
                                    "version": "2.4.1",
                                    "ecosystem": "PyPI",
                                },
                                "vulnerabilities": [{"id": "GHSA-462w-v97r-4m45"}],
                                "groups": [{"ids": ["GHSA-462w-v97r-4m45"]}],
                            }
                        ],
                    }
                ]
            }
        )
    )
    merged = load_evidence([str(path)])
    assert [c.purl for c in merged.components] == ["pkg:pypi/jinja2@2.4.1"]
    assert len(merged.vulnerabilities) == 1


def test_gate_fails_on_the_secret_and_the_misconfiguration() -> None:
    result = run_cli("gate", "run", "--no-ledger", "--format", "json", TRIVY)
    assert result.code == 1, result.stderr
    policies = {(v["policy"], v["subject"]) for v in result.json()["violations"]}
    assert ("GK-SAST-003", "app/settings.py:12") in policies
    assert ("GK-SAST-001", "Dockerfile:1") in policies
    # One violation for the secret: GK-SAST-001 leaves it to GK-SAST-003.
    assert ("GK-SAST-001", "app/settings.py:12") not in policies
