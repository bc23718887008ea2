"""SARIF that GitHub can place: results point at committed files relative to the checkout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from gatekeeper.model import Decision
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


def test_manifest_names_are_recognised_as_path_match_recognises_them() -> None:
    from gatekeeper.gate.locations import _KIND_OF, MANIFESTS

    names = [
        "requirements.txt",
        "requirements-dev.txt",
        "requirements.in",
        "Requirements.txt",
        "package.json",
        "package.json.bak",
        "app.csproj",
        "app.csproj.user",
        "go.sum",
        "Cargo.toml",
        "cargo.toml",
        "pom.xml",
        "README.md",
    ]
    for name in names:
        expected = next(
            (kind for kind, globs in MANIFESTS.items() for g in globs if Path(name).match(g)),
            None,
        )
        assert _KIND_OF(name) == expected, name


def _decision_about(purl: str) -> Decision:
    from tests.report.report_samples import failing

    decision = failing()
    violation = decision.violations[0].model_copy(update={"subject": purl, "evidence": {}})
    return decision.model_copy(update={"violations": (violation,), "waived": ()})


def test_a_run_without_package_violations_does_not_walk_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gatekeeper.gate import locations

    def no_walk(*args: object, **kwargs: object) -> None:
        raise AssertionError("the checkout was walked")

    monkeypatch.setattr("gatekeeper.gate.locations.os.walk", no_walk)
    decision = _decision_about("not-a-package")
    placed = locations.attach_declarations(decision, cwd=tmp_path, release_file=None)
    assert placed.working_directory == tmp_path.resolve().as_posix()


def test_the_manifest_search_stops_after_a_bounded_number_of_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gatekeeper.gate import locations

    (tmp_path / "a").mkdir()
    for n in range(30):
        (tmp_path / "a" / f"file{n}.txt").write_text("x\n", "utf-8")
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "requirements.txt").write_text("requests==2.19.1\n", "utf-8")
    decision = _decision_about("pkg:pypi/requests@2.19.1")

    found = locations.attach_declarations(decision, cwd=tmp_path, release_file=None)
    where = found.violations[0].declared_in
    assert where is not None and where.file == "z/requirements.txt"

    monkeypatch.setattr(locations, "_MAX_ENTRIES", 20)  # "a" alone is past the bound
    bounded = locations.attach_declarations(decision, cwd=tmp_path, release_file=None)
    assert bounded.violations[0].declared_in is None
