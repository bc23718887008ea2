"""One bounded loader for every user file: special files, sizes, depth, aliases, numbers."""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from gatekeeper import loading
from gatekeeper.errors import EXIT_INPUT, InputError, PolicyError
from gatekeeper.loading import (
    check_depth,
    load_yaml_file,
    parse_json_text,
    parse_yaml_data,
    parse_yaml_text,
    read_regular_file,
    yaml_loader_name,
)
from gatekeeper.policy.bundle import MAX_BUNDLE_BYTES, load_bundle
from tests.cli.test_gate_cli import EVIDENCE, assert_clean_error, gate

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "release.yaml"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(InputError, match="not a regular file"):
        read_regular_file(fifo, max_bytes=1024)
    assert time.monotonic() - started < 5


def test_a_device_is_refused_instead_of_read_until_memory_runs_out() -> None:
    with pytest.raises(InputError, match="not a regular file"):
        read_regular_file("/dev/zero", max_bytes=1024)


def test_a_directory_and_a_missing_file_are_one_line_each(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        read_regular_file(tmp_path, max_bytes=1024)
    with pytest.raises(InputError, match="not found"):
        read_regular_file(tmp_path / "nope.yaml", max_bytes=1024)


def test_size_bound_is_enforced(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(InputError, match="over the limit of 1024 bytes"):
        read_regular_file(big, max_bytes=1024)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"score": ' + "9" * 400 + "}", "integer of 400 digits"),
        ('{"score": 1e400}', "overflows"),
        ('{"score": NaN}', "NaN is not valid JSON"),
        ('{"a": [1, 2', "truncated"),
    ],
)
def test_json_values_we_refuse(text: str, needle: str) -> None:
    with pytest.raises(InputError, match=needle) as caught:
        parse_json_text(text, display="x.json")
    assert caught.value.path == "x.json"


def test_json_big_integer_error_points_at_it() -> None:
    text = '{\n  "cvss": ' + "1" * 30 + "\n}"
    with pytest.raises(InputError) as caught:
        parse_json_text(text, display="x.json")
    assert caught.value.where == "2:11"


def test_depth_is_bounded_without_recursion() -> None:
    deep: list[object] = []
    node = deep
    for _ in range(10_000):
        child: list[object] = []
        node.append(child)
        node = child
    with pytest.raises(InputError, match="nested more than 64 levels"):
        check_depth(deep, display="d.json")
    check_depth({"a": [[1]]}, display="d.json")  # shallow values pass


# Every YAML check holds on libyaml's loader (the one used when installed) and on the
# pure-Python one, through both entry points: with the line map and without (bulk inputs).
LOADERS = [
    pytest.param(getattr(yaml, "CSafeLoader", None), id="libyaml"),
    pytest.param(yaml.SafeLoader, id="pure-python"),
]


@pytest.fixture(params=LOADERS)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    if request.param is None:
        pytest.skip("PyYAML was built without libyaml")
    monkeypatch.setattr(loading, "_SafeLoader", request.param)
    return request.param


def _with_lines(text: str, display: str) -> Any:
    return parse_yaml_text(text, display=display)[0]


def _data_only(text: str, display: str) -> Any:
    return parse_yaml_data(text, display=display)


@pytest.fixture(params=[_with_lines, _data_only], ids=["with-lines", "data-only"])
def parse_yaml(request: pytest.FixtureRequest, loader: Any) -> Callable[[str, str], Any]:
    return cast(Callable[[str, str], Any], request.param)


def test_libyaml_is_used_when_installed() -> None:
    expected = "CSafeLoader" if getattr(yaml, "__with_libyaml__", False) else "SafeLoader"
    assert yaml_loader_name() == expected


def test_yaml_alias_bomb_stops_at_the_bound_quickly(parse_yaml: Callable[[str, str], Any]) -> None:
    started = time.monotonic()
    with pytest.raises(InputError, match="expands to more than"):
        parse_yaml(ALIAS_BOMB, "d.yaml")
    assert time.monotonic() - started < 2


def test_a_few_yaml_aliases_are_fine(parse_yaml: Callable[[str, str], Any]) -> None:
    data = parse_yaml("base: &b {x: 1}\nother: *b\n", "c.yaml")
    assert data == {"base": {"x": 1}, "other": {"x": 1}}


def test_more_than_the_alias_limit_is_refused(parse_yaml: Callable[[str, str], Any]) -> None:
    text = "a: &a 1\nl: [" + ", ".join(["*a"] * 101) + "]\n"
    with pytest.raises(InputError, match="more than 100 YAML alias uses"):
        parse_yaml(text, "c.yaml")


def test_a_recursive_alias_is_refused(parse_yaml: Callable[[str, str], Any]) -> None:
    with pytest.raises(InputError, match=r"alias uses|nested more than"):
        parse_yaml("a: &a [*a]\n", "c.yaml")


def test_node_limit_counts_values(loader: Any) -> None:
    text = "l: [" + ", ".join(["1"] * 60) + "]\n"
    limits = loading.YamlLimits(max_nodes=50)
    with pytest.raises(InputError, match="more than 50 values"):
        parse_yaml_text(text, display="n.yaml", limits=limits)
    with pytest.raises(InputError, match="more than 50 values"):
        parse_yaml_data(text, display="n.yaml", limits=limits)


