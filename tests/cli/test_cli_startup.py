"""`gatekeeper --help` and `--version` answer without importing what no command needs yet.

Measured by what a fresh interpreter has imported (sys.modules), not by timing: the web
stack, HTTP client, templating, signing and the pydantic models stay out until a command
that uses them runs. The help lines come from a static table; they must stay the commands'
own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from gatekeeper.cli import COMMANDS, main
from tests.conftest import run_cli

HEAVY = ("fastapi", "uvicorn", "httpx", "jinja2", "starlette", "cryptography", "pydantic")

_PROBE = """
import json, sys
from gatekeeper.cli import main
try:
    main(%r)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _imported_by(args: list[str]) -> tuple[str, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE % (args,)], capture_output=True, text=True, timeout=60
    )
    modules = json.loads(proc.stderr.strip().splitlines()[-1])
    return proc.stdout, {name.split(".")[0] for name in modules} | set(modules)


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_import_no_heavy_library(args: list[str]) -> None:
    out, modules = _imported_by(args)
    assert out.strip()  # it did answer
    assert not set(HEAVY) & modules, sorted(set(HEAVY) & modules)
    # No command module either: each is imported when its command runs.
    assert not {m for m in modules if m.startswith("gatekeeper.cli.")}


def test_gate_run_does_not_import_the_web_stack_or_templates() -> None:
    _, modules = _imported_by(["gate", "--help"])
    assert "gatekeeper.cli.gate" in modules
    assert not {"fastapi", "uvicorn", "jinja2", "starlette"} & modules


def test_a_gate_run_on_plain_evidence_skips_the_purl_and_license_libraries(
    tmp_path: Path,
) -> None:
    # Plain purls and common SPDX ids are read without packageurl-python and
    # license-expression (~100 ms of start-up); the ledger's process pool is not imported.
    sbom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "components": [
            {
                "type": "library",
                "name": "a",
                "version": "1.0.0",
                "purl": "pkg:npm/a@1.0.0",
                "licenses": [{"license": {"id": "MIT"}}],
            },
            {
                "type": "library",
                "name": "b",
                "version": "2.0.0",
                "purl": "pkg:npm/b@2.0.0",
                "licenses": [{"expression": "MIT OR Apache-2.0"}],
            },
        ],
    }
    grype = {
        "descriptor": {"name": "grype"},
        "matches": [
            {
                "vulnerability": {"id": "CVE-2026-1", "severity": "High"},
                "artifact": {"name": "a", "version": "1.0.0", "purl": "pkg:npm/a@1.0.0"},
            }
        ],
    }
    (tmp_path / "sbom.cdx.json").write_text(json.dumps(sbom))
    (tmp_path / "grype.json").write_text(json.dumps(grype))
    args = ["gate", "run", str(tmp_path / "sbom.cdx.json"), str(tmp_path / "grype.json")]
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE % (args,)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    modules = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert "gatekeeper.gate.run" in modules and "regorus" not in modules  # judged in a worker
    assert not {"packageurl", "license_expression", "concurrent.futures.process"} & modules


def test_help_lists_every_command_with_its_own_help_line() -> None:
    ctx = click.Context(main)
    for name, lazy in COMMANDS.items():
        command = main.get_command(ctx, name)
        assert command is not None, name
        own = " ".join((command.help or "").split("\n\n")[0].split())
        assert lazy.help == own, name
    assert main.list_commands(ctx) == sorted(COMMANDS)


def test_policy_impact_is_a_policy_subcommand() -> None:
    policy = main.get_command(click.Context(main), "policy")
    assert isinstance(policy, click.Group) and "impact" in policy.commands


def test_report_formats_are_the_renderers() -> None:
    from gatekeeper.cli.audit import REPORT_FORMATS
    from gatekeeper.ledger.report_render import RENDERERS

    assert tuple(sorted(RENDERERS)) == REPORT_FORMATS


def test_the_fast_exit_keeps_output_and_exit_code(tmp_path: Path) -> None:
    from tests.cli.test_gate_cli import EVIDENCE, RELEASE

    result = run_cli(
        "gate",
        "run",
        "--release",
        RELEASE,
        "--format",
        "json",
        "--no-ledger",
        *EVIDENCE,
        cwd=tmp_path,
    )
    assert result.code == 1, result.stderr  # the example release fails its gate
    assert json.loads(result.stdout)["outcome"] == "fail"  # every byte flushed


_CLOSED_PIPE = """
import click, sys
from gatekeeper.cli import main, run

@main.command("many-lines")
def many_lines():
    for i in range(200_000):
        sys.stdout.write(f"line {i}\\n")  # buffered: the last flush happens at exit

sys.argv = ["gatekeeper", "many-lines"]
run()
"""


def test_the_fast_exit_is_never_0_when_stdout_could_not_be_flushed() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLOSED_PIPE], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.read(16)
    proc.stdout.close()
    code = proc.wait(timeout=60)
    assert code != 0
