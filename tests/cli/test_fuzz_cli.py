"""Property test: malformed inputs of every kind never make `gate run` crash, hang or pass.

A seeded generator (fixed seed: failures reproduce) mutates small valid documents along the
fuzz classes of issue 10 — truncation, byte flips, structure, numbers, nesting, encodings, XML,
YAML, bundles, release/waiver/config files, special files — and drives the CLI in-process
(click's runner; special files in a subprocess with a timeout). For every case:

- no traceback and no internal error; the exit code is 0-3;
- exit 2 names the offending file;
- a document that is not valid for its kind never exits 0.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from gatekeeper.cli import main
from tests.conftest import EXAMPLES, REPO

SEED = 20261202
CASES_PER_CLASS = 14
BUDGET_S = 60.0

EVIDENCE = EXAMPLES / "evidence"
JSON_SEEDS = {
    name: (EVIDENCE / name).read_bytes()
    for name in ("sbom.cdx.json", "grype.json", "trivy.json", "semgrep.json", "vex.openvex.json")
}
CLEAN_SBOM = EXAMPLES / "releases" / "clean" / "sbom.cdx.json"  # passes the built-in library
XML_SEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1">
  <components>
    <component type="library"><name>requests</name><version>2.19.1</version>
      <purl>pkg:pypi/requests@2.19.1</purl></component>
  </components>
</bom>
"""
RELEASE_SEED = b"service: svc\nversion: 1.0.0\nenvironment: staging\ncommit: abc123\n"
WAIVERS_SEED = (
    b"waivers:\n  - id: W-1\n    policy: GK-VULN-001\n    subject: pkg:pypi/requests\n"
    b"    reason: r\n    approved_by: a\n    expires: 2099-01-01\n"
)
CONFIG_SEED = b"fail_on: deny\nengine_timeout: 30\nmax_waiver_days: 90\n"


@dataclass(frozen=True)
class Case:
    fuzz_class: str
    role: str  # evidence | release | waivers | config | bundle
    data: bytes
    invalid: bool  # certainly not a valid document of its kind: must not exit 0
    suffix: str = ".json"


def _truncations(rng: random.Random) -> Iterator[Case]:
    for _ in range(CASES_PER_CLASS):
        _, seed = rng.choice(sorted(JSON_SEEDS.items()))
        text = seed.rstrip()
        yield Case("truncation", "evidence", text[: rng.randrange(0, len(text) - 1)], True)


def _byte_flips(rng: random.Random) -> Iterator[Case]:
    for _ in range(CASES_PER_CLASS):
        _, seed = rng.choice(sorted(JSON_SEEDS.items()))
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield Case("byte flips", "evidence", bytes(data), False)


# Required parts of each seed's shape, replaced by the wrong type: no reader may accept that.
_REQUIRED = {
    "sbom.cdx.json": ["components", "bomFormat"],
    "grype.json": ["matches"],
    "trivy.json": ["Results"],
    "semgrep.json": ["results"],
    "vex.openvex.json": ["statements"],
}
_WRONG = [5, "x", None, True, {"a": 1}, [1, 2]]


def _structure(rng: random.Random) -> Iterator[Case]:
    for _ in range(CASES_PER_CLASS):
        name = rng.choice(sorted(_REQUIRED))
        doc = json.loads(JSON_SEEDS[name])
        key = rng.choice(_REQUIRED[name])
        wrong = rng.choice([w for w in _WRONG if type(w) is not type(doc.get(key))])
        doc[key] = wrong
        invalid = not (isinstance(wrong, list) and key != "bomFormat")  # a list may be empty-ish
        yield Case("structure", "evidence", json.dumps(doc).encode(), invalid)
        # The whole document as a scalar or an array.
        yield Case(
            "structure", "evidence", json.dumps(rng.choice([[], 1, "s", None])).encode(), True
        )


