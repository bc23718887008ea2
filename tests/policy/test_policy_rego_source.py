from __future__ import annotations

import pytest

from gatekeeper.errors import PolicyError
from gatekeeper.policy.rego_source import scan_rego

SOURCE = """# a comment with deny in it
package acme.rules["svc-a"]

import rego.v1
import data.lib

default allow := false

deny contains msg if {
	x := {"a": "}", "b": `multi
deny_inside_raw_string := 1
`}
	msg := "text with { brace"
}

allow if input.ok

helper(x) := y if {
	y := x
}

deny contains "second" if input.other

limits[name] := value if {
	some name, value in data.limits
}
warn_old := 1 # trailing comment
"""


def test_finds_package_rules_and_lines() -> None:
    scanned = scan_rego(SOURCE, "rules.rego")
    assert scanned.package == "acme.rules.svc-a"
    assert scanned.package_line == 2
    assert scanned.rule_names == ("allow", "deny", "limits", "warn_old")
    assert scanned.first_line("allow") == 7
    assert scanned.first_line("deny") == 9
    assert scanned.first_line("warn_old") == 27


def test_functions_are_recorded_but_not_rules() -> None:
    scanned = scan_rego(SOURCE, "rules.rego")
    helpers = [d for d in scanned.definitions if d.name == "helper"]
    assert helpers and helpers[0].is_function
    assert "helper" not in scanned.rule_names


def test_names_inside_strings_and_bodies_are_not_rules() -> None:
    scanned = scan_rego(SOURCE, "rules.rego")
    assert "deny_inside_raw_string" not in scanned.rule_names
    assert "import" not in scanned.rule_names


def test_every_definition_is_kept_in_order() -> None:
    scanned = scan_rego(SOURCE, "rules.rego")
    assert [d.line for d in scanned.definitions if d.name == "deny"] == [9, 22]
    assert [d.is_default for d in scanned.definitions if d.name == "allow"] == [True, False]


def test_missing_package_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match=r"x\.rego: no `package` line"):
        scan_rego("deny contains 1 if true\n", "x.rego")
