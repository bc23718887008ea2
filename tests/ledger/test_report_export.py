"""`audit report` in every format, its HTML rendered by headless Chromium, and the exports."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.ledger.ledger_helpers import cli

HTML_SIZE = (1280, 2000)


def _report(ledger: Path, tmp_path: Path, fmt: str, *extra: str) -> str:
    result = cli("audit", "report", "--ledger", str(ledger), "--format", fmt, *extra, cwd=tmp_path)
    assert result.code == 0, result.stderr
    return result.stdout


def test_json_report_content(sqlite_history: tuple[Path, list[str]], tmp_path: Path) -> None:
    ledger, ids = sqlite_history
    import json

    doc = json.loads(_report(ledger, tmp_path, "json"))
    assert doc["schema"] == "gatekeeper.compliance-report/v1"
    assert doc["chain"]["intact"] is True
    assert [r["decision_id"] for r in doc["releases"]] == ids
    assert doc["summary"] == {
        "releases": 5,
        "passed": 4,
        "failed": 1,
        "pass_rate": 80.0,
        "waivers_expiring_soon": [],
    }
    assert [(p["policy"], p["decisions"]) for p in doc["top_failing"]] == [("GK-VULN-001", 1)]
    matrix = {c["control"]: c for c in doc["controls"]}
    # control -> policies -> evidence -> result per release
    assert matrix["PW.4.4"]["policies"] == ["GK-VULN-001"]
    assert matrix["PW.4.4"]["evidence_kinds"] == ["cyclonedx", "grype"]
    assert matrix["PW.4.4"]["results"] == ["pass", "pass", "fail", "pass", "pass"]
    assert matrix["PW.4.4"]["title"]  # from the control catalogue


def test_service_and_period_filters(sqlite_history: tuple[Path, list[str]], tmp_path: Path) -> None:
    text = _report(sqlite_history[0], tmp_path, "csv", "--service", "search-ui")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["service"], r["version"]) for r in rows] == [
        ("search-ui", "3.2.1"),
        ("search-ui", "3.2.2"),
    ]
    empty = _report(
        sqlite_history[0], tmp_path, "csv", "--from", "2001-01-01", "--to", "2001-12-31"
    )
    assert len(empty.splitlines()) == 1  # the header only


def test_markdown_report(sqlite_history: tuple[Path, list[str]], tmp_path: Path) -> None:
    text = _report(sqlite_history[0], tmp_path, "markdown")
    assert "**5 releases, 4 passed, 1 failed (80% pass rate).**" in text
    assert "## Control matrix" in text
    # One row per control with releases per result, however many releases the period holds.
    row = next(line for line in text.splitlines() if line.startswith("| PW.4.4 |"))
    assert row.endswith("| 4 | 1 | 0 | 0 | 0 | 0 | 80% |"), row
    assert "| billing-worker | 0.9.0 | staging | fail | GK-VULN-001 |" in text


def test_bad_period_is_bad_input(sqlite_history: tuple[Path, list[str]], tmp_path: Path) -> None:
    result = cli(
        "audit", "report", "--ledger", str(sqlite_history[0]), "--from", "last week", cwd=tmp_path
    )
    assert result.code == 2
    assert "--from expects an ISO date" in result.stderr


def test_html_report_is_self_contained(
    sqlite_history: tuple[Path, list[str]], tmp_path: Path
) -> None:
    html = _report(sqlite_history[0], tmp_path, "html")
    assert html.count("<svg") == 2  # pass rate over time, top failing policies
    # Nothing is loaded from anywhere: no scripts, no links, no external images or fonts.
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "url(" not in html
    assert "@media print" in html
    # The control matrix has one row per control and a fixed set of columns (not one per
    # release: 100,000 decisions would not fit any page).
    matrix = html[html.index('<table class="matrix">') :]
    matrix = matrix[: matrix.index("</thead>")]
    assert matrix.count("<th ") == 10
    assert ">80%</td>" in html  # PW.4.4: 4 of its 5 releases satisfied it


def _png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and raw rows of an 8-bit RGB/RGBA PNG (no Pillow needed)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6)
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


@pytest.mark.e2e
def test_html_report_renders_in_headless_chromium(
    sqlite_history: tuple[Path, list[str]], tmp_path: Path
) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed, but CI must run the report screenshot test")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = tmp_path / "report.html"
    result = cli(
        "audit", "report", "--ledger", str(sqlite_history[0]), "-o", str(page), cwd=tmp_path
    )
    assert result.code == 0, result.stderr
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            f"--window-size={HTML_SIZE[0]},{HTML_SIZE[1]}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.is_file(), "chromium wrote no screenshot"
    width, height, rows = _png_pixels(shot)
    assert (width, height) == HTML_SIZE
    # Not blank: many distinct colours, and the top of the page (the title and cards) has ink.
    colours = {row[i : i + 3] for row in rows[::10] for i in range(0, len(row), 30)}
    assert len(colours) > 20
    top_dark = sum(
        1 for row in rows[20:200] for i in range(0, len(row), 3 * 4) if max(row[i : i + 3]) < 100
    )
    assert top_dark > 100
    # The red and green of the charts and result cells are there.
    assert any(
        row[i] > 180 and row[i + 1] < 80 and row[i + 2] < 80
        for row in rows[::4]
        for i in range(0, len(row) - 3, 12)
    )
    assert any(
        row[i] < 80 and row[i + 1] > 140 and row[i + 2] < 110
        for row in rows[::4]
        for i in range(0, len(row) - 3, 12)
    )


def test_vsa_export(sqlite_history: tuple[Path, list[str]], tmp_path: Path) -> None:
    ledger, ids = sqlite_history
    import json

    result = cli("audit", "export", "vsa", ids[2], "--ledger", str(ledger), cwd=tmp_path)
    assert result.code == 0, result.stderr
    statement = json.loads(result.stdout)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/verification_summary/v1"
    subject = statement["subject"][0]
    assert subject["name"] == "billing-worker@0.9.0"
    assert re.fullmatch(r"[0-9a-f]{64}", subject["digest"]["sha256"])
    predicate = statement["predicate"]
    assert predicate["verificationResult"] == "FAILED"
    assert predicate["verifier"]["id"]
    assert predicate["timeVerified"].endswith("Z")
    assert predicate["resourceUri"]
    assert re.fullmatch(r"[0-9a-f]{64}", predicate["policy"]["digest"]["sha256"])
    assert [a["uri"].rsplit("/", 1)[1] for a in predicate["inputAttestations"]] == [
        "sbom.cdx.json",
        "grype.json",
    ]
    passed = json.loads(
        cli("audit", "export", "vsa", ids[0], "--ledger", str(ledger), cwd=tmp_path).stdout
    )
    assert passed["predicate"]["verificationResult"] == "PASSED"


def test_oscal_export_has_the_required_structure(
    sqlite_history: tuple[Path, list[str]], tmp_path: Path
) -> None:
    import json

    out = tmp_path / "ar.json"
    result = cli(
        "audit", "export", "oscal", "--ledger", str(sqlite_history[0]), "-o", str(out), cwd=tmp_path
    )
    assert result.code == 0, result.stderr
    doc = json.loads(out.read_text())["assessment-results"]
    uuid_re = re.compile(
        r"^[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )
    assert uuid_re.match(doc["uuid"])
    assert {"title", "last-modified", "version", "oscal-version"} <= set(doc["metadata"])
    assert doc["import-ap"]["href"]
    (result_doc,) = doc["results"]
    assert {"uuid", "title", "description", "start", "reviewed-controls"} <= set(result_doc)
    assert result_doc["reviewed-controls"]["control-selections"]
    assert len(result_doc["observations"]) == 5
    states = {
        f["target"]["target-id"]: f["target"]["status"]["state"] for f in result_doc["findings"]
    }
    assert states["PW.4.4"] == "not-satisfied"
    assert states["CC8.1"] == "satisfied"
    observation_ids = {o["uuid"] for o in result_doc["observations"]}
    for finding in result_doc["findings"]:
        assert uuid_re.match(finding["uuid"])
        assert {r["observation-uuid"] for r in finding["related-observations"]} <= observation_ids


def test_oscal_control_whose_policy_had_no_evidence_is_not_satisfied() -> None:
    from gatekeeper.ledger.export import oscal_assessment_results
    from gatekeeper.ledger.report import ChainStatus, ComplianceReport, ControlRow, ReleaseRow

    release = ReleaseRow(
        seq=1,
        decision_id="d1",
        recorded_at="2026-12-01T00:00:00Z",
        service="svc",
        version="1.0",
        environment="production",
        artifact_digest="",
        outcome="pass",
        failures=0,
        warnings=0,
        waived=0,
        rules=1,
        failing_policies=(),
        bundle_revision="r",
        bundle_digest="",
        engine="regorus",
        input_digest="",
        evidence=(),
        signed_by="",
    )
    report = ComplianceReport(
        period_from=None,
        period_to=None,
        service=None,
        generated_at="2026-12-02T00:00:00Z",
        ledger="x.db",
        chain=ChainStatus(intact=True, records=1, head="h", problem=None),
        releases=(release,),
        days=(),
        top_failing=(),
        waivers=(),
        controls=(
            ControlRow(
                control="SLSA-BUILD-L1",
                title="",
                framework="SLSA",
                policies=("GK-SC-004",),
                evidence_kinds=(),
                results=("not assessed",),
            ),
        ),
    )
    (result_doc,) = oscal_assessment_results(report)["assessment-results"]["results"]
    (finding,) = result_doc["findings"]
    assert finding["target"]["status"]["state"] == "not-satisfied"
    assert "1 not assessed (evidence missing)" in finding["description"]


def test_markdown_report_shows_user_text_literally(tmp_path: Path) -> None:
    # A release file is the runner's input: its text must not become HTML or a link.
    from tests.conftest import EXAMPLES

    release = tmp_path / "release.yaml"
    release.write_text(
        'service: shop\nversion: "1.0<img src=x onerror=alert(1)>[x](http://evil)|y"\n'
        f"artifact_digest: sha256:{'1' * 64}\n",
        encoding="utf-8",
    )
    ledger = tmp_path / "ledger.db"
    gated = cli(
        "gate",
        "run",
        "--ledger",
        str(ledger),
        "--release",
        str(release),
        str(EXAMPLES / "evidence" / "sbom.cdx.json"),
        cwd=tmp_path,
    )
    assert gated.code in (0, 1), gated.stderr
    text = _report(ledger, tmp_path, "markdown")
    assert "<img" not in text  # and "\\](" below: no link either
    assert "1.0&lt;img src=x onerror=alert(1)&gt;\\[x\\](http://evil)\\|y" in text
