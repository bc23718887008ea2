"""Helpers shared by the scaffold and pipeline tests."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import CliResult, run_cli

BIN = Path(sys.executable).parent


def scaffold(dest: Path, template: str = "python-service", *args: str) -> CliResult:
    """`gatekeeper scaffold new` without a terminal, as CI would run it."""
    result = run_cli("scaffold", "new", template, str(dest), *args)
    assert result.code == 0, result.stderr
    return result


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root (relative POSIX path -> content)."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def tool_env() -> dict[str, str]:
    """PATH with the test interpreter's tools first (semgrep, cyclonedx-py, pytest)."""
    return {"PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")])}


def run_service_tests(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"},
    )


def make_wheel(directory: Path, name: str, version: str, license_id: str) -> Path:
    """A minimal, valid pure-Python wheel declaring ``license_id`` (no build backend needed)."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nLicense: {license_id}\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, content in files.items():
            archive.writestr(member, content)
            digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            record.append(f"{member},sha256={digest.decode()},{len(content)}")
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return path
