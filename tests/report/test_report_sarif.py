from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gatekeeper.model import Decision, RuleLocation
from gatekeeper.report.sarif import FINGERPRINT_KEY, SarifReporter
from tests.report import report_samples as samples

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "sarif-schema-2.1.0.json"


def _sarif(decision: Decision) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SarifReporter().render(decision))
    return document


def _validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


@pytest.mark.parametrize("case", sorted(samples.ALL))
def test_sarif_validates_against_the_official_schema(case: str) -> None:
    errors = sorted(
        _validator().iter_errors(_sarif(samples.ALL[case]())), key=lambda e: list(e.path)
    )
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_check_is_able_to_fail() -> None:
    document = _sarif(samples.failing())
    document["runs"][0]["results"][0]["level"] = "fatal"
    assert list(_validator().iter_errors(document))


def test_one_run_with_driver_and_one_rule_per_policy() -> None:
    run = _sarif(samples.failing())["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "gatekeeper"
    assert driver["version"]
    ids = [rule["id"] for rule in driver["rules"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {
        "GK-VULN-001",
        "GK-SAST-002",
        "GK-META-003",
        "GK-PIN-004",
        "GK-LIC-005",
        "GK-SBOM-006",
        "GK-DUP-007",
    }
    vuln = next(rule for rule in driver["rules"] if rule["id"] == "GK-VULN-001")
    assert vuln["shortDescription"]["text"] == "No critical vulnerabilities with a fix"
    assert vuln["help"]["text"] == "Upgrade lodash to 4.17.21 or later"
    assert vuln["properties"]["security-severity"] == "9.5"
    assert {"SSDF PW.4", "SLSA", "security"} <= set(vuln["properties"]["tags"])
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_security_severity_mapping() -> None:
    rules = {
        rule["id"]: rule for rule in _sarif(samples.failing())["runs"][0]["tool"]["driver"]["rules"]
    }
    assert rules["GK-SAST-002"]["properties"]["security-severity"] == "8.0"
    assert rules["GK-META-003"]["properties"]["security-severity"] == "5.5"
    assert rules["GK-PIN-004"]["properties"]["security-severity"] == "2.0"
    # A policy that found nothing has no severity to report.
    assert "security-severity" not in rules["GK-SBOM-006"]["properties"]


def test_results_levels_messages_and_locations() -> None:
    results = _sarif(samples.failing())["runs"][0]["results"]
    by_rule = {r["ruleId"]: r for r in results}
    assert by_rule["GK-VULN-001"]["level"] == "error"
    assert by_rule["GK-PIN-004"]["level"] == "warning"
    assert "Fix: Upgrade lodash to 4.17.21" in by_rule["GK-VULN-001"]["message"]["text"]

    def where(rule: str) -> tuple[str, int]:
        physical = by_rule[rule]["locations"][0]["physicalLocation"]
        return physical["artifactLocation"]["uri"], physical["region"]["startLine"]

    # file:line subject -> the finding itself
    assert where("GK-SAST-002") == ("src/db/query.py", 42)
    # evidence names the scan that reported it -> that evidence file
    assert where("GK-VULN-001") == ("scans/grype.json", 1)
    assert where("GK-PIN-004") == ("sbom.cdx.json", 1)
    # nothing better -> the policy source
    assert where("GK-META-003") == ("policies/release.rego", 3)
    assert all(r["locations"] for r in results)


def test_waived_violation_is_a_suppressed_result_with_the_reason() -> None:
    results = _sarif(samples.failing())["runs"][0]["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert [r["ruleId"] for r in suppressed] == ["GK-LIC-005"]
    suppression = suppressed[0]["suppressions"][0]
    assert suppression["kind"] == "external"
    assert suppression["justification"] == "Legal approved: linked at arm's length, <see LEGAL-7>"
    assert suppression["properties"]["waiver"] == "W-12"
    assert all("suppressions" not in r for r in results if r["ruleId"] != "GK-LIC-005")


def test_fingerprints_are_stable_and_distinct() -> None:
    first = _sarif(samples.failing())["runs"][0]["results"]
    again = _sarif(samples.failing())["runs"][0]["results"]
    prints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in first]
    assert prints == [r["partialFingerprints"][FINGERPRINT_KEY] for r in again]
    assert len(set(prints)) == len(prints)
    # A line moving does not change the identity of the violation.
    moved = samples.SAST_FINDING.model_copy(
        update={"location": RuleLocation(file="policies/sast.rego", line=99)}
    )
    decision = samples.failing().model_copy(update={"violations": (moved,)})
    result = _sarif(decision)["runs"][0]["results"][0]
    original = next(r for r in first if r["ruleId"] == "GK-SAST-002")
    assert result["partialFingerprints"] == original["partialFingerprints"]


def test_error_outcome_is_an_unsuccessful_invocation() -> None:
    invocation = _sarif(samples.erroring())["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "engine crashed" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_waiver_hygiene_becomes_configuration_notifications() -> None:
    invocation = _sarif(samples.failing())["runs"][0]["invocations"][0]
    texts = [n["message"]["text"] for n in invocation["toolConfigurationNotifications"]]
    assert any("W-9" in t and "expired" in t for t in texts)
    assert any("W-3" in t and "matched no violation" in t for t in texts)
