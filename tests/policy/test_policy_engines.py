"""Both engines: results, compile errors, and every known hazard failing closed (exit 3)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gatekeeper.errors import EXIT_ENGINE, ConfigError, EngineError, PolicyError
from gatekeeper.policy.bundle import PolicyBundle, load_bundle
from gatekeeper.policy.engines import guard
from gatekeeper.policy.engines.registry import (
    DEFAULT_ENGINE,
    ENGINES,
    available_engines,
    get_engine,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BOTH = pytest.mark.parametrize("engine_name", ["regorus", "regopy"])


def bundle_of(tmp_path: Path, source: str, name: str = "p.rego") -> PolicyBundle:
    (tmp_path / name).write_text(source, encoding="utf-8")
    return load_bundle([str(tmp_path)])


def rule(body: str) -> str:
    """A module whose deny rule fires on `{body}`'s value."""
    return f"package hz\n\ndeny contains msg if {{\n\tmsg := {body}\n}}\n"


def test_registry_defaults_and_unknown_names() -> None:
    assert DEFAULT_ENGINE == "regorus"
    assert set(ENGINES) == {"regorus", "regopy", "opa", "opa-server"}
    # opa-server needs a server URL, so it is not offered as an installed, in-process engine.
    assert available_engines() == ["opa", "regopy", "regorus"]
    with pytest.raises(ConfigError, match="opa, opa-server, regopy, regorus"):
        get_engine("cpp")


@BOTH
def test_version_is_the_engine_package_version(engine_name: str) -> None:
    from importlib.metadata import version as installed

    package = {"regorus": "celine-regorus", "regopy": "regopy"}[engine_name]
    assert get_engine(engine_name).version() == installed(package)


@BOTH
def test_deny_fires_with_string_and_object_values(engine_name: str) -> None:
    engine = get_engine(engine_name)
    bundle = load_bundle([str(FIXTURES / "basic")])
    queries = ("data.fixtures.basic.deny", "data.fixtures.basic.warn", "data.fixtures.nothing.deny")
    big = engine.evaluate(bundle, json.dumps({"x": 100}), queries)
    assert big.values == {
        "data.fixtures.basic.deny": ["x is 100, above 50"],
        "data.fixtures.basic.warn": [],
    }
    negative = engine.evaluate(bundle, json.dumps({"x": -1}), ("data.fixtures.basic.deny",))
    assert negative.values["data.fixtures.basic.deny"] == [{"msg": "x is negative", "value": -1}]


@BOTH
def test_data_is_visible_to_policies(engine_name: str) -> None:
    bundle = load_bundle([str(FIXTURES / "basic")])
    result = get_engine(engine_name).evaluate(bundle, "{}", ("data.fixtures.basic.label",))
    assert result.values == {"data.fixtures.basic.label": "from-sub"}


@BOTH
def test_compile_error_names_file_and_line(engine_name: str, tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, "package p\n\ndeny contains x if {\n\tx := 1 +\n}\n")
    with pytest.raises(PolicyError) as caught:
        get_engine(engine_name).check(bundle)
    assert str(caught.value).startswith("p.rego:4: ")
    assert caught.value.exit_code == EXIT_ENGINE


def test_regorus_rejects_rego_v0_syntax(tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, "package p\n\ndeny[msg] {\n\tmsg := 1\n}\n")
    with pytest.raises(PolicyError, match=r"p\.rego:3: .*`if` keyword is required"):
        get_engine("regorus").check(bundle)


def test_regorus_panic_is_engine_error(tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, rule('strings.count(input.x, "")'))
    with pytest.raises(EngineError, match=r"data\.hz\.deny"):
        get_engine("regorus").evaluate(bundle, '{"x": "abc"}', ("data.hz.deny",))


def test_regopy_counts_empty_substring_like_opa(tmp_path: Path) -> None:
    # Not a hazard on regopy: OPA's answer for strings.count("abc", "") is 4, and so is regopy's.
    bundle = bundle_of(tmp_path, rule('strings.count(input.x, "")'))
    result = get_engine("regopy").evaluate(bundle, '{"x": "abc"}', ("data.hz.deny",))
    assert result.values == {"data.hz.deny": [4]}


