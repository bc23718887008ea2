"""Trivy JSON reports, SchemaVersion 2 (``trivy image -f json``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.shape import JsonObject, Shape, pointer, unique
from gatekeeper.model import Severity, Vulnerability


class TrivyReader:
    kind: ClassVar[str] = "trivy"
    description: ClassVar[str] = "Trivy vulnerability report (JSON, SchemaVersion 2)"
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        return (
            doc.syntax == "json"
            and isinstance(data, dict)
            and "SchemaVersion" in data
            and ("Results" in data or "ArtifactName" in data)
        )

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        data = s.obj(doc.data, "")
        version = s.get_int(data, "SchemaVersion", "")
        if version != 2:
            s.fail("/SchemaVersion", f"unsupported Trivy SchemaVersion {version!r} (expected 2)")
        vulns: list[Vulnerability] = []
        for rw, result in s.objects(data, "Results", ""):
            for vw, item in s.objects(result, "Vulnerabilities", rw):
                vulns.append(self._vulnerability(s, item, vw, doc.path))
        return EvidencePart(kind=self.kind, vulnerabilities=tuple(vulns))

    def _vulnerability(self, s: Shape, item: JsonObject, where: str, source: str) -> Vulnerability:
        fixed = s.get_str(item, "FixedVersion", where) or ""
        fix_versions = unique([v.strip() for v in fixed.split(",")])
        identifier = s.get_obj(item, "PkgIdentifier", where) or {}
        primary = s.get_str(item, "PrimaryURL", where)
        status = s.get_str(item, "Status", where)
        return Vulnerability(
            id=s.req_str(item, "VulnerabilityID", where),
            aliases=s.str_list(item, "VendorIDs", where),
            severity=Severity.parse(s.get_str(item, "Severity", where)),
            cvss_score=self._max_v3(s, item, where),
            component_name=s.req_str(item, "PkgName", where),
            component_version=s.get_text(item, "InstalledVersion", where),
            purl=s.get_str(identifier, "PURL", pointer(where, "PkgIdentifier")),
            fix_versions=fix_versions,
            fix_available=bool(fix_versions) or status == "fixed",
            description=s.get_str(item, "Description", where) or s.get_str(item, "Title", where),
            urls=unique([primary or "", *s.str_list(item, "References", where)]),
            cwes=s.str_list(item, "CweIDs", where),
            scanners=("trivy",),
            sources=(source,),
        )

    def _max_v3(self, s: Shape, item: JsonObject, where: str) -> float | None:
        cvss = s.get_obj(item, "CVSS", where) or {}
        best: float | None = None
        for vendor in cvss:
            entry = s.obj(cvss[vendor], pointer(pointer(where, "CVSS"), vendor))
            score = s.get_num(entry, "V3Score", pointer(pointer(where, "CVSS"), vendor))
            if score is not None and (best is None or score > best):
                best = score
        return best
