"""Missing evidence fails the gate; a policy with nothing to judge is not assessed, never passed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gatekeeper.ledger.report import _plain_control_results
from gatekeeper.model import Outcome, RuleResult, Summary
from gatekeeper.report.registry import get_reporter
from tests.conftest import EXAMPLES, run_cli
from tests.report.report_samples import _decision

SBOM = str(EXAMPLES / "evidence" / "sbom.cdx.json")
GRYPE = str(EXAMPLES / "evidence" / "grype.json")
SEMGREP = str(EXAMPLES / "evidence" / "semgrep.json")


def release(tmp_path: Path, environment: str) -> str:
    path = tmp_path / "release.yaml"
    path.write_text(f"service: svc\nversion: 1.0.0\nenvironment: {environment}\n", "utf-8")
    return str(path)


def decision_of(*args: str, cwd: Path) -> tuple[int, dict[str, Any]]:
    result = run_cli("gate", "run", "--format", "json", "--no-ledger", *args, cwd=cwd)
    assert "Traceback" not in result.stderr
    return result.code, result.json()


def rules_of(decision: dict[str, Any], policy: str) -> list[dict[str, Any]]:
    return [r for r in decision["rules"] if r["policy"] == policy]


def test_production_without_a_scan_fails_naming_it(tmp_path: Path) -> None:
    code, decision = decision_of("--release", release(tmp_path, "production"), SBOM, cwd=tmp_path)
    assert code == 1
    missing = {v["subject"] for v in decision["violations"] if v["policy"] == "GK-EVIDENCE-001"}
    assert missing == {"vulnerability-scan"}


def test_configured_production_needs_sast_and_provenance(tmp_path: Path) -> None:
    (tmp_path / "gatekeeper.yaml").write_text(
        "evidence_requirements:\n  production: [sbom, vulnerability-scan, sast, provenance]\n",
        "utf-8",
    )
    code, decision = decision_of(
        "--release", release(tmp_path, "production"), SBOM, GRYPE, cwd=tmp_path
    )
    assert code == 1
    missing = {v["subject"] for v in decision["violations"] if v["policy"] == "GK-EVIDENCE-001"}
    assert missing == {"sast", "provenance"}
    message = next(v["message"] for v in decision["violations"] if v["subject"] == "sast")
    assert message == "no sast evidence was given, and environment 'production' requires it"


def test_policy_without_its_evidence_is_not_assessed_not_passed(tmp_path: Path) -> None:
    _, decision = decision_of("--release", release(tmp_path, "staging"), SBOM, cwd=tmp_path)
    [vuln] = rules_of(decision, "GK-VULN-001")
    assert vuln["assessed"] is False
    assert vuln["missing_evidence"] == ["vulnerability-scan"]
    [provenance] = rules_of(decision, "GK-SC-004")
    assert provenance["assessed"] is False
    assert decision["summary"]["not_assessed"] >= 5  # 3 vuln + 2 sast + provenance
    assert decision["summary"]["passed"] + decision["summary"]["not_assessed"] <= len(
        decision["rules"]
    )
    # With the scan given, the vulnerability policy judged it.
    _, judged = decision_of("--release", release(tmp_path, "staging"), SBOM, GRYPE, cwd=tmp_path)
    assert all(r["assessed"] for r in rules_of(judged, "GK-VULN-001"))


def test_requirements_are_configurable_per_environment(tmp_path: Path) -> None:
    (tmp_path / "gatekeeper.yaml").write_text(
        "evidence_requirements:\n  default: [sbom, sast]\n  production: []\n", "utf-8"
    )
    _, staging = decision_of("--release", release(tmp_path, "staging"), SBOM, cwd=tmp_path)
    assert [v["subject"] for v in staging["violations"] if v["policy"] == "GK-EVIDENCE-001"] == [
        "sast"
    ]
    _, prod = decision_of("--release", release(tmp_path, "production"), SBOM, cwd=tmp_path)
    assert not [v for v in prod["violations"] if v["policy"] == "GK-EVIDENCE-001"]


def test_unknown_evidence_kind_in_config_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "gatekeeper.yaml").write_text(
        "evidence_requirements:\n  default: [sboms]\n", "utf-8"
    )
    result = run_cli("gate", "run", "--no-ledger", SBOM, cwd=tmp_path)
    assert result.code == 2
    assert "gatekeeper.yaml" in result.stderr and "'sboms' is not an evidence kind" in result.stderr


def test_no_sbom_at_all_fails_by_default(tmp_path: Path) -> None:
    code, decision = decision_of(GRYPE, cwd=tmp_path)
    assert code == 1
    assert {v["subject"] for v in decision["violations"] if v["policy"] == "GK-EVIDENCE-001"} == {
        "sbom"
    }


NOT_ASSESSED = RuleResult(
    policy="GK-SC-004",
    rule="deny",
    package="gatekeeper.supply_chain.provenance",
    level="deny",
    controls=("SLSA-BUILD-L1",),
    assessed=False,
    missing_evidence=("provenance",),
)


def test_reports_say_not_assessed() -> None:
    decision = _decision(
        outcome=Outcome.PASS, summary=Summary(rules=1, not_assessed=1), rules=(NOT_ASSESSED,)
    )
    table = get_reporter("table").render(decision)
    assert "1 not assessed (evidence missing)" in table
    junit = get_reporter("junit").render(decision)
    assert 'skipped message="not assessed: no provenance evidence was given"' in junit
    sarif = get_reporter("sarif").render(decision)
    assert "GK-SC-004 (gatekeeper.supply_chain.provenance.deny) was not assessed" in sarif
    markdown = get_reporter("markdown").render(decision)
    assert "| not assessed |" in markdown


def test_control_is_not_satisfied_when_its_policy_was_not_assessed() -> None:
    decision = _decision(outcome=Outcome.PASS, summary=Summary(rules=1), rules=(NOT_ASSESSED,))
    results = _plain_control_results(decision.model_dump(mode="json"))
    assert results["SLSA-BUILD-L1"] == "not assessed"


def test_replay_applies_the_recorded_requirement(tmp_path: Path) -> None:
    # Without it a replay would "lose" the GK-EVIDENCE-001 violation and report a difference.
    result = run_cli(
        "gate",
        "run",
        "--format",
        "json",
        "--release",
        release(tmp_path, "production"),
        SBOM,
        cwd=tmp_path,
    )
    assert result.code == 1
    decision = result.json()
    assert decision["required_evidence"] == ["sbom", "vulnerability-scan"]
    replay = run_cli("audit", "replay", decision["decision_id"], cwd=tmp_path)
    assert replay.code == 0, replay.stdout + replay.stderr
    assert "IDENTICAL" in replay.stdout


def test_every_reader_kind_named_provides_known_evidence_kinds() -> None:
    from gatekeeper.gate.requirements import READER_PROVIDES
    from gatekeeper.model import EVIDENCE_KINDS

    assert all(set(kinds) <= set(EVIDENCE_KINDS) for kinds in READER_PROVIDES.values())
