"""Reader details on small fixtures: SPDX, CycloneDX XML, attestations, SARIF, pip-audit, VEX."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.errors import InputError
from gatekeeper.evidence import READERS, load_evidence, read_evidence_file
from gatekeeper.evidence.cvss import base_score
from gatekeeper.evidence.loading import read_document
from gatekeeper.evidence.registry import detect_kind
from gatekeeper.model import Severity, VexState
from tests.evidence.evidence_corpus import fixture


def _write_json(tmp_path: Path, name: str, document: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def test_every_registered_reader_has_its_name_and_description() -> None:
    assert set(READERS) == {
        "attestation",
        "openvex",
        "cyclonedx-vex",
        "cyclonedx",
        "spdx",
        "sarif",
        "semgrep",
        "grype",
        "trivy",
        "osv-scanner",
        "pip-audit",
    }
    for kind in READERS:
        reader = READERS.create(kind)
        assert reader.kind == kind
        assert reader.description


def test_spdx_packages_relationships_and_creation_info() -> None:
    ref, part = read_evidence_file(fixture("spdx-2.3-small.json"))
    assert ref.kind == "spdx"
    by_name = {c.name: c for c in part.components}
    assert set(by_name) == {"flask", "werkzeug"}  # the described package is the subject
    flask = by_name["flask"]
    assert flask.purl == "pkg:pypi/flask@2.3.2"
    assert [lic.expression for lic in flask.licenses] == ["BSD-3-Clause"]
    assert flask.supplier == "Pallets"
    assert flask.hashes[0].alg == "SHA256"
    assert flask.direct is True
    assert by_name["werkzeug"].direct is False
    assert by_name["werkzeug"].licenses == ()  # NOASSERTION is not a license
    assert by_name["werkzeug"].purl == "pkg:pypi/werkzeug@2.3.4"
    info = part.sbom
    assert info is not None
    assert (info.format, info.spec_version) == ("spdx", "2.3")
    assert info.tools == ("syft-1.4.1",)
    assert info.authors == ("Example Corp",)
    assert info.subject == "example-app@1.0.0"
    assert info.supplier == "Example Corp"
    assert info.has_dependencies and info.component_count == 2


def test_spdx_validate_checks_required_fields(tmp_path: Path) -> None:
    load_evidence([fixture("spdx-2.3-small.json")], validate=True)
    doc = json.loads(Path(fixture("spdx-2.3-small.json")).read_text(encoding="utf-8"))
    del doc["packages"][1]["downloadLocation"]
    path = _write_json(tmp_path, "spdx-bad.json", doc)
    load_evidence([path])  # reading does not need downloadLocation
    with pytest.raises(InputError, match=r"spdx-bad.json:/packages/1/downloadLocation"):
        load_evidence([path], validate=True)


def test_cyclonedx_xml_nested_components_graph_and_vulnerability() -> None:
    _, part = read_evidence_file(fixture("cyclonedx-1.5-small.xml"))
    assert [c.name for c in part.components] == ["lodash", "inner"]
    lodash, inner = part.components
    assert lodash.licenses[0].id == "MIT"
    assert (lodash.direct, inner.direct) == (True, False)
    assert part.sbom is not None
    assert part.sbom.tools == ("cdxgen@10.0.0",)
    assert part.sbom.subject == "app@2.0"
    vuln = part.vulnerabilities[0]
    assert (vuln.id, vuln.severity, vuln.cvss_score) == ("CVE-2021-23337", Severity.HIGH, 7.2)
    assert vuln.purl == "pkg:npm/lodash@4.17.20"
    assert vuln.cwes == ("CWE-94",)
    assert vuln.state is VexState.UNDER_INVESTIGATION


def test_cyclonedx_without_graph_leaves_direct_unknown(tmp_path: Path) -> None:
    path = _write_json(
        tmp_path,
        "cdx.json",
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "metadata": {"tools": {"components": [{"name": "syft", "version": "1.0"}]}},
            "components": [
                {
                    "name": "a",
                    "licenses": [{"expression": "MIT OR Apache-2.0"}],
                    "supplier": {"name": "ACME"},
                    "hashes": [{"alg": "SHA-256", "content": "ab"}],
                }
            ],
        },
    )
    _, part = read_evidence_file(path)
    comp = part.components[0]
    assert comp.direct is None
    assert comp.licenses[0].expression == "MIT OR Apache-2.0"
    assert comp.supplier == "ACME"
    assert part.sbom is not None and part.sbom.tools == ("syft@1.0",)


def test_in_toto_statement_and_dsse_envelope(tmp_path: Path) -> None:
    _, part = read_evidence_file(fixture("slsa-v1.intoto.json"))
    att = part.attestations[0]
    assert att.predicate_type == "https://slsa.dev/provenance/v1"
    assert att.builder_id == "https://github.com/actions/runner/github-hosted"
    assert att.build_type == "https://actions.github.io/buildtypes/workflow/v1"
    assert att.subjects[0]["digest"] == {"sha256": "abc123"}
    v02 = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "app", "digest": {"sha256": "ff"}}],
        "predicate": {"builder": {"id": "https://builder.example/v1"}, "buildType": "make"},
    }
    payload = base64.b64encode(json.dumps(v02).encode()).decode()
    envelope = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": payload,
        "signatures": [{"sig": "xx"}],
    }
    ref, part = read_evidence_file(_write_json(tmp_path, "dsse.json", envelope))
    assert ref.kind == "attestation"
    att = part.attestations[0]
    assert (att.builder_id, att.build_type) == ("https://builder.example/v1", "make")


def test_sarif_security_severity_suppressions_and_cwe_tags(tmp_path: Path) -> None:
    sarif = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "CodeQL",
                        "rules": [
                            {
                                "id": "py/sql-injection",
                                "helpUri": "https://codeql.github.com/sql",
                                "defaultConfiguration": {"level": "note"},
                                "properties": {
                                    "security-severity": "9.8",
                                    "tags": ["security", "external/cwe/cwe-089"],
                                },
                            },
                            {"id": "py/unused", "defaultConfiguration": {"level": "note"}},
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": "py/sql-injection",
                        "message": {"text": "SQL built from input"},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": "app.py"},
                                    "region": {"startLine": 3},
                                }
                            }
                        ],
                        "partialFingerprints": {"primaryLocationLineHash": "abc"},
                    },
                    {
                        "ruleIndex": 1,
                        "message": {"text": "unused"},
                        "level": "warning",
                        "suppressions": [{"kind": "inSource"}],
                    },
                    {
                        "ruleId": "py/unused",
                        "message": {"text": "x"},
                        "suppressions": [{"kind": "external", "status": "rejected"}],
                    },
                ],
            }
        ],
    }
    _, part = read_evidence_file(_write_json(tmp_path, "codeql.sarif", sarif))
    sql, unused, rejected = part.findings
    assert (sql.tool, sql.severity, sql.cwes) == ("CodeQL", Severity.CRITICAL, ("CWE-089",))
    assert (sql.path, sql.line, sql.end_line) == ("app.py", 3, 3)
    assert sql.fingerprint == "primaryLocationLineHash:abc"
    assert sql.url == "https://codeql.github.com/sql"
    assert not sql.ignored
    assert (unused.rule_id, unused.severity, unused.ignored) == ("py/unused", Severity.MEDIUM, True)
    assert rejected.severity is Severity.LOW and not rejected.ignored


def test_pip_audit_current_shape_with_skipped_dependency(tmp_path: Path) -> None:
    report = {
        "dependencies": [
            {
                "name": "Flask",
                "version": "0.5",
                "vulns": [
                    {
                        "id": "PYSEC-2019-179",
                        "fix_versions": ["1.0"],
                        "aliases": ["CVE-2019-1010083"],
                        "description": "memory",
                    }
                ],
            },
            {"name": "local-pkg", "skip_reason": "not on PyPI"},
        ],
        "fixes": [],
    }
    ref, part = read_evidence_file(_write_json(tmp_path, "audit.json", report))
    assert ref.kind == "pip-audit"
    vuln = part.vulnerabilities[0]
    assert (vuln.purl, vuln.fix_available, vuln.aliases) == (
        "pkg:pypi/flask@0.5",
        True,
        ("CVE-2019-1010083",),
    )
    assert part.extra["skipped"] == ["local-pkg: not on PyPI"]


def test_openvex_products_include_subcomponents_and_purl_identifiers() -> None:
    _, part = read_evidence_file(fixture_corpus_openvex())
    record = part.vex[0]
    assert record.vulnerability == "CVE-2023-1255"
    assert record.statement.state is VexState.FIXED
    assert "pkg:apk/alpine/libssl3@3.0.8-r3" in record.products
    assert "pkg:apk/alpine/libcrypto3@3.0.8-r3" in record.products


def fixture_corpus_openvex() -> str:
    from tests.evidence.evidence_corpus import corpus_file

    return corpus_file("vex/grype.openvex-demo1.json")


def test_standalone_cyclonedx_vex_is_detected_before_the_sbom_reader(tmp_path: Path) -> None:
    vex = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "vulnerabilities": [
            {
                "id": "CVE-1",
                "analysis": {"state": "false_positive"},
                "affects": [{"ref": "urn:cdx:abc/1#my-ref"}],
            }
        ],
    }
    doc = read_document(_write_json(tmp_path, "vex.json", vex))
    assert detect_kind(doc).kind == "cyclonedx-vex"
    _, part = read_evidence_file(doc.path)
    assert part.vex[0].products == ("my-ref",)
    assert part.vex[0].statement.state is VexState.NOT_AFFECTED
    # The same document read as an SBOM (--kind cyclonedx) keeps the analysis on itself.
    _, as_bom = read_evidence_file(doc.path, kind="cyclonedx")
    assert as_bom.vulnerabilities[0].state is VexState.NOT_AFFECTED


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:H", 8.6),
        ("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
        ("CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", None),
        ("CVSS:3.1/AV:X/AC:L", None),
    ],
)
def test_cvss_v3_base_score(vector: str, score: float | None) -> None:
    assert base_score(vector) == score
