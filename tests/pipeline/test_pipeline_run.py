"""`gatekeeper pipeline run`: the stages of pipeline.yaml, locally, stopping at the first failure.

The first tests use small pipelines of `python -c` steps; the end-to-end tests at the bottom
scaffold real services and run real semgrep, a real CycloneDX SBOM and the real gate.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.scaffold.helpers import make_wheel, scaffold, tool_env

OUT = ".gatekeeper/out"


def _pipeline(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pipeline.yaml").write_text(text)
    return root


def _py(code: str) -> str:
    return json.dumps(["python", "-c", code])


def test_stages_run_in_order_and_stop_at_the_first_failure(tmp_path: Path) -> None:
    root = _pipeline(
        tmp_path / "svc",
        f"""version: 1
stages:
  - name: one
    steps: [{_py("open('one.txt', 'w').write('1')")}]
  - name: two
    steps:
      - {_py("import sys; print('broken build'); sys.exit(4)")}
  - name: three
    steps: [{_py("open('three.txt', 'w').write('3')")}]
""",
    )
    result = run_cli("pipeline", "run", "-C", str(root), env=tool_env())
    assert result.code == 1
    assert "pipeline stopped at stage 'two'" in result.stdout
    assert "(exit code 4)" in result.stdout
    assert "broken build" in result.stdout  # the failed stage's output is shown
    assert (root / "one.txt").exists()
    assert not (root / "three.txt").exists()
    assert "broken build" in (root / OUT / "logs/two.log").read_text()
    record = json.loads((root / OUT / "pipeline-run.json").read_text())
    assert [s["status"] for s in record["stages"]] == ["passed", "failed"]


def test_until_stops_after_the_named_stage(tmp_path: Path) -> None:
    root = _pipeline(
        tmp_path / "svc",
        f"""version: 1
stages:
  - name: one
    steps: [{_py("open('one.txt', 'w').write('1')")}]
  - name: two
    steps: [{_py("open('two.txt', 'w').write('2')")}]
""",
    )
    result = run_cli("pipeline", "run", "-C", str(root), "--until", "one", env=tool_env())
    assert result.code == 0, result.stdout + result.stderr
    assert (root / "one.txt").exists()
    assert not (root / "two.txt").exists()
    unknown = run_cli("pipeline", "run", "-C", str(root), "--until", "nine")
    assert unknown.code == 2
    assert "no such stage (stages: one, two)" in unknown.stderr


def test_network_stage_is_skipped_offline_and_its_evidence_left_out(tmp_path: Path) -> None:
    root = _pipeline(
        tmp_path / "svc",
        f"""version: 1
stages:
  - name: scan
    network: true
    steps: [{_py("open('.gatekeeper/out/scan.json', 'w').write('x')")}]
    artifacts: [.gatekeeper/out/scan.json]
  - name: gate
    gate:
      evidence: [.gatekeeper/out/scan.json]
""",
    )
    result = run_cli("pipeline", "run", "-C", str(root), env=tool_env())
    # With its only evidence skipped, the gate has nothing to judge: bad input, never a pass.
    assert result.code == 2, result.stdout + result.stderr
    assert "without .gatekeeper/out/scan.json: stage scan was skipped" in result.stdout
    assert "no evidence given" in result.stdout


def test_declared_artifact_missing_fails_the_stage(tmp_path: Path) -> None:
    root = _pipeline(
        tmp_path / "svc",
        f"""version: 1
stages:
  - name: sbom
    steps: [{_py("pass")}]
    artifacts: [.gatekeeper/out/sbom.cdx.json]
""",
    )
    result = run_cli("pipeline", "run", "-C", str(root), env=tool_env())
    assert result.code == 1
    assert "the stage did not produce .gatekeeper/out/sbom.cdx.json" in result.stdout


def test_stale_artifacts_from_an_earlier_run_are_removed_first(tmp_path: Path) -> None:
    root = _pipeline(
        tmp_path / "svc",
        f"""version: 1
stages:
  - name: sbom
    steps: [{_py("import sys; sys.exit(1)")}]
    artifacts: [.gatekeeper/out/sbom.cdx.json]