def _walk_numbers(value: object, rng: random.Random) -> object:
    if isinstance(value, dict):
        return {k: _walk_numbers(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk_numbers(v, rng) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool) and rng.random() < 0.7:
        return rng.choice([10**400, -(10**30), 1e308, -0.0, 2**63, 0.1])
    return value


def _numbers(rng: random.Random) -> Iterator[Case]:
    for _ in range(CASES_PER_CLASS):
        _, seed = rng.choice(sorted(JSON_SEEDS.items()))
        doc = _walk_numbers(json.loads(seed), rng)
        text = json.dumps(doc)
        if rng.random() < 0.3:
            text = text.replace("1", "NaN", 1) if "1" in text else text
        yield Case("numbers", "evidence", text.encode(), False)


def _nesting(rng: random.Random) -> Iterator[Case]:
    for depth in (100, 1_000, 10_000, 100_000):
        yield Case("nesting", "evidence", b"[" * depth + b"]" * depth, True)
        doc = json.loads(JSON_SEEDS["sbom.cdx.json"])
        deep = b'{"bomFormat": "CycloneDX", "components": ' + b"[" * depth + b"]" * depth + b"}"
        yield Case("nesting", "evidence", deep, True)
        doc["metadata"] = {"deep": "x"}
        text = json.dumps(doc).replace('"x"', "[" * depth + "]" * depth)
        yield Case("nesting", "evidence", text.encode(), False)


def _encodings(rng: random.Random) -> Iterator[Case]:
    text = JSON_SEEDS["sbom.cdx.json"].decode()
    for encoding in ("utf-16", "utf-16-le", "utf-32", "utf-8-sig", "latin-1"):
        yield Case("encodings", "evidence", text.encode(encoding, "replace"), False)
    yield Case("encodings", "evidence", b"\xff\xfe\x00\x00garbage", True)
    yield Case("encodings", "evidence", b'{"bomFormat": "Cyclone\xc3\x28DX"}', True)
    yield Case("encodings", "evidence", b"\x00" * 64, True)


def _xml(rng: random.Random) -> Iterator[Case]:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY a{i} "{("&a" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
            for i in range(1, 9)
        )
        + b']><bom xmlns="http://cyclonedx.org/schema/bom/1.5">&a8;</bom>'
    )
    external = (
        b'<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<bom xmlns="http://cyclonedx.org/schema/bom/1.5"><components>&x;</components></bom>'
    )
    yield Case("xml", "evidence", laughs, True, ".xml")
    yield Case("xml", "evidence", external, True, ".xml")
    for _ in range(CASES_PER_CLASS // 2):
        cut = XML_SEED[: rng.randrange(1, len(XML_SEED.rstrip()) - 1)]
        yield Case("xml", "evidence", cut, True, ".xml")
        data = bytearray(XML_SEED)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield Case("xml", "evidence", bytes(data), False, ".xml")


_ALIAS_BOMB = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n".encode()
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def _yaml(rng: random.Random) -> Iterator[Case]:
    for role in ("release", "waivers", "config"):
        yield Case("yaml", role, _ALIAS_BOMB, True, ".yaml")
        yield Case("yaml", role, b"!!python/object/apply:os.system ['true']\n", True, ".yaml")
        yield Case("yaml", role, b"a: 1\na: 2\n", True, ".yaml")
        yield Case("yaml", role, b"[" * 5000 + b"]" * 5000, True, ".yaml")
        yield Case("yaml", role, b"key: [unclosed\n", True, ".yaml")
        yield Case("yaml", role, b"--- 1\n--- 2\n", True, ".yaml")


def _release_waiver_config(rng: random.Random) -> Iterator[Case]:
    release_bad = [
        b"service: svc\nversion: [1, 2]\n",
        b"service: svc\napprovals: yes\n",
        b"service: svc\nenvironment: " + b"9" * 400 + b"\n",
        b"service: svc\nunknown_key: 1\n",
        b"service: svc\napprovals:\n  - at: 2026-13-45\n",
    ]
    for data in release_bad:
        yield Case("release/waiver/config", "release", data, True, ".yaml")
    waivers_bad = [
        WAIVERS_SEED.replace(b"GK-VULN-001", b'"*"').replace(b"pkg:pypi/requests", b'"*"'),
        WAIVERS_SEED.replace(b"pkg:pypi/requests", b'"pkg:*"'),
        WAIVERS_SEED.replace(b"2099-01-01", b"2026-02-30"),
        WAIVERS_SEED.replace(b"expires: 2099-01-01", b"expires: 99999999999999999999"),
        WAIVERS_SEED.replace(b"reason: r", b"reason: 7"),
    ]
    for data in waivers_bad:
        yield Case("release/waiver/config", "waivers", data, True, ".yaml")
    config_bad = [
        CONFIG_SEED.replace(b"30", b"-1"),
        CONFIG_SEED.replace(b"30", b"1e999"),
        CONFIG_SEED.replace(b"deny", b"sometimes"),
        CONFIG_SEED + b"evidence_requirements: {default: [nothing]}\n",
        CONFIG_SEED + b"allow_network_builtins: 'yes'\n",
        CONFIG_SEED.replace(b"90", b"999999999999"),
    ]
    for data in config_bad:
        yield Case("release/waiver/config", "config", data, True, ".yaml")
    for _ in range(CASES_PER_CLASS // 2):
        for role, seed in (("release", RELEASE_SEED), ("waivers", WAIVERS_SEED)):
            data = bytearray(seed)
            data[rng.randrange(len(data))] = rng.randrange(256)
            yield Case("release/waiver/config", role, bytes(data), False, ".yaml")


def _tarball(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, content in members:
            archive.addfile(info, io.BytesIO(content) if info.isfile() else None)
    return buffer.getvalue()


def _member(
    name: str, content: bytes = b"", kind: bytes = tarfile.REGTYPE
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(content) if kind == tarfile.REGTYPE else 0
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    return info, content


def _bundles(rng: random.Random) -> Iterator[Case]:
    rego = b'package fz\n\ndeny contains msg if {\n\tinput.components[_]\n\tmsg := "x"\n}\n'
    good = _tarball([_member("fz/policy.rego", rego)])
    yield Case("bundles", "bundle", _tarball([_member("../escape.rego", rego)]), True, ".tar.gz")
    yield Case("bundles", "bundle", _tarball([_member("/abs.rego", rego)]), True, ".tar.gz")
    yield Case(
        "bundles", "bundle", _tarball([_member("link.rego", kind=tarfile.SYMTYPE)]), True, ".tar.gz"
    )
    yield Case("bundles", "bundle", b"\x1f\x8b\x08\x00garbage", True, ".tar.gz")
    yield Case("bundles", "bundle", _tarball([]), True, ".tar.gz")
    yield Case(
        "bundles",
        "bundle",
        _tarball([_member("fz/p.rego", b"package fz\ndeny {")]),
        True,
        ".tar.gz",
    )
    for _ in range(CASES_PER_CLASS // 2):
        cut = good[: rng.randrange(1, len(good) - 1)]
        yield Case("bundles", "bundle", cut, True, ".tar.gz")


GENERATORS = (
    _truncations,
    _byte_flips,
    _structure,
    _numbers,
    _nesting,
    _encodings,
    _xml,
    _yaml,
    _release_waiver_config,
    _bundles,
)


def fresh_sbom(folder: Path) -> Path:
    """The clean example SBOM, dated now (the freshness policy would fail an old one), so a
    release, waiver or config case that exits 0 is one the gate accepted."""
    doc = json.loads(CLEAN_SBOM.read_text("utf-8"))
    doc.setdefault("metadata", {})["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path = folder / "clean.cdx.json"
    path.write_text(json.dumps(doc), "utf-8")
    return path


def _args(case: Case, path: Path, sbom: Path) -> list[str]:
    base = ["gate", "run", "--no-ledger", "--format", "json"]
    if case.role == "evidence":
        return [*base, str(path)]
    flag = {"release": "--release", "waivers": "--waivers", "config": "--config", "bundle": "-p"}
    return [*base, flag[case.role], str(path), str(sbom)]


def _check(case: Case, path: Path, code: int, output: str, label: str) -> None:
    assert "Traceback" not in output, (label, output[-2000:])
    assert "internal error" not in output, (label, output[-500:])
    assert code in (0, 1, 2, 3), (label, code, output[-500:])
    if code == 2:
        errors = [line for line in output.splitlines() if line.startswith("gatekeeper: error:")]
        assert errors and (str(path) in errors[0] or path.name in errors[0]), (label, errors)
    if case.invalid:
        assert code != 0, (label, "an invalid document passed", case.data[:200])


def test_fuzzed_inputs_never_crash_hang_or_pass(tmp_path: Path) -> None:
    rng = random.Random(SEED)  # noqa: S311 - reproducible fuzzing, not cryptography
    runner = CliRunner()
    started = time.monotonic()
    count = 0
    sbom = fresh_sbom(tmp_path)
    baseline = runner.invoke(main, ["gate", "run", "--no-ledger", str(sbom)])
    assert baseline.exit_code == 0, baseline.output  # else "never exits 0" would prove nothing
    for generator in GENERATORS:
        for index, case in enumerate(generator(rng)):
            label = f"{case.fuzz_class}[{index}]"
            stem = case.fuzz_class.replace("/", "-").replace(" ", "-")
            path = tmp_path / f"{stem}-{index}{case.suffix}"
            path.write_bytes(case.data)
            result = runner.invoke(main, _args(case, path, sbom), catch_exceptions=True)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise AssertionError(f"{label}: {result.exception!r}")
            _check(case, path, result.exit_code, result.output, label)
            count += 1
            path.unlink()
    elapsed = time.monotonic() - started
    assert count > 150
    assert elapsed < BUDGET_S, f"{count} cases took {elapsed:.0f} s"


def _special(tmp_path: Path, name: str) -> Path:
    if name == "fifo":
        path = tmp_path / "fifo.json"
        os.mkfifo(path)
        return path
    if name == "directory":
        path = tmp_path / "dir.json"
        path.mkdir()
        return path
    if name == "dangling-symlink":
        path = tmp_path / "gone.json"
        path.symlink_to(tmp_path / "nowhere")
        return path
    if name == "unreadable":
        path = tmp_path / "secret.json"
        path.write_bytes(JSON_SEEDS["sbom.cdx.json"])
        path.chmod(0)
        return path
    return Path(name)  # /dev/null, /dev/zero


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX special files")
@pytest.mark.parametrize("role", ["evidence", "release", "waivers"])
@pytest.mark.parametrize(
    "special", ["fifo", "directory", "dangling-symlink", "unreadable", "/dev/null", "/dev/zero"]
)
def test_special_files_are_refused_naming_them(tmp_path: Path, role: str, special: str) -> None:
    if special == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    path = _special(tmp_path, special)
    case = Case("special files", role, b"", True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    proc = subprocess.run(
        [sys.executable, "-m", "gatekeeper", *_args(case, path, fresh_sbom(tmp_path))],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=20,
        check=False,
    )
    _check(case, path, proc.returncode, proc.stderr + proc.stdout, f"{special} as {role}")
