from __future__ import annotations

import pytest

from gatekeeper.errors import PolicyError
from gatekeeper.model.gate_input import Severity
from gatekeeper.policy.metadata import parse_annotations

FULL = """# METADATA
# title: No critical vulnerabilities
# description: Fails on critical ones.
# custom:
#   id: GK-VULN-001
#   severity: Critical
#   controls:
#     - PW.4.4
#     - CC7.1
#   remediation: Upgrade.
#   owner: platform-team
package gatekeeper.vuln

# METADATA
# title: the deny rule
deny contains "x" if true

# METADATA
# scope: document
# custom:
#   severity: moderate
warn contains "y" if true
"""


def test_all_fields_of_a_package_block() -> None:
    notes = parse_annotations(FULL, "vuln.rego")
    package = notes[0]
    assert package.scope == "package"
    assert package.target_is_package
    info = package.to_policy_info("fallback")
    assert info.id == "GK-VULN-001"
    assert info.title == "No critical vulnerabilities"
    assert info.description == "Fails on critical ones."
    assert info.severity is Severity.CRITICAL
    assert info.controls == ("PW.4.4", "CC7.1")
    assert info.remediation == "Upgrade."
    assert package.raw["custom"]["owner"] == "platform-team"


def test_rule_blocks_default_to_rule_scope_and_point_at_the_rule() -> None:
    notes = parse_annotations(FULL, "vuln.rego")
    rule, document = notes[1], notes[2]
    assert rule.scope == "rule"
    assert rule.target_line == 16
    assert rule.to_policy_info("pkg.id").id == "pkg.id"
    assert document.scope == "document"
    assert document.severity is Severity.MEDIUM


def test_bad_yaml_names_file_and_line() -> None:
    source = "package p\n\n# METADATA\n# title: ok\n# custom: [unclosed\ndeny contains 1 if true\n"
    with pytest.raises(PolicyError) as caught:
        parse_annotations(source, "p.rego")
    assert str(caught.value).startswith("p.rego:")
    line = int(str(caught.value).split(":")[1])
    assert 3 <= line <= 6
    assert "METADATA" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("# custom:\n#   severity: catastrophic", "severity"),
        ("# custom:\n#   controls: {a: 1}", "controls"),
        ("# scope: everything", "scope"),
        ("# - just\n# - a list", "mapping"),
        ("# title: [1, 2]", "title"),
    ],
)
def test_wrong_types_are_policy_errors(body: str, complaint: str) -> None:
    source = f"# METADATA\n{body}\npackage p\n"
    with pytest.raises(PolicyError, match=complaint) as caught:
        parse_annotations(source, "p.rego")
    assert "p.rego:1" in str(caught.value)


def test_unknown_severity_word_spelled_unknown_is_fine() -> None:
    notes = parse_annotations("# METADATA\n# custom:\n#   severity: unknown\npackage p\n", "p.rego")
    assert notes[0].severity is Severity.UNKNOWN