def test_regorus_long_source_line_is_policy_error_with_line(tmp_path: Path) -> None:
    long_string = '"' + "a" * 1100 + '"'
    bundle = bundle_of(tmp_path, rule(long_string))
    with pytest.raises(PolicyError, match=r"^p\.rego:4: line exceeds maximum column width"):
        get_engine("regorus").check(bundle)


@BOTH
def test_sprintf_q_verb_never_gives_a_result(engine_name: str, tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, rule('sprintf("%q", [input.x])'))
    with pytest.raises((PolicyError, EngineError)) as caught:
        get_engine(engine_name).evaluate(bundle, '{"x": "a"}', ("data.hz.deny",))
    assert caught.value.exit_code == EXIT_ENGINE
    assert "p.rego:4" in str(caught.value)


@BOTH
@pytest.mark.parametrize("call", ["crypto.sha256(input.x)", "rego.metadata.rule()"])
def test_missing_builtin_is_an_error_not_undefined(
    engine_name: str, call: str, tmp_path: Path
) -> None:
    if (engine_name, call) == ("regopy", "crypto.sha256(input.x)"):
        pytest.skip("regopy implements crypto.sha256")
    bundle = bundle_of(tmp_path, rule(call))
    with pytest.raises(EngineError, match=r"data\.hz\.deny"):
        get_engine(engine_name).evaluate(bundle, '{"x": "a"}', ("data.hz.deny",))


def test_regopy_has_crypto_sha256(tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, rule("crypto.sha256(input.x)"))
    result = get_engine("regopy").evaluate(bundle, '{"x": "a"}', ("data.hz.deny",))
    assert result.values["data.hz.deny"][0].startswith("ca978112")


@BOTH
def test_slow_evaluation_times_out(engine_name: str, tmp_path: Path) -> None:
    slow = (
        "count([x | some a in numbers.range(1, 100000); "
        "some b in numbers.range(1, 100000); x := a * b])"
    )
    bundle = bundle_of(tmp_path, rule(slow))
    with pytest.raises(EngineError, match=r"timed out after 1\.5s"):
        get_engine(engine_name).evaluate(bundle, "{}", ("data.hz.deny",), timeout=1.5)


