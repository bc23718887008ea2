"""`gatekeeper policy lint`: METADATA completeness, known controls, unique ids, compile errors."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli
from tests.policy.commands.helpers import FIXTURES, LIBRARY


def test_builtin_library_is_clean_on_both_engines() -> None:
    result = run_cli("policy", "lint", str(LIBRARY))
    assert result.code == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout
    assert "regopy, regorus)" in result.stdout  # and opa first, when it is installed


def test_missing_metadata_and_missing_controls() -> None:
    result = run_cli("policy", "lint", str(FIXTURES / "lint_missing"))
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("nometa.rego:3: rule deny has no METADATA") for line in lines), (
        result.stdout
    )
    assert "nocontrols.rego:8: rule warn: METADATA has no custom.controls" in lines
    assert "2 problem(s)" in result.stdout


def test_unknown_control_is_reported_at_its_line_with_a_suggestion() -> None:
    result = run_cli("policy", "lint", str(FIXTURES / "lint_unknown_control"))
    assert result.code == 1
    assert (
        "typo.rego:8: unknown control 'PW.44' (not in the control catalogue); did you mean PW.4.4?"
    ) in result.stdout.splitlines()


def test_duplicate_id_names_both_places() -> None:
    result = run_cli("policy", "lint", str(FIXTURES / "lint_duplicate_id"), "--format", "json")
    assert result.code == 1
    problems = result.json()["problems"]
    assert [(p["file"], p["line"], p["code"]) for p in problems] == [("b.rego", 1, "duplicate-id")]
    assert "FIX-DUP-001" in problems[0]["message"] and "a.rego:1" in problems[0]["message"]


def test_compile_error_exits_3() -> None:
    result = run_cli("policy", "lint", str(FIXTURES / "broken"), "--engine", "regorus")
    assert result.code == 3
    assert "broken.rego:4:" in result.stderr


def test_rule_scoped_metadata_completes_a_package_block(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text(
        "# METADATA\n# title: Package\n# custom:\n#   id: X-1\n#   severity: low\n"
        "package p\n\n"
        "# METADATA\n# custom:\n#   controls: [CC8.1]\n"
        "deny contains 1 if input.a == 1\n\n"
        "warn contains 2 if input.b == 1\n",
        encoding="utf-8",
    )
    result = run_cli("policy", "lint", str(tmp_path), "--engine", "regorus")
    assert result.code == 1
    # deny gets its controls from its own block; warn only has the package block.
    assert result.stdout.splitlines()[0] == "p.rego:13: rule warn: METADATA has no custom.controls"


def test_own_catalogue_replaces_the_shipped_one(tmp_path: Path) -> None:
    catalogue = tmp_path / "controls.yaml"
    catalogue.write_text(
        "frameworks:\n- id: acme\n  name: ACME\n  controls:\n    PW.44: our own numbering\n",
        encoding="utf-8",
    )
    result = run_cli(
        "policy", "lint", str(FIXTURES / "lint_unknown_control"), "--controls", str(catalogue)
    )
    assert result.code == 1
    assert "unknown control 'PW.4.4'" in result.stdout
    assert "'PW.44'" not in result.stdout
