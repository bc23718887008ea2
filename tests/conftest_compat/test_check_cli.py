"""`gatekeeper check` end to end: the lines, summary and exit codes conftest gives.

Expected values are derived from conftest's source (github.com/open-policy-agent/conftest):
- counting: policy/engine.go `check` -- one success per rule name whose value is empty, then
  topped up to the number of rule *definitions* in the namespace; an excepted rule's results
  are not counted; each solution of `data.<ns>.exception[_][_] == "<name>"` is one exception.
- multi-document files: policy/engine.go `Check` aggregates every document under the file name;
  parser/yaml/yaml.go splits on "\\n---\\n".
- lines and summary: output/standard.go (WARN, then FAIL, then EXCP per file; a blank line;
  "N test(s), P passed, W warning(s), F failure(s), E exception(s)").
- exit codes: output/result.go ExitCode / ExitCodeFailOnWarn, internal/commands/test.go
  (--no-fail), acceptance.bats ("The number of tests run is accurate", "Exceptions reported
  correctly", "Test command works with nested namespaces").
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

FIXTURES = Path(__file__).parent / "fixtures"
K8S = FIXTURES / "k8s"


def check(*args: str, cwd: Path = K8S) -> tuple[int, list[str], str]:
    result = run_cli("check", "--no-color", *args, cwd=cwd)
    return result.code, result.stdout.split("\n"), result.stderr


# ---- pass / fail / warn with the default policy directory and namespace ----------------------


def test_failures_default_policy_dir_and_namespace_main() -> None:
    # 4 definitions in main (deny x2, violation, warn). deny: 1 message, violation: 1,
    # warn: empty set -> 1 success; 3 results < 4 definitions -> 1 more success.
    code, lines, _ = check("deployment.yaml")
    assert lines == [
        "FAIL - deployment.yaml - main - Containers must not run as root in Deployment web",
        "FAIL - deployment.yaml - main - Deployment web must run at least 2 replicas",
        "",
        "4 tests, 2 passed, 0 warnings, 2 failures, 0 exceptions",
        "",
    ]
    assert code == 1


def test_pass() -> None:
    code, lines, _ = check("good.yaml")
    assert lines == ["", "4 tests, 4 passed, 0 warnings, 0 failures, 0 exceptions", ""]
    assert code == 0


def test_warning_passes_unless_fail_on_warn() -> None:
    code, lines, _ = check("service.yaml")
    assert lines == [
        "WARN - service.yaml - main - Service frontend is exposed through a LoadBalancer",
        "",
        "4 tests, 3 passed, 1 warning, 0 failures, 0 exceptions",
        "",
    ]
    assert code == 0
    code, lines, _ = check("--fail-on-warn", "service.yaml")
    assert code == 1  # ExitCodeFailOnWarn: warnings only -> 1


def test_fail_on_warn_returns_2_for_failures() -> None:
    code, _, _ = check("--fail-on-warn", "deployment.yaml", "service.yaml")
    assert code == 2  # ExitCodeFailOnWarn: failures -> 2


def test_no_fail_exits_zero_but_still_reports() -> None:
    code, lines, _ = check("--no-fail", "deployment.yaml")
    assert code == 0
    assert lines[-2] == "4 tests, 2 passed, 0 warnings, 2 failures, 0 exceptions"
    code, _, _ = check("--no-fail", "--fail-on-warn", "deployment.yaml")
    assert code == 0


def test_quiet_prints_nothing_on_success_only() -> None:
    result = run_cli("check", "--quiet", "good.yaml", cwd=K8S)
    assert (result.code, result.stdout) == (0, "")
    code, lines, _ = check("--quiet", "deployment.yaml")
    assert code == 1
    assert lines[-2] == "4 tests, 2 passed, 0 warnings, 2 failures, 0 exceptions"


# ---- multi-document YAML, JSON, top-level arrays, stdin ---------------------------------------


def test_multi_document_yaml_counts_every_document_under_one_file() -> None:
    # deployment (2 failures, 2 passed) + service (1 warning, 3 passed) + good (4 passed)
    code, lines, _ = check("multi.yaml")
    assert lines == [
        "WARN - multi.yaml - main - Service frontend is exposed through a LoadBalancer",
        "FAIL - multi.yaml - main - Containers must not run as root in Deployment web",
        "FAIL - multi.yaml - main - Deployment web must run at least 2 replicas",
        "",
        "12 tests, 9 passed, 1 warning, 2 failures, 0 exceptions",
        "",
    ]
    assert code == 1


def test_json_file_and_top_level_array_evaluated_per_element() -> None:
    code, lines, _ = check("deployment.json", "list.json")
    assert lines == [
        "FAIL - deployment.json - main - Deployment api must run at least 2 replicas",
        "FAIL - list.json - main - Containers must not run as root in Deployment a",
        "FAIL - list.json - main - Deployment a must provide an app label for its pod selector",
        "",
        "12 tests, 9 passed, 0 warnings, 3 failures, 0 exceptions",
        "",
    ]
    assert code == 1


def test_stdin_is_yaml_and_named_dash() -> None:
    text = (K8S / "service.yaml").read_text()
    proc = subprocess.run(
        [sys.executable, "-m", "gatekeeper", "check", "--no-color", "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=K8S,
        check=False,
    )
    assert proc.stdout.splitlines()[0] == (
        "WARN - - main - Service frontend is exposed through a LoadBalancer"
    )
    assert proc.returncode == 0


# ---- exceptions -------------------------------------------------------------------------------


def test_exceptions_counted_and_reported_as_conftest() -> None:
    # api: run_as_root fails, latest passes. legacy-batch: run_as_root excepted, latest fails.
    # legacy-cron: run_as_root excepted although it would pass (conftest counts the exception
    # query's solutions, not exempted messages), latest passes.
    code, lines, _ = check("deployments.yaml", cwd=FIXTURES / "exceptions")
    excp = 'EXCP - deployments.yaml - main - data.main.exception[_][_] == "run_as_root"'
    assert lines == [
        "FAIL - deployments.yaml - main - Containers must not run as root in Deployment api",
        "FAIL - deployments.yaml - main - Container batch uses the latest tag",
        excp,
        excp,
        "",
        "6 tests, 2 passed, 0 warnings, 2 failures, 2 exceptions",
        "",
    ]
    assert code == 1


def test_suppress_exceptions_hides_lines_but_keeps_the_count() -> None:
    _, lines, _ = check("--suppress-exceptions", "deployments.yaml", cwd=FIXTURES / "exceptions")
    assert not any(line.startswith("EXCP") for line in lines)
    assert lines[-2] == "6 tests, 2 passed, 0 warnings, 2 failures, 2 exceptions"


# ---- namespaces -------------------------------------------------------------------------------

NS = FIXTURES / "ns"


def test_default_namespace_is_main_and_singular_forms() -> None:
    code, lines, _ = check("config.json", cwd=NS)
    assert lines == [
        "FAIL - config.json - main - image must not use the latest tag",
        "",
        "1 test, 0 passed, 0 warnings, 1 failure, 0 exceptions",
        "",
    ]
    assert code == 1
    code, lines, _ = check("good-config.json", cwd=NS)
    assert lines[-2] == "1 test, 1 passed, 0 warnings, 0 failures, 0 exceptions"
    assert code == 0


def test_literal_namespace_and_singular_warning() -> None:
    code, lines, _ = check("-n", "k8s.pods", "config.json", cwd=NS)
    assert lines == [
        "WARN - config.json - k8s.pods - container runs as root",
        "",
        "1 test, 0 passed, 1 warning, 0 failures, 0 exceptions",
        "",
    ]
    assert code == 0


def test_namespace_glob_matches_dotted_packages() -> None:
    code, lines, _ = check("--namespace", "k8s.*", "config.json", cwd=NS)
    assert lines == [
        "FAIL - config.json - k8s.network - port 22 must not be exposed",
        "WARN - config.json - k8s.pods - container runs as root",
        "",
        "2 tests, 0 passed, 1 warning, 1 failure, 0 exceptions",
        "",
    ]
    assert code == 1


def test_comma_separated_namespaces_as_conftest_string_slices() -> None:
    _, lines, _ = check("-n", "main,k8s.pods", "config.json", cwd=NS)
    assert lines[-2] == "2 tests, 0 passed, 1 warning, 1 failure, 0 exceptions"


def test_all_namespaces_json_lists_every_package() -> None:
    result = run_cli("check", "--all-namespaces", "-o", "json", "config.json", cwd=NS)
    assert result.code == 1
    assert [(r["namespace"], r["successes"]) for r in result.json()] == [
        ("k8s.network", 0),
        ("k8s.pods", 0),
        ("lib", 0),
        ("main", 0),
    ]
    code, lines, _ = check("--all-namespaces", "--fail-on-warn", "config.json", cwd=NS)
    assert lines[-2] == "3 tests, 0 passed, 1 warning, 2 failures, 0 exceptions"
    assert code == 2


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("-n", "nope"), "namespace 'nope' matches no package"),
        (("-n", "zz*"), "no package"),
        (("-n", "lib"), "no deny, violation or warn rules"),
    ],
)
def test_namespace_checking_nothing_fails_closed(args: tuple[str, ...], needle: str) -> None:
    # Deliberate difference: conftest prints "0 tests, 0 passed ..." and exits 0.
    code, lines, err = check(*args, "config.json", cwd=NS)
    assert code == 3
    assert needle in err
    assert lines == [""]


# ---- data, combine, prints, file info ---------------------------------------------------------


def test_data_files_are_available_to_policies() -> None:
    code, lines, _ = check("-d", "exclusions", "ssh-service.yaml", cwd=FIXTURES / "data")
    assert lines[0] == "FAIL - ssh-service.yaml - main - Service bastion exposes denied port 22"
    assert code == 1
    code, _, _ = check("ssh-service.yaml", cwd=FIXTURES / "data")
    assert code == 0  # without the data the rule has nothing to compare with


def test_combine_evaluates_one_combined_document() -> None:
    code, lines, _ = check(
        "--combine", "../k8s/deployment.yaml", "../k8s/multi.yaml", cwd=FIXTURES / "combine"
    )
    assert lines == [
        "FAIL - Combined - main - name web is used twice",
        "",
        "1 test, 0 passed, 0 warnings, 1 failure, 0 exceptions",
        "",
    ]
    assert code == 1


def test_print_output_and_conftest_file_data() -> None:
    code, lines, _ = check("../k8s/deployment.yaml", cwd=FIXTURES / "misc")
    assert lines[:2] == ["PRNT   policy/main.rego:4: checking web", ""]
    assert (
        "FAIL - ../k8s/deployment.yaml - main - deployment.yaml: web is not allowed here" in lines
    )
    assert code == 1


# ---- output formats ---------------------------------------------------------------------------


def test_json_output_matches_conftest_layout() -> None:
    result = run_cli("check", "-o", "json", "deployment.yaml", cwd=K8S)
    assert result.code == 1
    assert result.stdout == (
        "[\n"
        "\t{\n"
        '\t\t"filename": "deployment.yaml",\n'
        '\t\t"namespace": "main",\n'
        '\t\t"successes": 2,\n'
        '\t\t"failures": [\n'
        "\t\t\t{\n"
        '\t\t\t\t"msg": "Containers must not run as root in Deployment web",\n'
        '\t\t\t\t"metadata": {\n'
        '\t\t\t\t\t"query": "data.main.deny"\n'
        "\t\t\t\t}\n"
        "\t\t\t},\n"
        "\t\t\t{\n"
        '\t\t\t\t"msg": "Deployment web must run at least 2 replicas",\n'
        '\t\t\t\t"metadata": {\n'
        '\t\t\t\t\t"details": {\n'
        '\t\t\t\t\t\t"replicas": 1\n'
        "\t\t\t\t\t},\n"
        '\t\t\t\t\t"query": "data.main.violation"\n'
        "\t\t\t\t}\n"
        "\t\t\t}\n"
        "\t\t]\n"
        "\t}\n"
        "]\n"
    )


def test_table_output() -> None:
    # output/table.go: successes, exceptions, warnings, failures; header upper-case, centred.
    result = run_cli("check", "-o", "table", "service.yaml", cwd=K8S)
    wide = "─" * 52
    success = "│ success │ service.yaml │ main      │ SUCCESS" + " " * 44 + "│"
    assert result.stdout.splitlines() == [
        f"┌─────────┬──────────────┬───────────┬{wide}┐",
        "│ RESULT  │     FILE     │ NAMESPACE │" + " " * 22 + "MESSAGE" + " " * 23 + "│",
        f"├─────────┼──────────────┼───────────┼{wide}┤",
        success,
        success,
        success,
        "│ warning │ service.yaml │ main      │ Service frontend is exposed through a "
        "LoadBalancer │",
        f"└─────────┴──────────────┴───────────┴{wide}┘",
    ]
    assert result.code == 0


def test_regopy_engine_counts_the_same() -> None:
    _, lines, _ = check("--engine", "regopy", "multi.yaml")
    assert lines[-2] == "12 tests, 9 passed, 1 warning, 2 failures, 0 exceptions"


# ---- errors: fail closed, one line naming the file --------------------------------------------


def test_unknown_extension_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("kind: Deployment\n")
    code, _, err = check("-p", str(K8S / "policy"), str(tmp_path / "notes.txt"))
    assert code == 2
    assert err.count("\n") == 1 and "notes.txt: unknown file type 'txt'" in err


def test_malformed_terraform_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "x" "y" {\n')
    code, _, err = check("-p", str(K8S / "policy"), str(tmp_path / "main.tf"))
    assert code == 2
    assert "main.tf" in err and "invalid HCL" in err


def test_malformed_json_and_yaml_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"kind": \n')
    code, _, err = check("-p", str(K8S / "policy"), str(tmp_path / "bad.json"))
    assert code == 2 and "bad.json:2:1: invalid JSON" in err
    (tmp_path / "bad.yaml").write_text("kind: Service\n---\nmetadata: [\n")
    code, _, err = check("-p", str(K8S / "policy"), str(tmp_path / "bad.yaml"))
    assert code == 2 and "bad.yaml:4: invalid YAML" in err


def test_missing_policy_directory_is_an_error(tmp_path: Path) -> None:
    code, _, err = check("-p", str(tmp_path / "nothing"), "good.yaml")
    assert code == 2
    assert "no such policy file or directory" in err


def test_boolean_deny_is_a_policy_error_even_with_no_fail() -> None:
    # conftest counts a true `deny if ...` as passed; a gate must not.
    code, lines, err = check("--no-fail", "../k8s/deployment.yaml", cwd=FIXTURES / "boolean")
    assert code == 3
    assert "rule data.main.deny is bool true" in err
    assert lines == [""]


def test_unknown_output_format_is_a_usage_error() -> None:
    code, _, err = check("-o", "xunit", "good.yaml")
    assert code == 2
    assert "--output: unknown format 'xunit'" in err
