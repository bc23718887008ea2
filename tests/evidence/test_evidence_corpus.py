"""Every corpus file is detected as the right kind and read completely.

Expected counts are computed independently from the raw document with a plain walk, so a
reader that drops nested components or skips results fails here.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.evidence import load_evidence, read_evidence_file
from gatekeeper.model import Severity, VexState
from tests.evidence.evidence_corpus import corpus_file


def _raw(path: str) -> Any:
    with Path(path).open(encoding="utf-8") as handle:
        return json.load(handle)


def _nested_components(items: list[dict[str, Any]]) -> int:
    return sum(1 + _nested_components(item.get("components", [])) for item in items)


def count_cdx_components(path: str) -> int:
    return _nested_components(_raw(path).get("components", []))


def count_cdx_xml_components(path: str) -> int:
    root = ET.parse(path).getroot()  # noqa: S314 - trusted corpus file, only for counting
    ns = root.tag[: root.tag.index("}") + 1]
    top = root.find(f"{ns}components")
    return 0 if top is None else sum(1 for _ in top.iter(f"{ns}component"))


def count_cdx_vulns(path: str) -> int:
    # One Vulnerability per affected ref (or one when it names none).
    return sum(max(1, len(v.get("affects", []))) for v in _raw(path).get("vulnerabilities", []))


def count_grype(path: str) -> int:
    return len(_raw(path)["matches"])


def count_trivy(path: str) -> int:
    return sum(len(r.get("Vulnerabilities") or []) for r in _raw(path)["Results"])


def count_osv(path: str) -> int:
    return sum(
        len(p.get("vulnerabilities", [])) for r in _raw(path)["results"] for p in r["packages"]
    )


def count_pip_audit(path: str) -> int:
    data = _raw(path)
    deps = data if isinstance(data, list) else data["dependencies"]
    return sum(len(d.get("vulns", [])) for d in deps)


def count_sarif(path: str) -> int:
    return sum(len(run.get("results", [])) for run in _raw(path)["runs"])


def count_semgrep(path: str) -> int:
    return len(_raw(path)["results"])


def count_vex_statements(path: str) -> int:
    data = _raw(path)
    return len(data.get("statements") or data.get("vulnerabilities"))


CASES: list[tuple[str, str, str, Callable[[str], int]]] = [
    ("cyclonedx-1.2/keycloak-10.0.2.bom.xml", "cyclonedx", "components", count_cdx_xml_components),
    (
        "cyclonedx-1.4/juice-shop.npm.bare.bom.1.4.json",
        "cyclonedx",
        "components",
        count_cdx_components,
    ),
    (
        "cyclonedx-1.5/spec-valid-vulnerability-1.5.json",
        "cyclonedx",
        "vulnerabilities",
        count_cdx_vulns,
    ),
    ("cyclonedx-1.6/spec-valid-bom-1.6.json", "cyclonedx", "components", count_cdx_components),
    (
        "cyclonedx-1.6/spec-valid-vulnerability-1.6.json",
        "cyclonedx",
        "vulnerabilities",
        count_cdx_vulns,
    ),
    (
        "cyclonedx-1.6/spec-INVALID-component-type-1.6.json",
        "cyclonedx",
        "components",
        count_cdx_components,
    ),
    ("cyclonedx-1.7/spec-valid-bom-1.7.json", "cyclonedx", "components", count_cdx_components),
    ("vex/cdx-bom-examples.bom-for-vex.json", "cyclonedx", "components", count_cdx_components),
    ("vex/cdx-bom-examples.vex.json", "cyclonedx-vex", "vex", count_vex_statements),
    ("vex/grype.openvex-demo1.json", "openvex", "vex", count_vex_statements),
    ("grype/grype.keycloak.report.json", "grype", "vulnerabilities", count_grype),
    ("trivy/trivy.alpine-310.report.json", "trivy", "vulnerabilities", count_trivy),
    ("osv-scanner/osv-scanner.results-b.json", "osv-scanner", "vulnerabilities", count_osv),
    ("pip-audit/pip-audit.readme-example.json", "pip-audit", "vulnerabilities", count_pip_audit),
    ("semgrep/semgrep.dataflow.sarif.json", "sarif", "findings", count_sarif),
    ("semgrep/semgrep.django-password.results.json", "semgrep", "findings", count_semgrep),
]


@pytest.mark.parametrize(("relative", "kind", "field", "count"), CASES, ids=[c[0] for c in CASES])
def test_corpus_file_is_detected_and_read_completely(
    relative: str, kind: str, field: str, count: Callable[[str], int]
) -> None:
    path = corpus_file(relative)
    ref, part = read_evidence_file(path)
    assert ref.kind == kind
    assert part.kind == kind
    assert len(ref.sha256) == 64
    expected = count(path)
    assert expected > 0
    assert len(getattr(part, field)) == expected


def test_manifest_counts_hold_for_the_big_sboms() -> None:
    # The corpus README states these counts; nested components are included.
    _, juice = read_evidence_file(corpus_file("cyclonedx-1.4/juice-shop.npm.bare.bom.1.4.json"))
    _, keycloak = read_evidence_file(corpus_file("cyclonedx-1.2/keycloak-10.0.2.bom.xml"))
    assert len(juice.components) == 1115
    assert len(keycloak.components) == 903
    assert juice.sbom is not None and juice.sbom.component_count == 1115
    assert juice.sbom.has_dependencies
    assert keycloak.sbom is not None and keycloak.sbom.spec_version == "1.2"


def test_juice_shop_direct_dependencies_come_from_the_graph() -> None:
    path = corpus_file("cyclonedx-1.4/juice-shop.npm.bare.bom.1.4.json")
    raw = _raw(path)
    root = raw["metadata"]["component"]["bom-ref"]
    direct_refs = next(d["dependsOn"] for d in raw["dependencies"] if d["ref"] == root)
    _, part = read_evidence_file(path)
    direct = {c.ref for c in part.components if c.direct}
    assert direct == set(direct_refs)
    assert all(c.direct is False for c in part.components if c.ref not in direct)


def test_cyclonedx_embedded_vulnerability_fields() -> None:
    _, part = read_evidence_file(corpus_file("cyclonedx-1.5/spec-valid-vulnerability-1.5.json"))
    raw = _raw(corpus_file("cyclonedx-1.5/spec-valid-vulnerability-1.5.json"))["vulnerabilities"][0]
    vuln = part.vulnerabilities[0]
    assert vuln.id == raw["id"]
    assert vuln.cwes == tuple(f"CWE-{n}" for n in raw["cwes"])
    assert vuln.cvss_score == max(r["score"] for r in raw["ratings"] if "score" in r)
    assert vuln.state is not VexState.UNTRIAGED
    assert vuln.vex is not None and vuln.vex.justification == raw["analysis"]["justification"]


def test_grype_fields_from_the_keycloak_report() -> None:
    _, part = read_evidence_file(corpus_file("grype/grype.keycloak.report.json"))
    first = part.vulnerabilities[0]
    assert first.id == "CVE-2020-12413"
    assert first.severity is Severity.LOW
    assert first.cvss_score == 5.9
    assert first.component_name == "nspr"
    assert first.purl is not None and first.purl.startswith("pkg:rpm/rhel/nspr@")
    assert first.fix_available is False  # fix.state is wont-fix
    assert first.scanners == ("grype",)
    assert part.components  # artifacts become components


def test_trivy_fields_from_the_alpine_report() -> None:
    _, part = read_evidence_file(corpus_file("trivy/trivy.alpine-310.report.json"))
    first = part.vulnerabilities[0]
    assert first.id == "CVE-2019-1549"
    assert first.severity is Severity.MEDIUM
    assert first.cvss_score == 5.3
    assert first.fix_versions == ("1.1.1d-r0",)
    assert first.fix_available
    assert first.cwes == ("CWE-330",)


def test_osv_groups_tie_aliases_and_fixed_events_become_fix_versions() -> None:
    _, part = read_evidence_file(corpus_file("osv-scanner/osv-scanner.results-b.json"))
    ghsa = next(v for v in part.vulnerabilities if v.id == "GHSA-c3h9-896r-86jm")
    assert {"CVE-2021-3121", "GO-2021-0053"} <= set(ghsa.aliases)
    assert ghsa.fix_versions == ("1.3.2",)
    assert ghsa.severity is Severity.HIGH
    assert ghsa.cvss_score == 8.6  # computed from CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:H
    assert ghsa.purl == "pkg:golang/github.com/gogo/protobuf@1.3.1"


def test_pip_audit_legacy_list_shape() -> None:
    _, part = read_evidence_file(corpus_file("pip-audit/pip-audit.readme-example.json"))
    ids = [v.id for v in part.vulnerabilities]
    assert ids == ["PYSEC-2019-179", "PYSEC-2018-66"]
    assert part.vulnerabilities[0].purl == "pkg:pypi/flask@0.5"
    assert part.vulnerabilities[0].fix_versions == ("1.0",)


def test_sarif_and_semgrep_findings_carry_location_and_tool() -> None:
    _, sarif = read_evidence_file(corpus_file("semgrep/semgrep.dataflow.sarif.json"))
    finding = sarif.findings[0]
    assert finding.tool == "Semgrep OSS"
    assert finding.rule_id == "rules.classic"
    assert (finding.path, finding.line, finding.end_line) == ("targets/taint/taint.py", 9, 9)
    assert finding.severity is Severity.MEDIUM  # rule defaultConfiguration level "warning"
    assert finding.fingerprint is not None
    _, semgrep = read_evidence_file(corpus_file("semgrep/semgrep.django-password.results.json"))
    first = semgrep.findings[0]
    assert first.tool == "semgrep"
    assert first.severity is Severity.HIGH  # ERROR
    assert first.cwes == ("CWE-521",)
    assert (first.path, first.line, first.end_line) == (
        "targets/autofix/django-none-password-default.py",
        60,
        63,
    )
    assert semgrep.extra["errors"] == []


@pytest.mark.parametrize(
    "relative",
    [
        "cyclonedx-1.4/juice-shop.npm.bare.bom.1.4.json",
        "cyclonedx-1.5/spec-valid-vulnerability-1.5.json",
        "cyclonedx-1.6/spec-valid-bom-1.6.json",
        "cyclonedx-1.6/spec-valid-vulnerability-1.6.json",
        "cyclonedx-1.7/spec-valid-bom-1.7.json",
        "vex/cdx-bom-examples.bom-for-vex.json",
        "vex/cdx-bom-examples.vex.json",
    ],
)
def test_valid_spec_files_pass_validation(relative: str) -> None:
    merged = load_evidence([corpus_file(relative)], validate=True)
    assert merged.refs[0].path.endswith(relative)


def test_invalid_component_type_is_rejected_under_validate() -> None:
    from gatekeeper.errors import InputError

    path = corpus_file("cyclonedx-1.6/spec-INVALID-component-type-1.6.json")
    load_evidence([path])  # reading alone does not check the schema
    with pytest.raises(InputError) as caught:
        load_evidence([path], validate=True)
    message = str(caught.value)
    assert "spec-INVALID-component-type-1.6.json:/components/0/type" in message
    assert "1 error" in message
    assert "\n" not in message


def test_keycloak_xml_conforms_to_the_cyclonedx_1_2_xsd() -> None:
    path = corpus_file("cyclonedx-1.2/keycloak-10.0.2.bom.xml")
    merged = load_evidence([path], validate=True)
    assert len(merged.components) == count_cdx_xml_components(path)
