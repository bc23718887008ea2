"""Every bad input fails closed: InputError, the file named, one line, no traceback."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from gatekeeper.errors import EXIT_INPUT, InputError
from gatekeeper.evidence import EvidenceErrors, load_evidence
from tests.evidence.evidence_corpus import fixture

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components><component type="library">
<name>&lol9;</name></component></components></bom>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE bom [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components><component type="library">
<name>&xxe;</name></component></components></bom>
"""


def _write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def _error_for(path: str, **options: object) -> InputError:
    with pytest.raises(InputError) as caught:
        load_evidence([path], **options)  # type: ignore[arg-type]
    error = caught.value
    text = str(error)
    assert Path(path).name in text, text
    assert "\n" not in text
    assert "Traceback" not in text
    assert error.exit_code == EXIT_INPUT
    return error


CASES: list[tuple[str, str | bytes, str]] = [
    ("empty.json", "", "empty"),
    ("blank.json", "  \n\t ", "empty"),
    ("truncated.json", '{"bomFormat": "CycloneDX", "components": [{"name": "a"', "truncated"),
    ("unterminated.json", '{"bomFormat": "CycloneDX", "specVersion": "1.', "truncated"),
    ("syntax.json", '{"a": 1,, "b": 2}', "invalid JSON"),
    ("garbage.bin", bytes(range(256)) * 4, "binary data"),
    ("garbage-ascii.bin", b"\x00\x01\x02PK\x03\x04 binary", "binary data"),
    ("text.txt", "hello, I am not evidence\n", "not JSON or XML"),
    ("latin1.json", '{"name": "caf\xe9"}'.encode("latin-1"), "UTF-8"),
    ("unknown.json", '{"hello": "world"}', "unknown evidence kind"),
    ("unknown.xml", "<project><name>x</name></project>", "unknown evidence kind"),
    ("nan.json", '{"SchemaVersion": 2, "Results": [], "x": NaN}', "NaN"),
    ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("bad.xml", "<bom xmlns='http://cyclonedx.org/schema/bom/1.4'><components>", "invalid XML"),
    ("billion-laughs.xml", BILLION_LAUGHS, "DTD"),
    ("xxe.xml", XXE, "DTD"),
    # Unpaired UTF-16 surrogate escapes decode to text that is not Unicode (every later
    # encoding of the decision would fail): refused here as bad input, naming the escape.
    (
        "lone-high.cdx.json",
        '{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": '
        '[{"type": "library", "name": "a\\ud800b"}]}',
        "unpaired UTF-16 surrogate escape (\\ud800)",
    ),
    ("lone-low.json", '{"SchemaVersion": 2, "Results": [], "x": ["\\uDC00"]}', "surrogate"),
    ("lone-key.json", '{"SchemaVersion": 2, "Results": [], "\\ud83d": 1}', "surrogate"),
]


@pytest.mark.parametrize(("name", "content", "phrase"), CASES, ids=[c[0] for c in CASES])
def test_bad_file_is_an_input_error(
    tmp_path: Path, name: str, content: str | bytes, phrase: str
) -> None:
    error = _error_for(_write(tmp_path, name, content))
    assert phrase.lower() in str(error).lower()


def test_a_surrogate_pair_escape_is_read_as_its_character(tmp_path: Path) -> None:
    doc = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "components": [{"type": "library", "name": "emoji-\U0001f600", "version": "1"}],
    }
    path = _write(tmp_path, "pair.cdx.json", json.dumps(doc))  # ensure_ascii: \ud83d\ude00
    assert "\\ud83d\\ude00" in Path(path).read_text()
    evidence = load_evidence([path])
    assert [c.name for c in evidence.components] == ["emoji-\U0001f600"]


def test_truncated_json_names_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.json", '{\n  "matches": [\n    {"vulnerability": ')
    error = _error_for(path)
    assert ":3:" in str(error)


def test_utf8_bom_is_tolerated(tmp_path: Path) -> None:
    raw = Path(fixture("grype-jackson.json")).read_bytes()
    path = _write(tmp_path, "bom.json", b"\xef\xbb\xbf" + raw)
    merged = load_evidence([path])
    assert merged.kinds == ("grype",)
    assert len(merged.vulnerabilities) == 1


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_a_report_saved_as_utf16_or_utf32_with_a_byte_order_mark_is_read(
    tmp_path: Path, codec: str
) -> None:
    # Windows PowerShell's `grype ... > report.json` writes UTF-16 with a mark.
    text = Path(fixture("grype-jackson.json")).read_text(encoding="utf-8")
    bom = {"utf-16-be": b"\xfe\xff"}.get(codec, b"")
    path = _write(tmp_path, "ps.json", bom + text.encode(codec))
    merged = load_evidence([path])
    assert merged.kinds == ("grype",)
    assert len(merged.vulnerabilities) == 1


def test_utf16_without_a_byte_order_mark_is_refused_with_a_hint(tmp_path: Path) -> None:
    text = Path(fixture("grype-jackson.json")).read_text(encoding="utf-8")
    error = _error_for(_write(tmp_path, "nobom.json", text.encode("utf-16-le")))
    assert "NUL byte at offset 1" in str(error) and "UTF-16" in str(error)
    assert "nobom.json" in str(error)


def test_a_byte_order_mark_followed_by_bytes_of_another_encoding_is_refused(
    tmp_path: Path,
) -> None:
    error = _error_for(_write(tmp_path, "odd.json", b"\xff\xfe{\x00\x00\xd8"))
    assert "not valid UTF-16-LE" in str(error)


def test_oversize_file_is_rejected_before_parsing(tmp_path: Path) -> None:
    path = fixture("grype-jackson.json")
    error = _error_for(path, max_bytes=100)
    assert "limit of 100 bytes" in str(error)