@BOTH
def test_killed_worker_is_engine_error(
    engine_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        guard, "WORKER_COMMAND", [sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"]
    )
    bundle = load_bundle([str(FIXTURES / "basic")])
    with pytest.raises(EngineError, match="killed by signal SIGKILL"):
        get_engine(engine_name).evaluate(bundle, "{}", ("data.fixtures.basic.deny",))


@BOTH
def test_garbled_worker_answer_is_engine_error(
    engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(guard, "WORKER_COMMAND", [sys.executable, "-c", "print('{\"ok\": tru')"])
    bundle = load_bundle([str(FIXTURES / "basic")])
    with pytest.raises(EngineError, match="garbled"):
        get_engine(engine_name).evaluate(bundle, "{}", ("data.fixtures.basic.deny",))


@BOTH
def test_only_data_references_are_queried(engine_name: str) -> None:
    bundle = load_bundle([str(FIXTURES / "basic")])
    with pytest.raises(EngineError, match="refusing query"):
        get_engine(engine_name).evaluate(bundle, "{}", ("data.x; true",))


@BOTH
def test_engine_diagnostics_never_reach_our_stdout(
    engine_name: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bundle = bundle_of(tmp_path, "package p\n\ndeny contains x if {\n\tx := 1 +\n}\n")
    with pytest.raises(PolicyError):
        get_engine(engine_name).check(bundle)
    out, _ = capfd.readouterr()
    assert out == ""


@BOTH
def test_bad_input_json_is_engine_error(engine_name: str) -> None:
    bundle = load_bundle([str(FIXTURES / "basic")])
    with pytest.raises(EngineError, match="input"):
        get_engine(engine_name).evaluate(bundle, '{"x": ', ("data.fixtures.basic.deny",))


# ---- builtins whose answers differ between the engines (recorded for docs/engines.md) --------

SEMVER = 'semver.compare("1.0.0-alpha", "1.0.0")'
RFC3339_Z = 'time.parse_rfc3339_ns("2024-01-02T03:04:05Z")'


def test_semver_prerelease_ordering_per_engine(tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, rule(SEMVER))
    regorus = get_engine("regorus").evaluate(bundle, "{}", ("data.hz.deny",))
    regopy = get_engine("regopy").evaluate(bundle, "{}", ("data.hz.deny",))
    assert regorus.values == {"data.hz.deny": [-1]}  # SemVer 2.0: a pre-release sorts first
    assert regopy.values == {"data.hz.deny": [1]}  # regopy 1.5.2 gets this wrong


def test_rfc3339_with_z_per_engine(tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path, rule(RFC3339_Z))
    regorus = get_engine("regorus").evaluate(bundle, "{}", ("data.hz.deny",))
    assert regorus.values == {"data.hz.deny": [1704164645000000000]}
    # regopy cannot parse the `Z` form; with strict builtin errors that is an error, not undefined.
    with pytest.raises(EngineError, match="Unable to parse time"):
        get_engine("regopy").evaluate(bundle, "{}", ("data.hz.deny",))


def test_regopy_crashes_on_with_input_as_object_and_we_fail_closed(tmp_path: Path) -> None:
    source = (
        "package p\n\ndeny contains 1 if input.x > 1\n\n"
        'test_x if {\n\tcount(deny) == 1 with input as {"x": 5}\n}\n'
    )
    bundle = bundle_of(tmp_path, source)
    with pytest.raises(EngineError, match="SIGSEGV"):
        get_engine("regopy").run_tests(bundle)
    # regorus runs the same test correctly.
    (case,) = get_engine("regorus").run_tests(bundle).cases
    assert case.passed


# ---- policy tests (the `opa test` equivalent) --------------------------------------------------

TESTS_MODULE = """package t

limit := 3

deny contains "too many" if count(input.items) > limit

test_passes if limit == 3

test_fails if limit == 4

test_not_true := 5

test_errors if {
\t1 / 0 == 1
}
"""


@BOTH
def test_run_tests_reports_pass_and_each_kind_of_failure(engine_name: str, tmp_path: Path) -> None:
    (tmp_path / "policy.rego").write_text("package x\n\nwarn contains 1 if false\n")
    bundle = bundle_of(tmp_path, TESTS_MODULE, name="t_test.rego")
    cases = {c.name: c for c in get_engine(engine_name).run_tests(bundle).cases}
    assert set(cases) == {"test_passes", "test_fails", "test_not_true", "test_errors"}
    assert cases["test_passes"].passed
    assert (cases["test_passes"].file, cases["test_passes"].line) == ("t_test.rego", 7)
    assert not cases["test_fails"].passed and cases["test_fails"].error == "undefined"
    assert not cases["test_not_true"].passed
    assert "expected true" in (cases["test_not_true"].error or "")
    assert not cases["test_errors"].passed and cases["test_errors"].error


COVERAGE_POLICY = """package c

deny contains "odd" if {
\tinput.x % 2 == 1
}

double(x) := y if {
\ty := x * 2
}
"""


def test_regorus_coverage_per_file(tmp_path: Path) -> None:
    (tmp_path / "c.rego").write_text(COVERAGE_POLICY)
    (tmp_path / "c_test.rego").write_text(
        'package c_test\n\ntest_odd if {\n\tdata.c.deny == {"odd"} with input as {"x": 1}\n}\n'
    )
    bundle = load_bundle([str(tmp_path)])
    result = get_engine("regorus").run_tests(bundle, coverage=True)
    assert [c.passed for c in result.cases] == [True]
    policy = {c.file: c for c in result.coverage}["c.rego"]
    assert 4 in policy.covered  # the deny body ran
    assert 8 in policy.not_covered  # `double` is never called by the tests
    assert 0 < policy.percent < 100


def test_regopy_refuses_coverage() -> None:
    bundle = load_bundle([str(FIXTURES / "basic")])
    with pytest.raises(EngineError, match="coverage needs the regorus engine"):
        get_engine("regopy").run_tests(bundle, coverage=True)