""",
    )
    (root / OUT).mkdir(parents=True)
    (root / OUT / "sbom.cdx.json").write_text("{}")
    assert run_cli("pipeline", "run", "-C", str(root), env=tool_env()).code == 1
    assert not (root / OUT / "sbom.cdx.json").exists()


def test_missing_tool_fails_the_stage_clearly(tmp_path: Path) -> None:
    root = _pipeline(
        tmp_path / "svc",
        "version: 1\nstages:\n  - name: sast\n    steps: [[no-such-scanner-xyz, scan]]\n",
    )
    result = run_cli("pipeline", "run", "-C", str(root), env=tool_env())
    assert result.code == 1
    assert "command not found: no-such-scanner-xyz" in result.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nstages:\n  - name: a\n    steps:\n      - run: rm -rf /\n", "argv"),
        (
            "version: 1\nstages:\n  - name: a\n    steps: [[x]]\n    artifacts: [../../etc/x]\n",
            "must stay inside the service directory",
        ),
        (
            "version: 1\nstages:\n  - name: a\n  - name: a\n    steps: [[x]]\n",
            "either `steps` or `gate`",
        ),
        ("version: 2\nstages: []\n", "version"),
        ("stages: [\n", "invalid YAML"),
    ],
)
def test_invalid_pipeline_file_is_bad_input(tmp_path: Path, text: str, message: str) -> None:
    root = _pipeline(tmp_path / "svc", text)
    result = run_cli("pipeline", "run", "-C", str(root))
    assert result.code == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "pipeline.yaml" in result.stderr
    assert not (root / "x").exists()


def test_no_pipeline_file_is_bad_input(tmp_path: Path) -> None:
    result = run_cli("pipeline", "run", "-C", str(tmp_path))
    assert result.code == 2
    assert "pipeline.yaml" in result.stderr


# ---------------------------------------------------------------------------------------------
# End to end: real services, real semgrep, real SBOM, real gate
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("template") / "svc"
    scaffold(dest, "python-service", "--set", "name=orders-api")
    return dest


@pytest.fixture
def service(service_template: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "svc"
    shutil.copytree(service_template, dest, symlinks=True)
    return dest


def _decision(root: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((root / OUT / "decision.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.e2e
def test_python_service_pipeline_passes_end_to_end(service: Path) -> None:
    result = run_cli("pipeline", "run", "-C", str(service), env=tool_env())
    assert result.code == 0, result.stdout + result.stderr
    assert "pipeline passed: test, sbom, sast, gate; skipped: dependency-scan" in result.stdout
    sbom = json.loads((service / OUT / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["metadata"]["component"]["name"] == "orders-api"
    semgrep = json.loads((service / OUT / "semgrep.json").read_text())
    assert semgrep["results"] == [] and semgrep["errors"] == []
    assert {"src/orders_api/app.py"} <= set(semgrep["paths"]["scanned"])
    decision = _decision(service)
    assert decision["outcome"] == "pass"
    assert {i["kind"] for i in decision["inputs"]} == {"cyclonedx", "semgrep"}
    for report in ("gatekeeper.sarif", "gatekeeper-junit.xml", "gatekeeper.md"):
        assert (service / OUT / report).is_file()


@pytest.mark.e2e
def test_planted_shell_true_stops_the_pipeline_at_the_gate(service: Path) -> None:
    (service / "src/orders_api/admin.py").write_text(
        "import subprocess\n\n\ndef run(cmd: str) -> None:\n"
        "    subprocess.run(cmd, shell=True, check=True)\n"
    )
    result = run_cli("pipeline", "run", "-C", str(service), env=tool_env())
    assert result.code == 1, result.stdout + result.stderr
    assert "pipeline stopped at stage 'gate'" in result.stdout
    assert "python-subprocess-shell-true" in result.stdout
    decision = _decision(service)
    assert decision["outcome"] == "fail"
    [violation] = [v for v in decision["violations"] if v["level"] == "deny"]
    assert violation["policy"] == "GK-SAST-001"
    assert violation["subject"] == "src/orders_api/admin.py:5"


@pytest.mark.e2e
def test_planted_denied_licence_stops_the_pipeline_at_the_gate(service: Path) -> None:
    vendor = service / "vendor"
    vendor.mkdir()
    wheel = make_wheel(vendor, "copyleftlib", "2.0.0", "GPL-3.0-only")
    (service / "requirements.txt").write_text(f"./vendor/{wheel.name}\n")
    result = run_cli("pipeline", "run", "-C", str(service), env=tool_env())
    assert result.code == 1, result.stdout + result.stderr
    assert "pipeline stopped at stage 'gate'" in result.stdout
    assert "copyleftlib@2.0.0 is licensed under GPL-3.0-only" in result.stdout
    assert [v["policy"] for v in _decision(service)["violations"] if v["level"] == "deny"] == [
        "GK-LIC-001"
    ]


@pytest.mark.e2e
def test_failing_service_test_stops_before_the_scans(service: Path) -> None:
    test_file = service / "tests/test_app.py"
    test_file.write_text(test_file.read_text().replace('== "ok"', '== "not ok"'))
    result = run_cli("pipeline", "run", "-C", str(service), env=tool_env())
    assert result.code == 1
    assert "pipeline stopped at stage 'test'" in result.stdout
    assert "test_healthz_returns_200" in result.stdout
    assert not (service / OUT / "decision.json").exists()


@pytest.mark.e2e
def test_python_library_pipeline_passes_end_to_end(tmp_path: Path) -> None:
    dest = tmp_path / "lib"
    scaffold(dest, "python-library", "--set", "name=duration-tools")
    result = run_cli("pipeline", "run", "-C", str(dest), env=tool_env())
    assert result.code == 0, result.stdout + result.stderr
    assert _decision(dest)["outcome"] == "pass"
