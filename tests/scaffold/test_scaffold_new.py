"""`gatekeeper scaffold list/new`: templates render into working, validated services."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.scaffold.helpers import BIN, run_service_tests, scaffold, tree

TEMPLATES = ("python-service", "python-library")


def test_list_shows_both_templates_with_versions() -> None:
    result = run_cli("scaffold", "list")
    assert result.code == 0, result.stderr
    assert "python-service 1.2.1  (versions: 1.0.0, 1.1.0, 1.2.0, 1.2.1)" in result.stdout
    assert "python-library 1.0.0" in result.stdout
    assert "--set name=<str> (required)" in result.stdout


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.e2e
def test_generated_project_passes_its_own_tests(tmp_path: Path, template: str) -> None:
    dest = tmp_path / "svc"
    scaffold(dest, template, "--set", "name=orders-api")
    tests = run_service_tests(dest)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout


@pytest.mark.parametrize("template", TEMPLATES)
def test_generated_ci_files_validate_against_schemastore(tmp_path: Path, template: str) -> None:
    dest = tmp_path / "svc"
    scaffold(dest, template, "--set", "name=orders-api")
    for schema, path in (
        ("vendor.github-workflows", dest / ".github/workflows/ci.yml"),
        ("vendor.gitlab-ci", dest / ".gitlab-ci.yml"),
    ):
        proc = subprocess.run(
            [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_record_holds_template_version_answers_and_hashes(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    scaffold(dest, "python-service", "--set", "name=orders-api", "--set", "port=9000")
    record = json.loads((dest / ".gatekeeper/template.json").read_text())
    assert record["schema"] == "gatekeeper.template-record/v1"
    assert (record["template"], record["version"]) == ("python-service", "1.2.1")
    assert record["answers"]["name"] == "orders-api"
    assert record["answers"]["package"] == "orders_api"  # default derived from name
    assert record["answers"]["port"] == 9000  # typed, not the string "9000"
    assert set(record["files"]) >= {"src/orders_api/app.py", "gatekeeper.yaml", "pipeline.yaml"}
    assert "DEFAULT_PORT = 9000" in (dest / "src/orders_api/app.py").read_text()


def test_service_config_has_the_deploy_section(tmp_path: Path) -> None:
    import yaml

    dest = tmp_path / "svc"
    scaffold(dest, "python-service", "--set", "name=orders-api", "--set", "replicas=3")
    config = yaml.safe_load((dest / "gatekeeper.yaml").read_text())
    assert config["deploy"]["start"] == ["python", "-m", "orders_api"]
    assert config["deploy"]["port_env"] == "PORT"
    assert config["deploy"]["health_path"] == "/healthz"
    assert config["deploy"]["replicas"] == 3


def test_answers_file_and_set_combine_and_set_wins(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("name: from-file\nowner: payments\nport: 8181\n")
    dest = tmp_path / "svc"
    scaffold(dest, "python-service", "--answers", str(answers), "--set", "port=8282")
    record = json.loads((dest / ".gatekeeper/template.json").read_text())["answers"]
    assert (record["name"], record["owner"], record["port"]) == ("from-file", "payments", 8282)


def test_dry_run_lists_files_and_writes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    result = run_cli(
        "scaffold", "new", "python-service", str(dest), "--set", "name=orders-api", "--dry-run"
    )
    assert result.code == 0, result.stderr
    assert "would write" in result.stdout
    assert "src/orders_api/app.py" in result.stdout
    assert not dest.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "name=Bad_Name"), "parameter name"),
        (("--set", "name=../x"), "parameter name"),
        (("--set", "name=ok-name", "--set", "package=../x"), "parameter package"),
        (("--set", "name=ok-name", "--set", "port=80"), "must be at least 1024"),
        (("--set", "name=ok-name", "--set", "python_version=2.7"), "must be one of"),
        (("--set", "name=ok-name", "--set", "description=a\nb"), "control characters"),
        (("--set", "name=ok-name", "--set", "colour=red"), "unknown key 'colour'"),
        ((), "missing required parameter 'name'"),
    ],
)
def test_bad_parameters_exit_2_and_write_nothing(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    dest = tmp_path / "svc"
    result = run_cli("scaffold", "new", "python-service", str(dest), *args)
    assert result.code == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert not dest.exists()


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / "README.md").write_text("mine\n")
    result = run_cli("scaffold", "new", "python-service", str(dest), "--set", "name=orders-api")
    assert result.code == 2
    assert "would overwrite README.md" in result.stderr
    assert tree(dest) == {"README.md": b"mine\n"}  # nothing else written either

    forced = run_cli(
        "scaffold", "new", "python-service", str(dest), "--set", "name=orders-api", "--force"
    )
    assert forced.code == 0, forced.stderr
    assert "README.md (overwrite)" in forced.stdout
    assert (dest / "README.md").read_text().startswith("# orders-api")


def test_refuses_to_write_through_a_symlink_in_dest(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / "src").symlink_to(outside, target_is_directory=True)
    result = run_cli(
        "scaffold", "new", "python-service", str(dest), "--set", "name=orders-api", "--force"
    )
    assert result.code == 2
    assert "symlink" in result.stderr
    assert tree(outside) == {}
    assert not (dest / "README.md").exists()


def _custom_template(root: Path, files: dict[str, str], params: str = "") -> Path:
    version = root / "evil" / "1.0.0"
    (version / "files").mkdir(parents=True)
    (version / "template.yaml").write_text(
        "id: evil\nversion: 1.0.0\nparameters:\n  - name: name\n    default: x\n" + params
    )
    for name, content in files.items():
        path = version / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


@pytest.mark.parametrize(
    ("files", "params", "message"),
    [
        # A parameter without a pattern still cannot smuggle a separator into a file name.
        ({"{{ name }}.txt": "x"}, "", "would leave its directory"),
        ({"a.txt.jinja": "{{ nope }}"}, "", "is undefined"),
        ({"a.txt.jinja": "{{ ''.__class__.__mro__ }}"}, "", "unsafe"),
        ({"{{ '..' }}/x.txt": "x"}, "", "would leave its directory"),
    ],
)
def test_unsafe_or_broken_templates_exit_2_and_write_nothing(
    tmp_path: Path, files: dict[str, str], params: str, message: str
) -> None:
    templates = _custom_template(tmp_path / "templates", files, params)
    dest = tmp_path / "out"
    result = run_cli(
        "scaffold", "new", "evil", str(dest), "--set", "name=../../x", "--templates", str(templates)
    )
    assert result.code == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert not dest.exists()
    assert not (tmp_path / "x.txt").exists()


def test_unknown_template_names_the_available_ones(tmp_path: Path) -> None:
    result = run_cli("scaffold", "new", "rust-service", str(tmp_path / "x"), "--set", "name=abc")
    assert result.code == 2
    assert "unknown template 'rust-service'" in result.stderr
    assert "python-service" in result.stderr


def test_byte_code_and_tool_caches_in_a_template_are_not_copied(tmp_path: Path) -> None:
    templates = _custom_template(
        tmp_path / "templates",
        {
            "app.py": "print('hi')\n",
            "__pycache__/app.cpython-311.pyc": "not source",
            "pkg/__pycache__/mod.cpython-311.pyc": "not source",
            "pkg/stray.pyc": "not source",
            ".pytest_cache/README.md": "cache",
        },
        "",
    )
    dest = tmp_path / "out"
    result = run_cli(
        "scaffold", "new", "evil", str(dest), "--set", "name=abc", "--templates", str(templates)
    )
    assert result.code == 0, result.stderr
    files = set(tree(dest))
    assert "app.py" in files
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc") or "cache" in f]


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0", "1.2.0", "1.2.1"])
def test_the_service_template_disables_nagle(tmp_path: Path, version: str) -> None:
    dest = tmp_path / "svc"
    scaffold(dest, "python-service", "--set", "name=orders-api", "--version", version)
    app = (dest / "src/orders_api/app.py").read_text()
    assert "disable_nagle_algorithm = True" in app


def test_pipelines_use_the_decision_service_when_it_is_configured(tmp_path: Path) -> None:
    """python-service 1.2.0: the gate and deploy steps get the service's URL, token and pinned
    key from CI settings (empty without them: both then run locally)."""
    import yaml

    dest = tmp_path / "svc"
    scaffold(dest, "python-service", "--set", "name=orders-api")
    workflow = yaml.safe_load((dest / ".github/workflows/ci.yml").read_text())
    steps = {step.get("name"): step for job in workflow["jobs"].values() for step in job["steps"]}
    for name in ("gate", "deploy"):
        env = steps[name]["env"]
        assert env["GATEKEEPER_SERVER"] == "${{ vars.GATEKEEPER_SERVER }}"
        assert env["GATEKEEPER_TOKEN"] == "${{ secrets.GATEKEEPER_TOKEN }}"  # a secret, not a var
        assert env["GATEKEEPER_SERVER_PUBLIC_KEY"] == "gatekeeper-service.pub"
    gitlab = yaml.safe_load((dest / ".gitlab-ci.yml").read_text())
    assert gitlab["variables"]["GATEKEEPER_SERVER_PUBLIC_KEY"] == "gatekeeper-service.pub"
    assert "GATEKEEPER_TOKEN" not in gitlab["variables"]  # masked CI/CD variable, never in the file
    assert "GATEKEEPER_SERVER" in (dest / "README.md").read_text()


def test_pipelines_record_the_commit_time_the_gate_keeps_for_dora(tmp_path: Path) -> None:
    """python-service 1.2.0: before the gate, both pipelines add the commit time (and the
    first commit's time where the CI knows it) to release.yaml, which the gate then accepts."""
    import subprocess

    import yaml

    from gatekeeper.gate.input import load_release

    dest = tmp_path / "svc"
    scaffold(dest, "python-service", "--set", "name=orders-api")
    workflow = yaml.safe_load((dest / ".github/workflows/ci.yml").read_text())
    steps = [step.get("name") for step in workflow["jobs"]["build"]["steps"]]
    assert steps.index("record commit times") < steps.index("gate")
    script = workflow["jobs"]["build"]["steps"][steps.index("record commit times")]["run"]
    first = "${{ github.event.commits[0].timestamp }}"
    assert workflow["jobs"]["build"]["steps"][steps.index("record commit times")]["env"] == {
        "FIRST_COMMIT_TIME": first
    }
    # Run the step's script as the runner would, in a git checkout of the service.
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    git = ["git", "-C", str(dest), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run(
        [*git, "commit", "-q", "-m", "x", "--date", "2026-11-30T10:00:00+01:00"],
        check=True,
        env={"GIT_COMMITTER_DATE": "2026-11-30T10:00:00+01:00", "PATH": "/usr/bin:/bin"},
    )
    env = {"PATH": "/usr/bin:/bin", "FIRST_COMMIT_TIME": "2026-11-29T08:00:00Z"}
    subprocess.run(["bash", "-c", script], cwd=dest, check=True, env=env)
    release = load_release(dest / "release.yaml")
    assert release.commit_time == "2026-11-30T09:00:00Z"
    assert release.first_commit_time == "2026-11-29T08:00:00Z"

    gitlab = yaml.safe_load((dest / ".gitlab-ci.yml").read_text())
    gate = gitlab["gate"]["script"]
    assert any("commit_time: '$CI_COMMIT_TIMESTAMP'" in line for line in gate)
    assert any("CI_MERGE_REQUEST_DIFF_BASE_SHA" in line for line in gate)
    assert gate.index(next(line for line in gate if "gate run" in line)) == len(gate) - 1


_COUNT_RACE = """
import http.client, re, sys, threading, time
from {package}.app import make_server
from {package}.metrics import Metrics

# Widen the window between the handler's work and its count, as a busy worker would.
observe = Metrics.observe
def slow_observe(self, *args):
    time.sleep(0.005)
    observe(self, *args)
Metrics.observe = slow_observe

server = make_server("127.0.0.1", 0)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]
pattern = re.compile(r'http_requests_total{{method="GET",path="other",status="404"}} (\\d+)')
for expected in range(1, {rounds} + 1):
    # Each request on its own connection: another server thread answers /metrics.
    for path in ("/nope", "/metrics"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", path)
        body = connection.getresponse().read().decode()
        connection.close()
    match = pattern.search(body)
    seen = int(match.group(1)) if match else 0
    if seen != expected:
        print(f"round {{expected}}: /metrics counted {{seen}} 404s")
        sys.exit(1)
server.shutdown()
"""


def test_a_request_is_counted_before_its_answer_reaches_the_client(tmp_path: Path) -> None:
    """python-service 1.2.1: a client that has its answer and asks /metrics next sees it counted
    (1.2.0 counted after writing the body, so the next request could be served first)."""
    import os
    import sys

    dest = tmp_path / "svc"
    scaffold(dest, "python-service", "--set", "name=orders-api")
    proc = subprocess.run(
        [sys.executable, "-c", _COUNT_RACE.format(package="orders_api", rounds=40)],
        cwd=dest,
        env={**os.environ, "PYTHONPATH": str(dest / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_service_keeps_local_state_out_of_git_but_not_its_template_record(
    tmp_path: Path,
) -> None:
    dest = tmp_path / "svc"
    scaffold(dest, "python-service", "--set", "name=orders-api")
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    local_state = [
        ".gatekeeper/ledger.db",
        ".gatekeeper/deploy/orders-api/state.json",
        ".gatekeeper/verified/0123.json",
    ]
    for path, ignored in [*((p, True) for p in local_state), (".gatekeeper/template.json", False)]:
        proc = subprocess.run(["git", "check-ignore", "-q", path], cwd=dest, check=False)
        assert (proc.returncode == 0) == ignored, path