@pytest.mark.parametrize(
    ("text", "needle", "line"),
    [
        ("a: 1\nwhen: 2026-13-45\n", "when: '2026-13-45' is not a valid date", "2"),
        ("a: 1\nn: " + "9" * 5000 + "\n", "n: integer of 5000 digits is too large", "2"),
        ("a: 1\na: 2\n", "duplicate key 'a'", "2"),
        ("m:\n  <<: {x: 1}\n  y: 1\n  y: 2\n", "duplicate key 'y'", "4"),
        ("x: " + "[" * 100 + "]" * 100 + "\n", "nested more than 64 levels", "1"),
        ("f: " + "1" * 70 + ".5\n", "number of 72 characters is too long", "1"),
        ("b: !!bool maybe\n", "'maybe' is not true or false", "1"),
    ],
)
def test_yaml_bad_values_name_field_and_line(
    text: str, needle: str, line: str, parse_yaml: Callable[[str, str], Any]
) -> None:
    with pytest.raises(InputError, match=needle) as caught:
        parse_yaml(text, "r.yaml")
    assert caught.value.where == line


def test_yaml_loader_is_the_safe_one(parse_yaml: Callable[[str, str], Any]) -> None:
    with pytest.raises(InputError, match="invalid YAML"):
        parse_yaml("!!python/object/apply:os.system ['true']\n", "x.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "a: 0x1f\nb: 0o17\nc: 1_000\nd: -5\ne: +3\nf: 1:30\ng: 007\nh: 0b101\n",
        "a: 1.5\nb: 1e3\nc: -.5\nd: yes\ne: No\nf: ~\ng: null\nh: ''\n",
        "d: 2026-11-01\nt: 2026-11-01T10:00:00Z\nu: 2001-12-14 21:59:43.10 -5\n",
        "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\nl: [*b, *b]\n",
        "s: !!set {a, b}\nbin: !!binary aGVsbG8=\no: !!omap [a: 1, b: 2]\nx: !!str 12\n",
        "1: a\n2.5: b\nnull: c\ntrue: d\n2026-01-01: e\n- x\n"[:-4],
        "- a\n- [1, 2, {x: y}]\n- {}\n- []\n",
        "plain\n",
    ],
)
def test_values_are_the_safe_loaders(text: str, parse_yaml: Callable[[str, str], Any]) -> None:
    assert parse_yaml(text, "v.yaml") == yaml.load(text, Loader=yaml.SafeLoader)


def test_load_yaml_file_refuses_special_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a regular file"):
        load_yaml_file("/dev/zero")


# -- the same bounds through every command-line entry ---------------------------------------


def test_release_and_waivers_fifo_exit_2_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    for option in ("--release", "--waivers"):
        result = gate("--no-ledger", option, str(fifo), *EVIDENCE)
        assert_clean_error(result, EXIT_INPUT, "fifo.yaml", "not a regular file")


def test_release_file_bad_values_exit_2_naming_the_field(tmp_path: Path) -> None:
    release = tmp_path / "release.yaml"
    release.write_text("service: a\nversion: 2026-13-45\n")
    assert_clean_error(
        gate("--no-ledger", "--release", str(release), *EVIDENCE),
        EXIT_INPUT,
        "release.yaml:2",
        "version",
    )


def test_data_alias_bomb_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "bomb.yaml"
    data.write_text(ALIAS_BOMB)
    assert_clean_error(
        gate("--no-ledger", "-d", str(data), *EVIDENCE), EXIT_INPUT, "bomb.yaml", "expands"
    )


def test_deep_data_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "deep.json"
    data.write_text('{"x": ' + "[" * 200 + "]" * 200 + "}")
    assert_clean_error(gate("--no-ledger", "-d", str(data), *EVIDENCE), EXIT_INPUT, "deep.json")


def test_directory_as_evidence_is_one_line(tmp_path: Path) -> None:
    result = gate("--no-ledger", str(tmp_path), *EVIDENCE)
    assert_clean_error(result, EXIT_INPUT, str(tmp_path), "is a directory")
    assert "Usage:" not in result.stderr


def test_huge_cvss_in_evidence_exit_2(tmp_path: Path) -> None:
    report = tmp_path / "grype.json"
    report.write_text(
        '{"matches": [{"vulnerability": {"id": "CVE-1", "cvss": [{"metrics": {"baseScore": '
        + "9" * 400
        + "}}]}}]}"
    )
    assert_clean_error(gate("--no-ledger", str(report)), EXIT_INPUT, "grype.json:1:")


# -- bundles: limits apply while decompressing ------------------------------------------------


def _bundle(tmp_path: Path, members: dict[str, int]) -> Path:
    """A .tar.gz whose members are zero bytes of the given sizes (they compress to almost
    nothing, as a decompression bomb does)."""
    path = tmp_path / "bundle.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, size in members.items():
            info = tarfile.TarInfo(name)
            info.size = size
            archive.addfile(info, _Zeros(size))
    return path


class _Zeros(io.RawIOBase):
    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left)
        buffer[:count] = b"\0" * count
        self.left -= count
        return count


def test_bundle_bomb_stops_at_the_limit_without_decompressing_it(tmp_path: Path) -> None:
    bomb = _bundle(tmp_path, {"p.rego": 10, "huge.json": MAX_BUNDLE_BYTES * 2})
    # Cut the archive in half: a reader that decompresses everything before checking hits the
    # cut and reports a broken archive; a streaming one stops at the oversized header first.
    raw = bomb.read_bytes()
    bomb.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(PolicyError, match="unpacks to more than"):
        load_bundle([str(bomb)])
