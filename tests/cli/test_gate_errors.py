"""On exit 2/3 the requested reports still say what went wrong; reports never overwrite inputs;
a decision that could not be recorded is void, never a printed pass."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from tests.conftest import EXAMPLES, CliResult, run_cli

SBOM = EXAMPLES / "evidence" / "sbom.cdx.json"


def gate(*args: str, cwd: Path) -> CliResult:
    return run_cli("gate", "run", *args, cwd=cwd)


def outputs(tmp_path: Path) -> list[str]:
    out = tmp_path / "out"
    return [f"-o{name}={out / file}" for name, file in _FILES.items()]


_FILES = {"sarif": "gate.sarif", "junit": "gate.xml", "json": "gate.json", "markdown": "gate.md"}


def assert_error_reports(tmp_path: Path, needle: str) -> None:
    out = tmp_path / "out"
    sarif = json.loads((out / "gate.sarif").read_text("utf-8"))
    run = sarif["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    [result] = run["results"]
    assert result["ruleId"] == "gatekeeper/error" and result["level"] == "error"
    assert needle in result["message"]["text"]
    junit = SafeET.parse(out / "gate.xml").getroot()
    assert junit.get("errors") == "1"
    assert needle in (junit.find(".//error").get("message") or "")  # type: ignore[union-attr]
    decision = json.loads((out / "gate.json").read_text("utf-8"))
    assert decision["outcome"] == "error" and needle in decision["errors"][0]
    assert "ERROR" in (out / "gate.md").read_text("utf-8")


def test_bad_input_still_writes_every_report_with_one_error(tmp_path: Path) -> None:
    result = gate(
        "--no-ledger", *outputs(tmp_path), "--release", "missing.yaml", str(SBOM), cwd=tmp_path
    )
    assert result.code == 2
    assert_error_reports(tmp_path, "missing.yaml: file not found")


def test_policy_error_still_writes_every_report(tmp_path: Path) -> None:
    broken = tmp_path / "broken.rego"
    broken.write_text("package broken\n\ndeny contains msg if {\n", "utf-8")
    result = gate("--no-ledger", *outputs(tmp_path), "-p", str(broken), str(SBOM), cwd=tmp_path)
    assert result.code == 3, result.stderr
    assert_error_reports(tmp_path, "broken.rego")


def test_unrecorded_decision_is_void_not_pass(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the ledger's folder should be", "utf-8")
    policy = tmp_path / "ok.rego"
    policy.write_text('package ok\n\ndeny contains msg if {\n\tfalse\n\tmsg := "x"\n}\n', "utf-8")
    result = gate(
        "--ledger",
        str(blocker / "ledger.db"),
        "--format",
        "json",
        "-p",
        str(policy),
        *outputs(tmp_path),
        str(SBOM),
        cwd=tmp_path,
    )
    assert result.code == 3
    assert '"outcome": "pass"' not in result.stdout
    printed = result.json()
    assert printed["outcome"] == "error"
    assert "decision void: not recorded in the ledger" in printed["errors"][-1]
    written = json.loads((tmp_path / "out" / "gate.json").read_text("utf-8"))
    assert written["outcome"] == "error"


@pytest.mark.parametrize("target", ["evidence", "release", "policy-dir", "data", "waivers"])
def test_report_never_overwrites_an_input(tmp_path: Path, target: str) -> None:
    sbom = tmp_path / "sbom.cdx.json"
    shutil.copy(SBOM, sbom)
    release = tmp_path / "release.yaml"
    release.write_text("service: svc\n", "utf-8")
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.rego").write_text("package p\n", "utf-8")
    data = tmp_path / "data.json"
    data.write_text("{}", "utf-8")
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers: []\n", "utf-8")
    victim = {
        "evidence": sbom,
        "release": release,
        "policy-dir": policies / "report.json",
        "data": data,
        "waivers": waivers,
    }[target]
    before = victim.read_bytes() if victim.exists() else None
    result = gate(
        "--no-ledger",
        "-o",
        f"json={victim}",
        "--release",
        str(release),
        "-p",
        str(policies),
        "-d",
        str(data),
        "--waivers",
        str(waivers),
        str(sbom),
        cwd=tmp_path,
    )
    assert result.code == 2, result.stderr
    assert "refusing to overwrite an input of this run" in result.stderr
    assert "Traceback" not in result.stderr
    assert (victim.read_bytes() if victim.exists() else None) == before
