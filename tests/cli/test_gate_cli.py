"""`gatekeeper gate run` end to end, as a CI step would run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, CliResult, run_cli

EVIDENCE = [
    str(EXAMPLES / "evidence" / name)
    for name in ("sbom.cdx.json", "grype.json", "trivy.json", "vex.openvex.json", "semgrep.json")
]
RELEASE = str(EXAMPLES / "release.yaml")


def gate(*args: str, cwd: Path | None = None) -> CliResult:
    return run_cli("gate", "run", *args, cwd=cwd)


def assert_clean_error(result: CliResult, code: int, *needles: str) -> None:
    """Fail closed: the documented exit code, one line naming the problem, no traceback."""
    assert result.code == code, (result.code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("gatekeeper: error:"), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope="module")
def example_decision() -> dict:  # type: ignore[type-arg]
    result = gate("--release", RELEASE, "--format", "json", *EVIDENCE)
    assert result.code == 1, result.stderr
    return result.json()  # type: ignore[no-any-return]


def test_example_release_fails_for_the_right_reasons(example_decision: dict) -> None:  # type: ignore[type-arg]
    decision = example_decision
    assert decision["schema"] == "gatekeeper.decision/v1"
    assert decision["outcome"] == "fail"
    found = {(v["policy"], v["subject"]) for v in decision["violations"]}
    # The requests CVE is reported by grype and trivy: one violation, not two.
    assert ("GK-VULN-001", "pkg:pypi/requests@2.19.1") in found
    assert sum(1 for p, _ in found if p == "GK-VULN-001") == 1
    assert ("GK-SAST-001", "src/payments_api/reports.py:42") in found
    assert ("GK-LIC-001", "pkg:pypi/pdfgen@0.9.2") in found
    assert ("GK-SBOM-003", "vendored-helper") in found
    subjects = " ".join(s or "" for _, s in found)
    assert "jinja2" not in subjects  # VEX says not_affected
    assert "dual-licensed-lib" not in subjects  # MIT OR GPL: MIT can be chosen
    assert "legacy/export.py" not in subjects  # ignored by semgrep (nosemgrep)


def test_decision_carries_audit_fields(example_decision: dict) -> None:  # type: ignore[type-arg]
    decision = example_decision
    assert decision["release"]["service"] == "payments-api"
    assert {Path(i["path"]).name for i in decision["inputs"]} == {Path(e).name for e in EVIDENCE}
    assert all(i["sha256"] for i in decision["inputs"])
    assert decision["input_digest"].startswith("sha256:")
    assert decision["policy_bundle"]["digest"].startswith("sha256:")
    assert decision["engine"]["name"] == "regorus"
    passed = [r for r in decision["rules"] if r["violations"] == 0]
    assert any(r["policy"] == "GK-SBOM-001" for r in passed), "passing rules are recorded"
    vuln = next(v for v in decision["violations"] if v["policy"] == "GK-VULN-001")
    assert "upgrade to 2.20.0" in vuln["message"]
    assert vuln["remediation"] and vuln["controls"]


def test_waiver_moves_violation_to_waived(tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n"
        "  - id: W-1\n"
        "    policy: GK-LIC-001\n"
        "    subject: pkg:pypi/pdfgen\n"
        "    reason: legal approved\n"
        "    approved_by: maria\n"
        "    expires: 2999-01-01\n".replace("2999-01-01", _in_days(30))
    )
    result = gate("--release", RELEASE, "--waivers", str(waivers), "--format", "json", *EVIDENCE)
    decision = result.json()
    assert result.code == 1  # the vulnerability and the SAST finding still fail it
    assert [w["waiver"]["id"] for w in decision["waived"]] == ["W-1"]
    assert all(v["policy"] != "GK-LIC-001" for v in decision["violations"])


def _in_days(days: int) -> str:
    import datetime as dt

    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


def test_several_outputs_in_one_run(tmp_path: Path) -> None:
    result = gate(
        "--release",
        RELEASE,
        "-o",
        f"sarif={tmp_path / 'g.sarif'}",
        "-o",
        f"junit={tmp_path / 'g.xml'}",
        "-o",
        f"markdown={tmp_path / 'g.md'}",
        "-o",
        f"json={tmp_path / 'g.json'}",
        *EVIDENCE,
    )
    assert result.code == 1
    assert json.loads((tmp_path / "g.sarif").read_text())["version"] == "2.1.0"
    assert "<testsuite" in (tmp_path / "g.xml").read_text()
    assert "GK-VULN-001" in (tmp_path / "g.md").read_text()
    assert json.loads((tmp_path / "g.json").read_text())["outcome"] == "fail"
    assert "\x1b[" not in result.stdout  # not a terminal: no colour


def test_both_engines_decide_the_example_identically() -> None:
    def key(engine: str) -> list[tuple[str, str, str, str]]:
        result = gate("--engine", engine, "--release", RELEASE, "--format", "json", *EVIDENCE)
        assert result.code == 1, result.stderr
        return sorted(
            (v["policy"], v["rule"], v["subject"] or "", v["message"])
            for v in result.json()["violations"]
        )

    assert key("regorus") == key("regopy")


# --- policies of our own for behaviour the built-in library does not exercise ---------------

WARN_ONLY = """package team.style

