from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from gatekeeper.errors import InputError, PolicyError
from gatekeeper.model.gate_input import Severity
from gatekeeper.policy.bundle import builtin_policy_dir, load_bundle

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DENY = 'package {pkg}\n\ndeny contains "no" if input.bad\n'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_tarball(path: Path, members: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_directory_with_metadata_tests_and_data() -> None:
    bundle = load_bundle([str(FIXTURES / "basic")])
    by_path = {m.path: m for m in bundle.modules}
    assert set(by_path) == {"deny.rego", "deny_test.rego"}
    policy = by_path["deny.rego"]
    assert policy.package == "fixtures.basic"
    assert not policy.is_test and by_path["deny_test.rego"].is_test
    assert policy.metadata is not None and policy.metadata.id == "FIX-001"
    deny = next(r for r in policy.rules if r.name == "deny")
    assert deny.metadata is not None
    assert (deny.metadata.id, deny.metadata.severity) == ("FIX-001a", Severity.CRITICAL)
    # conftest convention: limits.json merges at the root; OPA convention: sub/data.yaml at data.sub
    assert bundle.data == {"limits": {"max": 50}, "sub": {"label": "from-sub"}}
    assert bundle.digest.startswith("sha256:") and len(bundle.digest) == 71
    assert bundle.revision == "sha256:" + bundle.digest[7:19]
    assert bundle.sources == (str(FIXTURES / "basic"),)


def test_digest_changes_with_any_byte(tmp_path: Path) -> None:
    write(tmp_path / "p.rego", DENY.format(pkg="p"))
    first = load_bundle([str(tmp_path)]).digest
    write(tmp_path / "data.json", '{"a": 1}')
    second = load_bundle([str(tmp_path)]).digest
    write(tmp_path / "data.json", '{"a": 2}')
    assert len({first, second, load_bundle([str(tmp_path)]).digest}) == 3


def test_several_roots_prefix_paths_with_root_name(tmp_path: Path) -> None:
    write(tmp_path / "one" / "a.rego", DENY.format(pkg="a"))
    write(tmp_path / "two" / "b.rego", DENY.format(pkg="b"))
    bundle = load_bundle([str(tmp_path / "one"), str(tmp_path / "two")])
    assert [m.path for m in bundle.modules] == ["one/a.rego", "two/b.rego"]


def test_opa_data_mounting_and_data_paths(tmp_path: Path) -> None:
    write(tmp_path / "pol" / "p.rego", DENY.format(pkg="p"))
    write(tmp_path / "pol" / "a" / "b" / "data.json", '{"x": 1}')
    write(tmp_path / "extra.yml", "settings:\n  level: high\n")
    bundle = load_bundle([str(tmp_path / "pol")], data_paths=[str(tmp_path / "extra.yml")])
    assert bundle.data == {"a": {"b": {"x": 1}}, "settings": {"level": "high"}}


def test_conflicting_data_names_both_files(tmp_path: Path) -> None:
    write(tmp_path / "pol" / "p.rego", DENY.format(pkg="p"))
    write(tmp_path / "pol" / "one.json", '{"settings": {"level": "high"}}')
    write(tmp_path / "pol" / "two.yaml", "settings:\n  level: low\n")
    with pytest.raises(PolicyError, match=r"data\.settings\.level.*one\.json.*two\.yaml"):
        load_bundle([str(tmp_path / "pol")])


def test_bad_data_json_is_policy_error_with_line(tmp_path: Path) -> None:
    write(tmp_path / "p.rego", DENY.format(pkg="p"))
    write(tmp_path / "data.json", '{\n  "a": 1,\n  oops\n}')
    with pytest.raises(PolicyError, match=r"^data\.json:3:\d+: invalid JSON"):
        load_bundle([str(tmp_path)])


def test_tarball_bundle_with_manifest(tmp_path: Path) -> None:
    tarball = make_tarball(
        tmp_path / "bundle.tar.gz",
        {
            ".manifest": '{"revision": "rev-42", "roots": ["p"]}',
            "p/policy.rego": DENY.format(pkg="p"),
            "p/data.json": '{"limit": 3}',
        },
    )
    bundle = load_bundle([str(tarball)])
    assert bundle.revision == "rev-42"
    assert bundle.data == {"p": {"limit": 3}}
    assert [m.package for m in bundle.modules] == ["p"]


def test_tarball_with_parent_member_is_rejected(tmp_path: Path) -> None:
    tarball = make_tarball(
        tmp_path / "evil.tar.gz",
        {"p.rego": DENY.format(pkg="p"), "../evil.rego": DENY.format(pkg="evil")},
    )
    with pytest.raises(PolicyError, match=r"unsafe member path '\.\./evil\.rego'"):
        load_bundle([str(tarball)])


def test_corrupt_tarball_is_policy_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(PolicyError, match="not a readable"):
        load_bundle([str(bad)])


def test_empty_dir_has_no_rules(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no rules"):
        load_bundle([str(tmp_path)])


def test_only_helper_rules_is_no_rules(tmp_path: Path) -> None:
    write(tmp_path / "lib.rego", "package lib\n\nx := 1\n")
    write(tmp_path / "lib_test.rego", "package lib_test\n\ndeny contains 1 if true\n")
    with pytest.raises(PolicyError, match="no rules"):
        load_bundle([str(tmp_path)])


def test_missing_path_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such policy"):
        load_bundle([str(tmp_path / "absent")])


def test_duplicate_package_across_files_is_allowed(tmp_path: Path) -> None:
    write(tmp_path / "a.rego", DENY.format(pkg="same"))
    write(tmp_path / "b.rego", 'package same\n\nwarn contains "w" if true\n')
    assert [m.package for m in load_bundle([str(tmp_path)]).modules] == ["same", "same"]


def test_bad_metadata_stops_the_load(tmp_path: Path) -> None:
    write(
        tmp_path / "p.rego",
        "# METADATA\n# custom:\n#   severity: apocalyptic\npackage p\n\ndeny contains 1 if true\n",
    )
    with pytest.raises(PolicyError, match=r"^p\.rego:1: .*apocalyptic"):
        load_bundle([str(tmp_path)])


def test_builtin_policy_dir_points_at_shipped_policies() -> None:
    assert builtin_policy_dir().is_dir()
    assert any(builtin_policy_dir().rglob("*.rego"))