def test_directory_and_missing_file(tmp_path: Path) -> None:
    assert "directory" in str(_error_for(str(tmp_path)))
    assert "not found" in str(_error_for(str(tmp_path / "nope.json")))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "secret.json", "{}")
    Path(path).chmod(0)
    assert "permission" in str(_error_for(path))


def test_unknown_kind_override_lists_valid_kinds() -> None:
    with pytest.raises(InputError) as caught:
        load_evidence([fixture("grype-jackson.json")], kind="snyk")
    text = str(caught.value)
    assert "snyk" in text and "grype" in text and "cyclonedx" in text


def test_kind_override_of_the_wrong_kind_fails_on_shape() -> None:
    error = _error_for(fixture("grype-jackson.json"), kind="trivy")
    assert "SchemaVersion" in str(error)


def test_kind_override_with_wrong_syntax(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.xml", "<bom xmlns='http://cyclonedx.org/schema/bom/1.4'/>")
    assert "expects JSON" in str(_error_for(path, kind="grype"))


WRONG_SHAPES: list[tuple[str, object, str]] = [
    (
        "cdx-components-not-list.json",
        {"bomFormat": "CycloneDX", "components": {"a": 1}},
        "/components:",
    ),
    (
        "cdx-missing-name.json",
        {
            "bomFormat": "CycloneDX",
            "components": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"version": "1"}],
        },
        "/components/3/name:",
    ),
    (
        "cdx-nested-missing-name.json",
        {"bomFormat": "CycloneDX", "components": [{"name": "a", "components": [{"name": 5}]}]},
        "/components/0/components/0/name:",
    ),
    (
        "cdx-bad-rating.json",
        {
            "bomFormat": "CycloneDX",
            "vulnerabilities": [{"id": "CVE-1", "ratings": [{"severity": 9}]}],
        },
        "/vulnerabilities/0/ratings/0/severity:",
    ),
    (
        "grype-severity-type.json",
        {
            "matches": [
                {"vulnerability": {"id": "CVE-1", "severity": ["High"]}, "artifact": {"name": "x"}}
            ],
            "source": {},
        },
        "/matches/0/vulnerability/severity:",
    ),
    (
        "trivy-no-pkgname.json",
        {"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-1"}]}]},
        "/Results/0/Vulnerabilities/0/PkgName:",
    ),
    ("trivy-schema-1.json", {"SchemaVersion": 1, "Results": []}, "/SchemaVersion:"),
    (
        "sarif-no-driver.json",
        {"version": "2.1.0", "runs": [{"tool": {}, "results": []}]},
        "/runs/0/tool/driver:",
    ),
    (
        "semgrep-results-object.json",
        {"results": [{"check_id": "x", "path": "a.py", "extra": {"severity": 3}}], "errors": []},
        "/results/0/extra/severity:",
    ),
    (
        "osv-package-not-object.json",
        {"results": [{"packages": [{"package": "lodash", "vulnerabilities": []}]}]},
        "/results/0/packages/0/package:",
    ),
    (
        "pip-audit-vulns-not-list.json",
        {"dependencies": [{"name": "flask", "version": "1", "vulns": "none"}], "fixes": []},
        "/dependencies/0/vulns:",
    ),
    (
        "openvex-bad-status.json",
        {
            "@context": "https://openvex.dev/ns/v0.2.0",
            "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "maybe"}],
        },
        "/statements/0/status:",
    ),
    (
        "spdx-package-no-name.json",
        {"spdxVersion": "SPDX-2.3", "packages": [{"SPDXID": "SPDXRef-a"}]},
        "/packages/0/name:",
    ),
    (
        "intoto-no-predicate-type.json",
        {"_type": "https://in-toto.io/Statement/v1", "subject": []},
        "/predicateType:",
    ),
    (
        "cdx-vex-bad-state.json",
        {
            "bomFormat": "CycloneDX",
            "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": "meh"}}],
        },
        "/vulnerabilities/0/analysis/state:",
    ),
]


@pytest.mark.parametrize(
    ("name", "document", "where"), WRONG_SHAPES, ids=[c[0] for c in WRONG_SHAPES]
)
def test_wrong_shape_names_the_json_pointer(
    tmp_path: Path, name: str, document: object, where: str
) -> None:
    error = _error_for(_write(tmp_path, name, json.dumps(document)))
    assert f"{name}:{where}" in str(error)


def test_bad_dsse_payload(tmp_path: Path) -> None:
    envelope = {"payloadType": "application/vnd.in-toto+json", "payload": "%%%not base64%%%"}
    error = _error_for(_write(tmp_path, "dsse.json", json.dumps(envelope)))
    assert "/payload" in str(error)
    envelope["payload"] = base64.b64encode(b"not json").decode()
    error = _error_for(_write(tmp_path, "dsse2.json", json.dumps(envelope)))
    assert "/payload" in str(error)


def test_all_file_errors_are_collected_before_raising(tmp_path: Path) -> None:
    empty = _write(tmp_path, "empty.json", "")
    text = _write(tmp_path, "text.txt", "nope")
    good = fixture("grype-jackson.json")
    with pytest.raises(EvidenceErrors) as caught:
        load_evidence([empty, good, text, str(tmp_path / "missing.json")])
    error = caught.value
    assert len(error.errors) == 3
    assert isinstance(error, InputError)
    assert str(error).startswith(str(error.errors[0]))
    assert str(error).endswith("(and 2 more)")
    assert [Path(str(e.path)).name for e in error.errors] == [
        "empty.json",
        "text.txt",
        "missing.json",
    ]


def test_permission_denied_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulated so the test also runs as root (which can read any file).
    path = _write(tmp_path, "locked.json", "{}")

    def refuse(*_args: object, **_kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    assert "permission denied" in str(_error_for(path))
