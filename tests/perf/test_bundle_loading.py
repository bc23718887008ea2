"""Bundle loading fixes: YAML dates in data files, and a content-only bundle digest."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest

from gatekeeper.errors import PolicyError
from gatekeeper.policy.bundle import load_bundle
from tests.conftest import EXAMPLES, run_cli

POLICY = (
    "package freeze\n\n"
    "deny contains msg if {\n"
    "\tstart := data.settings.freeze.start\n"
    "\tis_string(start)\n"
    '\tmsg := concat("", ["frozen since ", start])\n'
    "}\n"
)


def _policy_dir(tmp_path: Path, data_yaml: str) -> Path:
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "freeze.rego").write_text(POLICY, encoding="utf-8")
    (folder / "settings.yaml").write_text(data_yaml, encoding="utf-8")
    return folder


def test_unquoted_yaml_dates_become_iso_strings(tmp_path: Path) -> None:
    folder = _policy_dir(
        tmp_path,
        "settings:\n  freeze:\n    start: 2026-11-01\n    at: 2026-11-01T10:30:00Z\n"
        "    naive: 2026-11-01 10:30:00\n    days: [2026-12-24, 2026-12-25]\n"
        "  by_day:\n    2026-12-31: closed\n",
    )
    data = load_bundle([str(folder)]).data["settings"]
    assert data["freeze"]["start"] == "2026-11-01"
    assert data["freeze"]["at"] == "2026-11-01T10:30:00+00:00"
    assert data["freeze"]["naive"] == "2026-11-01T10:30:00+00:00"  # YAML: no zone means UTC
    assert data["freeze"]["days"] == ["2026-12-24", "2026-12-25"]
    assert data["by_day"] == {"2026-12-31": "closed"}


def test_a_gate_run_with_a_dated_data_file_decides_instead_of_crashing(tmp_path: Path) -> None:
    folder = _policy_dir(tmp_path, "settings:\n  freeze:\n    start: 2026-11-01\n")
    result = run_cli(
        "gate", "run", "--no-ledger", "--format", "json", "-p", str(folder),
        str(EXAMPLES / "evidence" / "sbom.cdx.json"),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.code == 1, result.stderr
    messages = [v["message"] for v in result.json()["violations"]]
    assert messages == ["frozen since 2026-11-01"]


def test_yaml_values_without_a_json_form_are_a_policy_error(tmp_path: Path) -> None:
    folder = _policy_dir(tmp_path, "settings:\n  blob: !!binary aGVsbG8=\n")
    with pytest.raises(PolicyError, match="no JSON form") as caught:
        load_bundle([str(folder)])
    assert str(caught.value.path).endswith("settings.yaml")


def _tarball(path: Path, files: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            content = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


def test_the_same_bundle_at_two_paths_has_one_digest(tmp_path: Path) -> None:
    files = {"p/policy.rego": POLICY, "data.json": '{"settings": {}}'}
    first = _tarball(tmp_path / "one" / "bundle.tar.gz", files)
    second = tmp_path / "elsewhere" / "deeper" / "renamed.tar.gz"
    second.parent.mkdir(parents=True)
    shutil.copy(first, second)
    one, two = load_bundle([str(first)]), load_bundle([str(second)])
    assert one.digest == two.digest
    assert one.revision == two.revision  # the default revision derives from the digest
    # Messages still name the file the bundle was loaded from.
    assert one.modules[0].path.startswith(str(first))


def test_a_bundle_with_other_content_has_another_digest(tmp_path: Path) -> None:
    first = _tarball(tmp_path / "a.tar.gz", {"p/policy.rego": POLICY})
    second = _tarball(tmp_path / "b.tar.gz", {"p/policy.rego": POLICY + "\n"})
    renamed = _tarball(tmp_path / "c.tar.gz", {"q/policy.rego": POLICY})
    digests = {load_bundle([str(p)]).digest for p in (first, second, renamed)}
    assert len(digests) == 3


def test_data_files_given_by_path_do_not_put_the_path_in_the_digest(tmp_path: Path) -> None:
    folder = _policy_dir(tmp_path, "settings: {}\n")
    for place in ("x", "y/z"):
        (tmp_path / place).mkdir(parents=True)
        (tmp_path / place / "extra.yaml").write_text("extra: 1\n", encoding="utf-8")
    one = load_bundle([str(folder)], data_paths=[str(tmp_path / "x" / "extra.yaml")])
    two = load_bundle([str(folder)], data_paths=[str(tmp_path / "y/z" / "extra.yaml")])
    assert one.digest == two.digest
