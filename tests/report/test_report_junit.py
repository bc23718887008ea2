from __future__ import annotations

from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest
import xmlschema

from gatekeeper.report.junit import JunitReporter
from tests.report import report_samples as samples

XSD = Path(__file__).resolve().parent / "schemas" / "junit.xsd"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


@pytest.mark.parametrize("case", sorted(samples.ALL))
def test_junit_validates_against_the_xsd(schema: xmlschema.XMLSchema, case: str) -> None:
    schema.validate(JunitReporter().render(samples.ALL[case]()))


def test_xsd_check_is_able_to_fail(schema: xmlschema.XMLSchema) -> None:
    broken = JunitReporter().render(samples.failing()).replace('tests="1"', 'tests="one"', 1)
    assert not schema.is_valid(broken)


def test_one_suite_per_package_one_case_per_rule_and_failure_counts() -> None:
    root = SafeET.fromstring(JunitReporter().render(samples.failing()))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert sorted(s.get("name") for s in suites) == [
        "gatekeeper.duplicates",
        "gatekeeper.licenses",
        "gatekeeper.pinning",
        "gatekeeper.release",
        "gatekeeper.sast",
        "gatekeeper.sbom",
        "gatekeeper.vulns",
    ]
    cases = root.findall("testsuite/testcase")
    assert len(cases) == 7 == int(root.get("tests", "0"))
    failures = root.findall("testsuite/testcase/failure")
    assert len(failures) == 3 == int(root.get("failures", "0"))
    for suite in suites:
        assert int(suite.get("failures", "0")) == len(suite.findall("testcase/failure"))
        assert int(suite.get("skipped", "0")) == len(suite.findall("testcase/skipped"))


def test_warn_is_output_not_failure_unless_fail_on_warn() -> None:
    root = SafeET.fromstring(JunitReporter().render(samples.warning()))
    assert root.findall(".//failure") == []
    out = root.find(".//testcase/system-out")
    assert out is not None and "fix: Pin an exact version" in (out.text or "")

    strict = SafeET.fromstring(JunitReporter().render(samples.warn_fails()))
    assert len(strict.findall(".//failure")) == 1


def test_waived_and_exempted_rules_are_skipped() -> None:
    root = SafeET.fromstring(JunitReporter().render(samples.failing()))
    skipped = {
        case.get("classname"): case.find("skipped")
        for case in root.iter("testcase")
        if case.find("skipped") is not None
    }
    assert set(skipped) == {"gatekeeper.licenses", "gatekeeper.duplicates"}
    licence = skipped["gatekeeper.licenses"]
    assert licence is not None and "W-12" in licence.get("message", "")


def test_special_characters_survive_a_round_trip() -> None:
    root = SafeET.fromstring(JunitReporter().render(samples.failing()))
    failure = next(f for f in root.iter("failure") if "lodash" in (f.get("message") or ""))
    assert "<script> & co" in failure.get("message", "")
    sast = next(f for f in root.iter("failure") if "SQL" in (f.get("message") or ""))
    assert "|" in sast.get("message", "") and "\nsecond line" in sast.get("message", "")


def test_illegal_xml_characters_do_not_break_the_document(
    schema: xmlschema.XMLSchema,
) -> None:
    hostile = samples.CRITICAL_VULN.model_copy(update={"message": "nul\x00 bell\x07 esc\x1b"})
    decision = samples.failing().model_copy(update={"violations": (hostile,)})
    xml = JunitReporter().render(decision)
    schema.validate(xml)
    assert "nul\\x00 bell\\x07 esc\\x1b" in xml


def test_error_outcome_is_a_junit_error() -> None:
    root = SafeET.fromstring(JunitReporter().render(samples.erroring()))
    errors = root.findall(".//error")
    assert len(errors) == 1 and int(root.get("errors", "0")) == 1
    assert "engine crashed" in errors[0].get("message", "")
