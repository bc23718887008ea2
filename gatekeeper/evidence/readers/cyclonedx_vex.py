"""Standalone CycloneDX VEX: a CycloneDX document with analysed vulnerabilities and no components.

Its statements apply to vulnerabilities reported by scanners (or embedded in an SBOM) after all
evidence is read. ``affects[].ref`` is usually a BOM-Link (``urn:cdx:serial/1#bom-ref``); the
bom-ref after ``#`` is the product (often itself a purl).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from gatekeeper.evidence.interface import EvidencePart, ParsedDocument, VexRecord
from gatekeeper.evidence.readers.cyclonedx import (
    affected_refs,
    bom_document,
    is_cyclonedx,
    read_analysis,
    ref_target,
)
from gatekeeper.evidence.shape import Shape, unique


class CycloneDxVexReader:
    kind: ClassVar[str] = "cyclonedx-vex"
    description: ClassVar[str] = "CycloneDX VEX (vulnerabilities with analysis, no components)"
    syntax: ClassVar[Literal["json", "xml"]] = "json"
    syntaxes: ClassVar[tuple[str, ...]] = ("json", "xml")

    def detect(self, doc: ParsedDocument) -> bool:
        if not is_cyclonedx(doc):
            return False
        if doc.syntax == "xml" and len(doc.data.findall("{*}components/{*}component")) > 0:
            return False  # an SBOM: skip converting the whole document just to say no
        bom = bom_document(doc)
        if not isinstance(bom, dict) or bom.get("components"):
            return False
        vulns = bom.get("vulnerabilities")
        return (
            isinstance(vulns, list)
            and bool(vulns)
            and all(isinstance(v, dict) and v.get("analysis") for v in vulns)
        )

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        bom = s.obj(bom_document(doc), "")
        records: list[VexRecord] = []
        for vw, vuln in s.objects(bom, "vulnerabilities", ""):
            vuln_id = s.req_str(vuln, "id", vw)
            statement = read_analysis(s, vuln, vw, doc.path)
            if statement is None:
                s.fail(vw, "VEX vulnerability has no analysis.state")
            products = unique([ref_target(ref) for ref in affected_refs(s, vuln, vw)])
            records.append(VexRecord(vulnerability=vuln_id, statement=statement, products=products))
        if not records:
            s.fail("/vulnerabilities", "VEX document has no vulnerabilities")
        return EvidencePart(kind=self.kind, vex=tuple(records))
