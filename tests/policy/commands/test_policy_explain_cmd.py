"""`gatekeeper policy list` and `explain`: what each policy checks, its controls and settings."""

from __future__ import annotations

from tests.conftest import run_cli
from tests.policy.commands.helpers import FIXTURES, LIBRARY


def test_list_shows_every_library_policy() -> None:
    result = run_cli("policy", "list", str(LIBRARY), "--format", "json")
    assert result.code == 0, result.stderr
    policies = {p["id"]: p for p in result.json()}
    assert {"GK-VULN-001", "GK-LIC-001", "GK-SBOM-001", "GK-SAST-001"} <= set(policies)
    assert policies["GK-VULN-001"]["severity"] == "high"

    text = run_cli("policy", "list", str(LIBRARY))
    assert text.code == 0
    assert text.stdout.splitlines()[0].split() == ["ID", "SEVERITY", "CONTROLS", "TITLE"]
    assert any(line.startswith("GK-VULN-001 ") for line in text.stdout.splitlines())


def test_explain_library_policy_settings_and_controls() -> None:
    result = run_cli("policy", "explain", "GK-VULN-001", str(LIBRARY), "--format", "json")
    assert result.code == 0, result.stderr
    doc = result.json()
    settings = {s["key"]: s["default"] for s in doc["settings"]}
    assert settings["vulnerabilities.fail_severity"] == '"high"'
    assert settings["vulnerabilities.fail_only_fixable"] == "false"
    controls = {c["id"]: c for c in doc["controls"]}
    assert controls["PW.4.4"]["title"] and "800-218" in controls["PW.4.4"]["framework"]
    assert doc["remediation"].startswith("Upgrade the component")


def test_explain_text_reads_for_a_developer() -> None:
    result = run_cli("policy", "explain", "GK-LIC-001", str(LIBRARY))
    assert result.code == 0, result.stderr
    out = result.stdout
    assert out.startswith("GK-LIC-001: No components under a denied license")
    assert "settings.licenses.deny (default: [" in out and '"AGPL-3.0-only"' in out
    assert "CC8.1: " in out and "Remediation:" in out


def test_settings_from_scan_and_from_metadata() -> None:
    result = run_cli(
        "policy", "explain", "FIX-SET-001", str(FIXTURES / "settings"), "--format", "json"
    )
    assert result.code == 0, result.stderr
    settings = {s["key"]: s for s in result.json()["settings"]}
    # A default given by name is shown as the value it names, on one line.
    assert settings["tuned.allowed"]["default"] == '["a", "b"]'
    assert settings["tuned.max_wrong"]["default"] == "2"
    assert settings["tuned.max_wrong"]["description"] == "how many wrong things are tolerated"
    # Declared only in METADATA custom.settings: listed, with no default found.
    assert settings["tuned.reviewers"]["default"] is None


def test_explain_markdown() -> None:
    result = run_cli(
        "policy", "explain", "FIX-SET-001", str(FIXTURES / "settings"), "--format", "markdown"
    )
    assert result.code == 0
    assert result.stdout.startswith("## FIX-SET-001: Tuned through settings")
    assert "| `settings.tuned.max_wrong` | `2` | how many wrong things are tolerated |" in (
        result.stdout
    )
    assert "- SLSA-BUILD-L2: " in result.stdout


def test_unknown_id_exits_2_with_closest_ids() -> None:
    result = run_cli("policy", "explain", "GK-VULN-01", str(LIBRARY))
    assert result.code == 2
    assert "unknown policy id 'GK-VULN-01'" in result.stderr
    suggestion = result.stderr.split("did you mean", 1)[1]
    assert "GK-VULN-001" in suggestion


def test_explain_is_case_insensitive_and_accepts_the_package() -> None:
    by_case = run_cli("policy", "explain", "gk-vuln-001", str(LIBRARY))
    by_package = run_cli("policy", "explain", "gatekeeper.vulnerabilities.severity", str(LIBRARY))
    assert by_case.code == 0 and by_package.code == 0
    assert by_case.stdout == by_package.stdout
