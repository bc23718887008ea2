"""The conftest counting and parsing rules of gatekeeper.conftest.check, without an engine.

Each expectation cites the conftest source it reproduces (github.com/open-policy-agent/conftest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gatekeeper.cli.check import render_stdout, summary_line
from gatekeeper.conftest.check import (
    CheckReport,
    CheckResult,
    Message,
    NamespaceRules,
    _Tally,
    namespace_rules,
    parse_input,
    rule_messages,
    tally_document,
)
from gatekeeper.conftest.loading import bounded_document as to_json_value
from gatekeeper.conftest.yaml_documents import split_yaml_documents
from gatekeeper.errors import ConfigError, InputError, PolicyError
from gatekeeper.policy.bundle import load_bundle
from gatekeeper.policy.conventions import (
    exception_matches,
    exception_rule_name,
    glob_regex,
    select_namespaces,
)


def tally(values: dict[str, Any], rules: tuple[str, ...], definitions: int) -> _Tally:
    result = _Tally()
    tally_document(values, NamespaceRules("main", rules, definitions), result)
    return result


# ---- counting: policy/engine.go check ---------------------------------------------------------


def test_each_definition_of_a_passing_rule_is_one_test() -> None:
    # Only one success per rule name comes back, then the count is topped up to the number of
    # definitions ("two deny rules that both contain different bodies ... rule count two").
    result = tally({"data.main.deny": []}, ("deny",), definitions=2)
    assert (result.successes, result.failures) == (2, [])


def test_undefined_rule_counts_as_passed_through_the_top_up() -> None:
    # A complete rule that is undefined gives no result at all; the top-up counts it.
    assert tally({}, ("violation",), definitions=1).successes == 1


def test_messages_replace_successes_and_keep_metadata() -> None:
    values = {
        "data.main.deny": ["a", "b"],
        "data.main.violation": [
            {"msg": "c", "details": {"x": 1}, "_loc": {"file": "f", "line": 3}}
        ],
        "data.main.warn": [],
    }
    result = tally(values, ("deny", "violation", "warn"), definitions=4)
    assert [m.msg for m in result.failures] == ["a", "b", "c"]
    assert result.failures[0].metadata == {"query": "data.main.deny"}
    violation = result.failures[2]
    assert violation.metadata == {"details": {"x": 1}, "query": "data.main.violation"}
    assert (violation.loc.file, violation.loc.line) == ("f", 3) if violation.loc else False
    assert result.successes == 1  # warn; 4 results already reach the 4 definitions


def test_exception_counts_solutions_and_skips_the_rules_results() -> None:
    # `exception[_][_] == "foo"`: two lists naming foo are two solutions, two exceptions.
    values = {
        "data.main.deny_foo": ["would fail"],
        "data.main.exception": [["foo"], ["foo", "bar"]],
    }
    result = tally(values, ("deny_foo",), definitions=1)
    assert result.failures == []
    assert [m.msg for m in result.exceptions] == ['data.main.exception[_][_] == "foo"'] * 2
    assert result.successes == 0


def test_exception_applies_to_warn_rules_and_even_when_nothing_fired() -> None:
    values = {"data.main.warn_foo": [], "data.main.exception": [["foo"]]}
    result = tally(values, ("warn_foo",), definitions=2)
    assert (len(result.exceptions), result.successes) == (1, 1)


def test_empty_string_exception_exempts_bare_rules() -> None:
    # docs/exceptions.md: "if you specify the empty string, the exception will match *all*
    # rules named deny or violation".
    values = {"data.main.deny": ["x"], "data.main.exception": [[""]]}
    result = tally(values, ("deny",), definitions=1)
    assert (result.failures, len(result.exceptions)) == ([], 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 0),
        (["foo"], 0),  # a set of plain strings: `"foo"[_]` is undefined
        ([["foo"], ["x"]], 1),
        ({"k": ["foo", "foo"]}, 2),  # objects iterate their values
        ([{"a": "foo"}], 1),
    ],
)
def test_exception_matches(value: Any, expected: int) -> None:
    assert exception_matches(value, "foo") == expected


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        ("deny", ""),
        ("violation", ""),
        ("warn", ""),
        ("deny_foo", "foo"),
        ("violation_foo", "foo"),
        ("warn_foo_bar", "foo_bar"),
        ("violation_deny_x", "x"),  # TrimPrefix violation_, then deny_, then warn_
        ("deny_violation_x", "violation_x"),
    ],
)
def test_exception_rule_name(rule: str, name: str) -> None:
    assert exception_rule_name(rule) == name


# ---- rule values: fail closed where conftest silently passes ---------------------------------


def test_rule_values_conftest_passes() -> None:
    assert rule_messages(None, "q") == []
    assert rule_messages(False, "q") == [None]
    assert rule_messages([], "q") == [None]


@pytest.mark.parametrize(
    "value",
    [True, "a message", {"msg": "m"}, [3], ["ok", ["nested"]], [{"text": "no msg"}], [""]],
)
def test_rule_values_conftest_ignores_are_policy_errors(value: Any) -> None:
    with pytest.raises(PolicyError):
        rule_messages(value, "data.main.deny")


# ---- rule discovery ---------------------------------------------------------------------------


def test_namespace_rules_counts_definitions_across_modules(tmp_path: Path) -> None:
    (tmp_path / "a.rego").write_text(
        "package main\n\n"
        'deny contains "a" if input.a\n\n'
        'deny contains "b" if input.b\n\n'
        "deny_helper(x) := x\n\n"  # a function: not a rule
        'deny_ contains "c" if input.c\n'  # conftest's regex needs a suffix after "_"
    )
    (tmp_path / "b.rego").write_text(
        'package main\n\nwarn_x contains "w" if input.w\n\nviolation := [] if input.v\n'
    )
    (tmp_path / "c.rego").write_text('package other\n\ndeny contains "o" if input.o\n')
    rules = namespace_rules(load_bundle([str(tmp_path)]), "main")
    assert rules.rules == ("deny", "warn_x", "violation")
    assert rules.definitions == 4


# ---- namespaces: runner/test.go ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*", "main.gke", True),  # "." is an ordinary character for path.Match
        ("main.*", "main.gke", True),
        ("main.*", "main", False),
        ("ma?n", "main", True),
        ("[^m]*", "main", False),
        ("[a-m]ain", "main", True),
        (r"main\*", "main*", True),
    ],
)
def test_glob_regex_is_go_path_match(pattern: str, name: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).match(name)) is matches


def test_bad_glob_is_a_usage_error() -> None:
    with pytest.raises(ConfigError):
        glob_regex("main[")


def test_select_namespaces() -> None:
    packages = ["k8s.a", "k8s.b", "main"]
    assert select_namespaces(packages, ["main", "main"], False) == ("main", "main")
    assert select_namespaces(packages, ["main", "k8s.*"], False) == ("k8s.a", "k8s.b", "main")
    assert select_namespaces(packages, ["ignored"], True) == tuple(packages)
    with pytest.raises(PolicyError):
        select_namespaces(packages, ["nope"], False)


# ---- inputs: parser/yaml/yaml.go and parser/json/json.go ---------------------------------------


def test_yaml_split_only_on_a_bare_separator_line() -> None:
    assert len(split_yaml_documents("---\na: 1\n")) == 1  # leading marker: one document
    assert len(split_yaml_documents("a: 1\n--- # next\nb: 2\n")) == 1
    parts = split_yaml_documents("a: 1\n---\nb: 2\n---\nc: 3\n")
    assert [line for line, _ in parts] == [1, 3, 5]
    assert len(split_yaml_documents("a: 1\r\n---\r\nb: 2\r\n")) == 2
    assert len(split_yaml_documents("%YAML 1.1\n---\na: 1\n")) == 1  # directive stays


def test_trailing_separator_makes_a_null_document() -> None:
    assert parse_input("x.yaml", b"a: 1\n---\n", None).documents == ({"a": 1}, None)


def test_empty_yaml_is_one_null_document() -> None:
    assert parse_input("x.yaml", b"", None).documents == (None,)


def test_top_level_list_is_several_documents() -> None:
    assert parse_input("x.json", b'[{"a": 1}, 2]', None).documents == ({"a": 1}, 2)
    assert parse_input("x.yml", b"- a\n- b\n", None).documents == ("a", "b")


def test_yaml_values_become_json_values() -> None:
    parsed = parse_input("x.yaml", b"1: one\nnull: yes\nwhen: 2024-01-31\n", None)
    assert parsed.documents == ({"1": "one", "null": True, "when": "2024-01-31"},)


def test_json_bom_is_stripped_and_parser_overrides_extension() -> None:
    assert parse_input("x.json", b'\xef\xbb\xbf{"a": 1}', None).documents == ({"a": 1},)
    assert parse_input("x.txt", b"a: 1\n", "yaml").documents == ({"a": 1},)


def test_alias_expansion_and_cycles_are_bounded() -> None:
    shared: list[Any] = ["x"] * 10
    for _ in range(8):  # 10**9 values once expanded, a few hundred objects in memory
        shared = [shared] * 10
    with pytest.raises(InputError, match="expands to more than 1000 values"):
        to_json_value({"a": shared}, "x.yaml", budget=1000)
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(InputError, match="nested too deeply"):
        to_json_value(cycle, "x.yaml")
    # The same through the YAML parser: an alias bomb is refused, not expanded.
    bomb = b'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + b"".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n".encode()
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    with pytest.raises(InputError, match="expands to more than"):
        parse_input("x.yaml", bomb, None)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"a: .inf\n", "no JSON form"),
        (b"a: 1\na: 2\n", "duplicate key"),
        (b"a: \xff\xfa\n", "not valid UTF-8"),
    ],
)
def test_hostile_or_broken_yaml_is_bad_input(raw: bytes, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        parse_input("x.yaml", raw, None)


# ---- output: output/standard.go ---------------------------------------------------------------


def report(*results: CheckResult) -> CheckReport:
    return CheckReport(results=results, namespaces=("main",), engine="regorus")


@pytest.mark.parametrize(
    ("result", "line"),
    [
        (CheckResult("f", "main"), "0 tests, 0 passed, 0 warnings, 0 failures, 0 exceptions"),
        (CheckResult("f", "main", 1), "1 test, 1 passed, 0 warnings, 0 failures, 0 exceptions"),
        (
            CheckResult(
                "f",
                "main",
                warnings=(Message("w"),),
                failures=(Message("f"),),
                exceptions=(Message("e"),),
            ),
            "3 tests, 0 passed, 1 warning, 1 failure, 1 exception",
        ),
        (
            CheckResult("f", "main", 2, failures=(Message("a"), Message("b"))),
            "4 tests, 2 passed, 0 warnings, 2 failures, 0 exceptions",
        ),
    ],
)
def test_summary_singular_and_plural(result: CheckResult, line: str) -> None:
    assert summary_line(report(result)) == line


def test_colour_codes_are_conftests() -> None:
    text = render_stdout(
        report(CheckResult("f.yaml", "main", failures=(Message("m"),))), color=True
    )
    assert text == (
        "\x1b[31mFAIL\x1b[0m - f.yaml - main - m\n"
        "\n"
        "\x1b[31m1 test, 0 passed, 0 warnings, 1 failure, 0 exceptions\x1b[0m\n"
    )


def test_exit_codes() -> None:
    fails = report(CheckResult("f", "main", failures=(Message("x"),), warnings=(Message("w"),)))
    warns = report(CheckResult("f", "main", warnings=(Message("w"),)))
    passes = report(CheckResult("f", "main", 1))
    assert [r.exit_code() for r in (fails, warns, passes)] == [1, 0, 0]
    assert [r.exit_code(fail_on_warn=True) for r in (fails, warns, passes)] == [2, 1, 0]
