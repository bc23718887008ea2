"""Dedupe across scanners and VEX application, as a gate would see them."""

from __future__ import annotations

from gatekeeper.evidence import load_evidence
from gatekeeper.model import Severity, VexState
from tests.evidence.evidence_corpus import corpus_file, fixture


def test_same_cve_on_same_purl_from_two_scanners_is_one_vulnerability() -> None:
    merged = load_evidence([fixture("grype-jackson.json"), fixture("trivy-jackson-libssl.json")])
    jackson = [v for v in merged.vulnerabilities if v.component_version == "2.10.0"]
    assert len(jackson) == 1  # grype says GHSA (alias CVE), trivy says CVE; qualifiers differ
    vuln = jackson[0]
    assert vuln.id == "CVE-2020-25649"
    assert "GHSA-288c-cq4h-88gq" in vuln.aliases
    assert set(vuln.scanners) == {"grype", "trivy"}
    assert len(vuln.sources) == 2
    assert vuln.severity is Severity.CRITICAL  # the highest of High and CRITICAL
    assert vuln.cvss_score == 8.2
    assert set(vuln.fix_versions) == {"2.10.5.1", "2.9.10.7"}
    assert vuln.fix_available
    assert vuln.cwes == ("CWE-611",)
    assert merged.kinds == ("grype", "trivy")
    assert [r.kind for r in merged.refs] == ["grype", "trivy"]


def test_different_components_are_not_merged() -> None:
    merged = load_evidence([fixture("trivy-jackson-libssl.json")])
    assert len(merged.vulnerabilities) == 2


def test_cyclonedx_vex_against_its_bom_and_a_scan_sets_not_affected() -> None:
    bom = corpus_file("vex/cdx-bom-examples.bom-for-vex.json")
    vex = corpus_file("vex/cdx-bom-examples.vex.json")
    without = load_evidence([bom, fixture("grype-jackson.json")])
    assert without.vulnerabilities[0].state is VexState.UNTRIAGED
    merged = load_evidence([bom, fixture("grype-jackson.json"), vex])
    vuln = merged.vulnerabilities[0]
    assert vuln.state is VexState.NOT_AFFECTED
    assert vuln.vex is not None
    assert vuln.vex.justification == "code_not_reachable"
    assert vuln.vex.response == ("will_not_fix", "update")
    assert vuln.vex.source == vex
    assert merged.sbom.present and merged.sbom.files == (bom,)


def test_cyclonedx_vex_does_not_touch_other_components() -> None:
    vex = corpus_file("vex/cdx-bom-examples.vex.json")
    merged = load_evidence([fixture("trivy-jackson-libssl.json"), vex])
    states = {v.component_name: v.state for v in merged.vulnerabilities}
    assert states["com.fasterxml.jackson.core:jackson-databind"] is VexState.NOT_AFFECTED
    assert states["libssl3"] is VexState.UNTRIAGED


def test_openvex_demo_marks_libssl3_fixed() -> None:
    openvex = corpus_file("vex/grype.openvex-demo1.json")
    merged = load_evidence([fixture("trivy-jackson-libssl.json"), openvex])
    libssl = next(v for v in merged.vulnerabilities if v.component_name == "libssl3")
    assert libssl.state is VexState.FIXED
    jackson = next(v for v in merged.vulnerabilities if v.component_name != "libssl3")
    assert jackson.state is VexState.UNTRIAGED


def test_last_vex_statement_wins_in_file_order(tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))

    def openvex(name: str, status: str) -> str:
        path = base / name
        path.write_text(
            '{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{'
            '"vulnerability": {"name": "CVE-2023-1255"},'
            '"products": [{"@id": "pkg:apk/alpine/libssl3"}],'
            f'"status": "{status}", "justification": "vulnerable_code_not_present"' + "}]}",
            encoding="utf-8",
        )
        return str(path)

    scan = fixture("trivy-jackson-libssl.json")
    first, second = openvex("a.json", "affected"), openvex("b.json", "not_affected")
    merged = load_evidence([scan, first, second])
    libssl = next(v for v in merged.vulnerabilities if v.component_name == "libssl3")
    assert libssl.state is VexState.NOT_AFFECTED  # versionless product purl matches any version
    merged = load_evidence([scan, second, first])
    libssl = next(v for v in merged.vulnerabilities if v.component_name == "libssl3")
    assert libssl.state is VexState.AFFECTED


def test_sbom_info_from_several_sboms() -> None:
    bom = corpus_file("vex/cdx-bom-examples.bom-for-vex.json")
    spdx = fixture("spdx-2.3-small.json")
    merged = load_evidence([bom, spdx])
    assert merged.sbom.present
    assert merged.sbom.format == "cyclonedx"
    assert merged.sbom.files == (bom, spdx)
    assert merged.sbom.component_count == 3 + 2
    assert len(merged.components) == 5


def test_no_evidence_gives_an_empty_view() -> None:
    merged = load_evidence([])
    assert merged.components == () and merged.vulnerabilities == ()
    assert merged.sbom.present is False
