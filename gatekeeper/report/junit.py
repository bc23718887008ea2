"""JUnit XML for CI test-report views (Jenkins, GitLab, Azure DevOps, test-reporter actions).

Every rule evaluated is a test case, grouped into one test suite per Rego package, so a CI
test view shows what was checked and passed as well as what failed. Deny violations are
failures; warn violations are failures only under ``fail_on: warn`` and otherwise go to
``system-out``; a rule whose every violation was waived (or that an exception rule exempted)
is skipped. The tree is built with ElementTree, which escapes text and attributes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # builds XML only; nothing untrusted is parsed here
from collections import defaultdict
from dataclasses import dataclass, field
from typing import ClassVar

from gatekeeper.model import Decision, Level, RuleResult, Violation, WaivedViolation
from gatekeeper.report.common import (
    fix_text,
    is_failing,
    release_identity,
    sort_violations,
    status_label,
    summary_line,
)

_RuleKey = tuple[str, str, str]  # (package, rule, policy)

# Characters XML 1.0 cannot carry even escaped; ElementTree would write them raw and produce a
# file no CI server parses. Messages come from policies and evidence, so they can contain them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_safe(text: str) -> str:
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _sanitize(root: ET.Element) -> None:
    for element in root.iter():
        if element.text:
            element.text = _xml_safe(element.text)
        for name, value in element.attrib.items():
            element.set(name, _xml_safe(value))


@dataclass
class _Case:
    package: str
    rule: str
    policy: str
    title: str | None = None
    exempted: bool = False
    not_assessed: tuple[str, ...] = ()  # the missing evidence kinds, when it judged nothing
    violations: list[Violation] = field(default_factory=list)
    waived: list[WaivedViolation] = field(default_factory=list)


def _key(item: RuleResult | Violation) -> _RuleKey:
    return (item.package, item.rule, item.policy)


def _cases(decision: Decision) -> dict[str, list[_Case]]:
    """Test cases grouped by package; violations of rules the decision did not list still get
    a case of their own, so nothing the gate found can go missing from the report."""
    cases: dict[_RuleKey, _Case] = {}
    for rule in decision.rules:
        cases.setdefault(
            _key(rule),
            _Case(
                rule.package,
                rule.rule,
                rule.policy,
                rule.title,
                rule.exempted,
                () if rule.assessed else rule.missing_evidence or ("required",),
            ),
        )
    for v in sort_violations(decision.violations):
        cases.setdefault(_key(v), _Case(v.package, v.rule, v.policy, v.title)).violations.append(v)
    for w in decision.waived:
        v = w.violation
        cases.setdefault(_key(v), _Case(v.package, v.rule, v.policy, v.title)).waived.append(w)
    by_package: dict[str, list[_Case]] = defaultdict(list)
    for case in cases.values():
        by_package[case.package].append(case)
    return {package: by_package[package] for package in sorted(by_package)}


def _describe(v: Violation) -> str:
    subject = f" [{v.subject}]" if v.subject else ""
    return (
        f"{v.level.value} {v.severity.value} {v.policy}{subject}: {v.message}\n  fix: {fix_text(v)}"
    )


@dataclass
class _Counts:
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0


def _testcase(parent: ET.Element, case: _Case, fail_on: Level, counts: _Counts) -> None:
    name = f"{case.rule} ({case.policy})"
    if case.title:
        name = f"{name}: {case.title}"
    element = ET.SubElement(
        parent, "testcase", {"name": name, "classname": case.package, "time": "0"}
    )
    counts.tests += 1
    failing = [v for v in case.violations if is_failing(v, fail_on)]
    reported = [v for v in case.violations if not is_failing(v, fail_on)]

    if not case.violations and not case.waived and case.not_assessed:
        message = f"not assessed: no {', '.join(case.not_assessed)} evidence was given"
        ET.SubElement(element, "skipped", {"message": message}).text = message
        counts.skipped += 1
    elif not case.violations and (case.waived or case.exempted):
        if case.waived:
            waivers = ", ".join(f"{w.waiver.id} (expires {w.waiver.expires})" for w in case.waived)
            message = f"waived by {waivers}"
        else:
            message = "exempted by an exception rule"
        ET.SubElement(element, "skipped", {"message": message}).text = message
        counts.skipped += 1
    if failing:
        first = failing[0]
        message = (
            first.message
            if len(failing) == 1
            else (f"{len(failing)} violations; first: {first.message}")
        )
        failure = ET.SubElement(
            element, "failure", {"message": message, "type": first.severity.value}
        )
        failure.text = "\n".join(_describe(v) for v in failing)
        counts.failures += 1
    out_lines = [_describe(v) for v in reported]
    out_lines.extend(
        f"waived by {w.waiver.id} until {w.waiver.expires} ({w.waiver.reason}): "
        f"{_describe(w.violation)}"
        for w in case.waived
        if case.violations
    )
    if out_lines:
        ET.SubElement(element, "system-out").text = "\n".join(out_lines)


def _properties(parent: ET.Element, decision: Decision) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in (
        ("gatekeeper.decision_id", decision.decision_id),
        ("gatekeeper.outcome", decision.outcome.value),
        ("gatekeeper.release", release_identity(decision.release)),
        ("gatekeeper.policy_bundle", decision.policy_bundle.revision),
        ("gatekeeper.policy_digest", decision.policy_bundle.digest),
        *(
            (f"gatekeeper.waiver.{c.id}.violations", str(c.violations))
            for c in decision.waiver_coverage
        ),
    ):
        ET.SubElement(props, "property", {"name": name, "value": value})


class JunitReporter:
    name: ClassVar[str] = "junit"
    description: ClassVar[str] = "JUnit XML, one test case per rule evaluated"

    def render(self, decision: Decision, *, color: bool = False) -> str:
        root = ET.Element("testsuites", {"name": "gatekeeper"})
        total = _Counts()
        for package, cases in _cases(decision).items():
            suite = ET.SubElement(root, "testsuite", {"name": package})
            _properties(suite, decision)
            counts = _Counts()
            for case in cases:
                _testcase(suite, case, decision.fail_on, counts)
            self._count(suite, counts, decision.created_at)
            self._add(total, counts)
        if decision.errors:
            # A gate that could not decide is an error in CI, never a silent green.
            suite = ET.SubElement(root, "testsuite", {"name": "gatekeeper"})
            _properties(suite, decision)
            testcase = ET.SubElement(
                suite, "testcase", {"name": "evaluation", "classname": "gatekeeper", "time": "0"}
            )
            error = ET.SubElement(
                testcase, "error", {"message": decision.errors[0], "type": "GatekeeperError"}
            )
            error.text = "\n".join(decision.errors)
            counts = _Counts(tests=1, errors=1)
            self._count(suite, counts, decision.created_at)
            self._add(total, counts)
        for attr in ("tests", "failures", "errors"):
            root.set(attr, str(getattr(total, attr)))
        root.set("time", f"{decision.timings.total_ms / 1000:.3f}")
        comment = ET.Comment(
            f" {status_label(decision.outcome)}: {summary_line(decision)} ".replace("--", "- -")
        )
        root.insert(0, comment)
        _sanitize(root)
        ET.indent(root)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode")
            + "\n"
        )

    @staticmethod
    def _count(suite: ET.Element, counts: _Counts, timestamp: str) -> None:
        suite.set("tests", str(counts.tests))
        suite.set("failures", str(counts.failures))
        suite.set("errors", str(counts.errors))
        suite.set("skipped", str(counts.skipped))
        suite.set("time", "0")
        suite.set("timestamp", timestamp)

    @staticmethod
    def _add(total: _Counts, counts: _Counts) -> None:
        total.tests += counts.tests
        total.failures += counts.failures
        total.errors += counts.errors
        total.skipped += counts.skipped
