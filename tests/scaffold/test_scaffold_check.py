"""`gatekeeper scaffold check`: golden-path conformance as Rego over the parsed CI files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gatekeeper.scaffold.ci import parse_commands
from tests.conftest import run_cli
from tests.scaffold.helpers import scaffold

WORKFLOW = ".github/workflows/ci.yml"


@pytest.fixture
def service(tmp_path: Path) -> Path:
    dest = tmp_path / "svc"
    scaffold(dest, "python-service", "--set", "name=orders-api")
    return dest


def _edit_workflow(service: Path, edit: object) -> None:
    path = service / WORKFLOW
    workflow = yaml.safe_load(path.read_text())
    edit(workflow)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(workflow, sort_keys=False))


def _steps(workflow: dict) -> list[dict]:  # type: ignore[type-arg]
    return workflow["jobs"]["build"]["steps"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("engine", ["regorus", "regopy"])
def test_fresh_service_passes(service: Path, engine: str) -> None:
    result = run_cli("scaffold", "check", str(service), "--engine", engine)
    assert result.code == 0, result.stdout + result.stderr
    assert result.stdout.startswith("PASS")


def test_removing_the_gate_step_fails_naming_the_step(service: Path) -> None:
    _edit_workflow(
        service,
        lambda w: _steps(w).__setitem__(
            slice(None), [s for s in _steps(w) if s.get("name") != "gate"]
        ),
    )
    result = run_cli("scaffold", "check", str(service))
    assert result.code == 1, result.stdout + result.stderr
    assert f"{WORKFLOW}: missing step: gate (gatekeeper gate run)" in result.stdout
    assert "GK-GP-001" in result.stdout
    assert ".gitlab-ci.yml" not in result.stdout  # the GitLab file still has its gate


def test_removing_the_gitlab_sast_job_fails_naming_it(service: Path) -> None:
    path = service / ".gitlab-ci.yml"
    config = yaml.safe_load(path.read_text())
    del config["sast"]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_cli("scaffold", "check", str(service))
    assert result.code == 1
    assert ".gitlab-ci.yml: missing step: sast (semgrep)" in result.stdout


def test_gate_before_the_scans_fails(service: Path) -> None:
    def move_gate_first(workflow: dict) -> None:  # type: ignore[type-arg]
        steps = _steps(workflow)
        gate = next(s for s in steps if s.get("name") == "gate")
        steps.remove(gate)
        steps.insert(3, gate)

    _edit_workflow(service, move_gate_first)
    result = run_cli("scaffold", "check", str(service))
    assert result.code == 1
    assert "gate step 'gate' must run after the sast step 'sast'" in result.stdout


def test_gate_that_may_fail_or_lacks_outputs_fails(service: Path) -> None:
    def weaken(workflow: dict) -> None:  # type: ignore[type-arg]
        gate = next(s for s in _steps(workflow) if s.get("name") == "gate")
        gate["run"] = "gatekeeper gate run -o json=d.json sbom.json || true"

    _edit_workflow(service, weaken)
    result = run_cli("scaffold", "check", str(service))
    assert result.code == 1
    assert "ignores the gate's exit code" in result.stdout
    assert "must write a sarif report" in result.stdout


def test_continue_on_error_on_the_gate_fails(service: Path) -> None:
    _edit_workflow(
        service,
        lambda w: next(s for s in _steps(w) if s.get("name") == "gate").__setitem__(
            "continue-on-error", True
        ),
    )
    result = run_cli("scaffold", "check", str(service))
    assert result.code == 1
    assert "is allowed to fail" in result.stdout


def test_template_older_than_the_minimum_fails(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    scaffold(dest, "python-service", "--set", "name=orders-api", "--version", "1.0.0")
    data = tmp_path / "minimums.yaml"
    data.write_text(
        "settings:\n  scaffold:\n    min_template_versions:\n      python-service: 1.1.0\n"
    )
    result = run_cli("scaffold", "check", str(dest), "-d", str(data))
    assert result.code == 1
    assert "template python-service 1.0.0 is older than the minimum 1.1.0" in result.stdout
    assert run_cli("scaffold", "check", str(dest)).code == 0  # default minimum is 1.0.0


def test_platform_policy_extends_the_check(service: Path, tmp_path: Path) -> None:
    policy = tmp_path / "extra.rego"
    policy.write_text(
        "package platform.deploy\n\n"
        'deny contains "deploy must target staging first" if {\n'
        '\tsome p in input.pipelines\n\tsome s in p.steps\n\t"deploy" in s.kinds\n'
        '\tsome c in s.commands\n\t"production" in c.argv\n}\n'
    )
    result = run_cli("scaffold", "check", str(service), "-p", str(policy))
    assert result.code == 1
    assert "deploy must target staging first" in result.stdout


def test_malformed_workflow_is_bad_input(service: Path) -> None:
    (service / WORKFLOW).write_text("jobs: [unclosed\n")
    result = run_cli("scaffold", "check", str(service))
    assert result.code == 2
    assert WORKFLOW in result.stderr


def test_json_format_includes_the_parsed_input(service: Path) -> None:
    result = run_cli("scaffold", "check", str(service), "--format", "json")
    assert result.code == 0
    document = result.json()
    assert document["outcome"] == "pass"
    systems = {p["system"] for p in document["input"]["pipelines"]}
    assert systems == {"github", "gitlab"}


def test_parse_commands_splits_shell_operators() -> None:
    commands = parse_commands(
        "set -e\npython -m pytest -q && semgrep scan --metrics=off src\n"
        "pip-audit -f json \\\n  -o out.json || true\n"
        "gatekeeper gate run -o sarif=g.sarif --output=junit=j.xml x.json | tee log"
    )
    kinds = [(c["tool"], c["kind"], c["may_fail"]) for c in commands]
    assert kinds == [
        ("set", None, False),
        ("pytest", "test", False),
        ("semgrep", "sast", False),
        ("pip-audit", "dependency-scan", True),
        ("true", None, False),
        ("gatekeeper", "gate", True),  # piped: its exit code is tee's
        ("tee", None, False),
    ]
    assert commands[5]["outputs"] == ["sarif", "junit"]