warn contains msg if {
\tsome c in input.components
\tc.version == null
\tmsg := sprintf("%s has no version", [c.name])
}
"""


def write_policy(directory: Path, source: str, name: str = "policy.rego") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(source)
    return directory


def sbom_with_unversioned(tmp_path: Path) -> str:
    sbom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "components": [{"type": "library", "name": "loose"}],
    }
    path = tmp_path / "sbom.json"
    path.write_text(json.dumps(sbom))
    return str(path)


def test_warnings_pass_unless_fail_on_warn(tmp_path: Path) -> None:
    policy = write_policy(tmp_path / "p", WARN_ONLY)
    sbom = sbom_with_unversioned(tmp_path)
    plain = gate("-p", str(policy), "--format", "json", sbom)
    assert plain.code == 0
    assert plain.json()["outcome"] == "warn"
    strict = gate("-p", str(policy), "--fail-on", "warn", "--format", "json", sbom)
    assert strict.code == 1
    assert strict.json()["outcome"] == "fail"


# --- fail closed ----------------------------------------------------------------------------


def test_missing_evidence_file_is_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert_clean_error(gate(str(missing)), 2, "nope.json")


def test_truncated_evidence_is_exit_2(tmp_path: Path) -> None:
    truncated = tmp_path / "sbom.json"
    truncated.write_text(Path(EVIDENCE[0]).read_text()[:500])
    assert_clean_error(gate(str(truncated)), 2, "sbom.json")


def test_policy_compile_error_is_exit_3_with_file_and_line(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path / "p", "package broken\n\ndeny contains msg if {\n\tmsg := \n}\n"
    )
    assert_clean_error(gate("-p", str(policy), EVIDENCE[0]), 3, "policy.rego")


def test_empty_policy_directory_is_exit_3(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert_clean_error(gate("-p", str(tmp_path / "empty"), EVIDENCE[0]), 3)


def test_unknown_namespace_is_exit_3(tmp_path: Path) -> None:
    policy = write_policy(tmp_path / "p", WARN_ONLY)
    assert_clean_error(
        gate("-p", str(policy), "-n", "team.nothing", EVIDENCE[0]), 3, "team.nothing"
    )


def test_engine_panic_is_exit_3_never_a_pass(tmp_path: Path) -> None:
    # regorus panics inside Rust on strings.count(x, ""): the gate must not pass.
    policy = write_policy(
        tmp_path / "p",
        "package boom\n\n"
        'deny contains "x" if {\n\tstrings.count(input.release.service, "") > 100\n}\n',
    )
    release = tmp_path / "release.yaml"
    release.write_text("service: svc\n")
    result = gate("-p", str(policy), "--release", str(release), EVIDENCE[0])
    assert_clean_error(result, 3)


def test_malformed_waivers_file_is_exit_2(tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - id: W-1\n    policy: X\n")
    assert_clean_error(gate("--waivers", str(waivers), *EVIDENCE), 2, "waivers.yaml")


def test_unknown_config_key_suggests_the_right_one(tmp_path: Path) -> None:
    (tmp_path / "gatekeeper.yaml").write_text("engin: regopy\n")
    result = gate(*EVIDENCE, cwd=tmp_path)
    assert_clean_error(result, 2, "engin", "engine")


def test_no_evidence_is_usage_error() -> None:
    assert_clean_error(gate(), 2)


# --- evidence inspect ----------------------------------------------------------------------


def test_evidence_inspect_prints_the_gate_input_document() -> None:
    result = run_cli("evidence", "inspect", "--release", RELEASE, *EVIDENCE)
    assert result.code == 0, result.stderr
    document = result.json()
    assert document["schema"] == "gatekeeper.input/v1"
    assert len(document["components"]) == 9
    assert document["sbom"]["present"] is True
    jinja = next(
        v for v in document["vulnerabilities"] if "CVE-2024-34064" in [v["id"], *v["aliases"]]
    )
    assert jinja["state"] == "not_affected"
    assert jinja["vex"]["justification"] == "vulnerable_code_not_in_execute_path"
    requests = [v for v in document["vulnerabilities"] if v["purl"] == "pkg:pypi/requests@2.19.1"]
    assert len(requests) == 1 and set(requests[0]["scanners"]) == {"grype", "trivy"}
