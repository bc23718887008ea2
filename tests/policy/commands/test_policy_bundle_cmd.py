"""`gatekeeper policy bundle`: OPA layout, reproducible bytes, and the gate reading it."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path

from tests.conftest import run_cli
from tests.policy.commands.helpers import EVIDENCE, FIXTURES, LIBRARY, RELEASE


def _members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path, "r:gz") as archive:
        return {m.name: m for m in archive.getmembers()}


def _read(path: Path, name: str) -> bytes:
    with tarfile.open(path, "r:gz") as archive:
        handle = archive.extractfile(name)
        assert handle is not None
        return handle.read()


def test_layout_manifest_and_data(tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    result = run_cli(
        "policy", "bundle", str(FIXTURES / "settings"), "-o", str(out), "--revision", "r-42"
    )
    assert result.code == 0, result.stderr
    assert "revision r-42" in result.stdout
    members = _members(out)
    assert set(members) == {".manifest", "data.json", "tuned.rego"}
    manifest = json.loads(_read(out, ".manifest"))
    assert manifest == {"revision": "r-42", "roots": ["fixture", "limits"], "rego_version": 1}
    assert json.loads(_read(out, "data.json")) == {"limits": {"max": 5}}
    assert _read(out, "tuned.rego") == (FIXTURES / "settings" / "tuned.rego").read_bytes()
    for info in members.values():
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (0, 0, 0, "", "")


def test_tests_are_excluded_unless_asked(tmp_path: Path) -> None:
    plain, full = tmp_path / "plain.tar.gz", tmp_path / "full.tar.gz"
    assert run_cli("policy", "bundle", str(FIXTURES / "failing"), "-o", str(plain)).code == 0
    assert (
        run_cli(
            "policy", "bundle", str(FIXTURES / "failing"), "-o", str(full), "--include-tests"
        ).code
        == 0
    )
    assert "limit_test.rego" not in _members(plain)
    assert "limit_test.rego" in _members(full)
    # A bundle with its tests still runs them.
    tested = run_cli("policy", "test", str(full))
    assert tested.code == 1 and "test_three_is_denied" in tested.stdout


def test_same_input_same_bytes(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(LIBRARY, copy)
    for path in copy.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))  # different mtimes must not matter
    first, second = tmp_path / "1.tar.gz", tmp_path / "2.tar.gz"
    assert run_cli("policy", "bundle", str(LIBRARY), "-o", str(first), "--revision", "v1").code == 0
    assert run_cli("policy", "bundle", str(copy), "-o", str(second), "--revision", "v1").code == 0
    assert first.read_bytes() == second.read_bytes()


def test_default_revision_is_content_derived(tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    result = run_cli("policy", "bundle", str(FIXTURES / "settings"), "-o", str(out))
    assert result.code == 0
    revision = json.loads(_read(out, ".manifest"))["revision"]
    assert revision.startswith("sha256:") and len(revision) == len("sha256:") + 12


def test_missing_input_is_exit_2(tmp_path: Path) -> None:
    result = run_cli("policy", "bundle", str(tmp_path / "nope"), "-o", str(tmp_path / "b.tgz"))
    assert result.code == 2
    assert "nope" in result.stderr


def _gate(policy: Path, cwd: Path) -> dict[str, object]:
    result = run_cli(
        "gate",
        "run",
        "-p",
        str(policy),
        "--release",
        str(RELEASE),
        "--format",
        "json",
        *(str(p) for p in EVIDENCE),
        cwd=cwd,
    )
    assert result.code in (0, 1), result.stderr
    doc: dict[str, object] = result.json()
    return doc


def _judged(decision: dict[str, object]) -> list[tuple[object, ...]]:
    violations = decision["violations"]
    assert isinstance(violations, list)
    return sorted(
        (v["policy"], v["rule"], v["level"], v["severity"], v["message"], v["subject"])
        for v in violations
    )


def test_gate_decides_the_same_on_the_bundle_and_records_its_revision(tmp_path: Path) -> None:
    out = tmp_path / "library.tar.gz"
    built = run_cli("policy", "bundle", str(LIBRARY), "-o", str(out), "--revision", "lib-2024.1")
    assert built.code == 0, built.stderr
    from_dir = _gate(LIBRARY, tmp_path)
    from_bundle = _gate(out, tmp_path)
    assert _judged(from_dir)  # the example release has violations to compare
    assert _judged(from_bundle) == _judged(from_dir)
    assert from_bundle["outcome"] == from_dir["outcome"]
    bundle_info = from_bundle["policy_bundle"]
    assert isinstance(bundle_info, dict) and bundle_info["revision"] == "lib-2024.1"


def test_rebundling_a_bundle_keeps_paths_and_revision(tmp_path: Path) -> None:
    first, second = tmp_path / "1.tar.gz", tmp_path / "2.tar.gz"
    assert (
        run_cli(
            "policy", "bundle", str(FIXTURES / "settings"), "-o", str(first), "--revision", "r-7"
        ).code
        == 0
    )
    result = run_cli("policy", "bundle", str(first), "-o", str(second))
    assert result.code == 0, result.stderr
    assert first.read_bytes() == second.read_bytes()
