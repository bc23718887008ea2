"""Severities are normalized; what stays unknown is reported, and fails in production."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatekeeper.evidence import load_evidence
from gatekeeper.model import Severity, Vulnerability
from tests.conftest import run_cli


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CRITICAL\u200b", Severity.CRITICAL),
        ("high\x00", Severity.HIGH),
        ("\uff28\uff29\uff27\uff28", Severity.HIGH),  # full-width HIGH
        ("  Moderate ", Severity.MEDIUM),
        ("10.0", Severity.CRITICAL),
        (7.5, Severity.HIGH),
        ("0", Severity.INFO),
        ("11", Severity.UNKNOWN),
        ("", Severity.UNKNOWN),
        (None, Severity.UNKNOWN),
        (True, Severity.UNKNOWN),
        ("banana", Severity.UNKNOWN),
    ],
)
def test_severity_spellings_are_normalized(raw: object, expected: Severity) -> None:
    assert Severity.parse(raw) is expected


def test_a_score_gives_an_unknown_severity_its_band() -> None:
    vuln = Vulnerability(id="CVE-1", severity=Severity.UNKNOWN, cvss_score=9.1)
    assert vuln.severity is Severity.CRITICAL


def _grype(tmp_path: Path, severity: object, vector: str | None = None) -> Path:
    cvss = [{"vector": vector, "metrics": {}}] if vector else []
    path = tmp_path / "grype.json"
    path.write_text(
        json.dumps(
            {
                "descriptor": {"name": "grype", "version": "0.80.0"},
                "matches": [
                    {
                        "vulnerability": {"id": "CVE-2026-1", "severity": severity, "cvss": cvss},
                        "artifact": {"name": "lib", "version": "1.0", "purl": "pkg:npm/lib@1.0"},
                    }
                ],
            }
        )
    )
    return path


def test_a_cvss_v4_vector_without_score_sets_the_severity(tmp_path: Path) -> None:
    vector = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    [vuln] = load_evidence([str(_grype(tmp_path, "", vector))]).vulnerabilities
    assert (vuln.cvss_score, vuln.severity) == (9.3, Severity.CRITICAL)


def test_a_zero_width_critical_fails_the_gate(tmp_path: Path) -> None:
    result = run_cli(
        "gate", "run", "--no-ledger", "--format", "json", str(_grype(tmp_path, "CRITICAL\u200b"))
    )
    assert result.code == 1
    assert "GK-VULN-001" in {v["policy"] for v in result.json()["violations"]}


def _release(tmp_path: Path, environment: str) -> str:
    path = tmp_path / "release.yaml"
    path.write_text(f"service: s\nversion: '1'\nenvironment: {environment}\n")
    return str(path)


def test_unknown_severity_warns_in_dev_and_fails_in_production(tmp_path: Path) -> None:
    evidence = str(_grype(tmp_path, "???"))
    dev = run_cli(
        "gate", "run", "--no-ledger", "--format", "json",
        "--release", _release(tmp_path, "dev"), evidence,
    )  # fmt: skip
    warned = {(v["policy"], v["level"]) for v in dev.json()["violations"]}
    assert ("GK-VULN-004", "warn") in warned
    prod = run_cli(
        "gate", "run", "--no-ledger", "--format", "json",
        "--release", _release(tmp_path, "production"), evidence,
    )  # fmt: skip
    assert prod.code == 1
    denied = {(v["policy"], v["level"]) for v in prod.json()["violations"]}
    assert ("GK-VULN-004", "deny") in denied
