"""SARIF that GitHub can place: results point at committed files relative to the checkout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema

from tests.conftest import EXAMPLES, run_cli

SCHEMA = Path(__file__).resolve().parents[1] / "report" / "schemas" / "sarif-schema-2.1.0.json"


def test_sarif_results_point_at_the_manifest_or_the_release_file(tmp_path: Path) -> None:
    out = tmp_path / ".gatekeeper" / "out"  # build outputs: git-ignored, not in the repository
    out.mkdir(parents=True)
    for name in ("sbom.cdx.json", "grype.json"):
        shutil.copy(EXAMPLES / "evidence" / name, out / name)
    (tmp_path / "requirements.txt").write_text("flask==2.0.0\nrequests==2.19.1\n", "utf-8")
    shutil.copy(EXAMPLES / "release.yaml", tmp_path / "release.yaml")
    sarif_path = tmp_path / "gate.sarif"
    result = run_cli(
        "gate",
        "run",
        "--no-ledger",
        "--release",
        "release.yaml",
        "-o",
        f"sarif={sarif_path}",
        str(out / "sbom.cdx.json"),
        str(out / "grype.json"),
        cwd=tmp_path,
    )
    assert result.code == 1, result.stderr
    sarif = json.loads(sarif_path.read_text("utf-8"))
    jsonschema.Draft4Validator(
        json.loads(SCHEMA.read_text("utf-8")),
        format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER,
    ).validate(sarif)
    run = sarif["runs"][0]
    root = tmp_path.resolve().as_uri() + "/"
    assert run["originalUriBaseIds"] == {"SRCROOT": {"uri": root}}
    assert run["invocations"][0]["workingDirectory"] == {"uri": root}
    places = {}
    for item in run["results"]:
        artifact = item["locations"][0]["physicalLocation"]["artifactLocation"]
        assert not artifact["uri"].startswith(("file:", "/")), artifact
        assert ".gatekeeper/out" not in artifact["uri"] and "site-packages" not in artifact["uri"]
        assert artifact["uriBaseId"] == "SRCROOT"
        places[(item["ruleId"], item["properties"]["subject"])] = (
            artifact["uri"],
            item["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
    assert places[("GK-VULN-001", "pkg:pypi/requests@2.19.1")] == ("requirements.txt", 2)
    # Not declared in requirements.txt: the release file stands in.
    assert places[("GK-SBOM-003", "vendored-helper")] == ("release.yaml", 1)
