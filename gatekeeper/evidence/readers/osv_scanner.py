"""OSV-Scanner JSON output (``osv-scanner --format json``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from gatekeeper.evidence.cvss import base_score
from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.purl import osv_purl
from gatekeeper.evidence.shape import JsonObject, Shape, pointer, severity_from_score, unique
from gatekeeper.model import Component, Severity, Vulnerability


class OsvScannerReader:
    kind: ClassVar[str] = "osv-scanner"
    description: ClassVar[str] = "OSV-Scanner JSON results"
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        if doc.syntax != "json" or not isinstance(data, dict):
            return False
        results = data.get("results")
        return (
            isinstance(results, list)
            and "runs" not in data
            and all(isinstance(r, dict) and "packages" in r for r in results)
            and (bool(results) or "experimental_config" in data)
        )

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        data = s.obj(doc.data, "")
        if "results" not in data:
            s.fail("/results", "required array is missing")
        vulns: list[Vulnerability] = []
        # The packages it reports stand in as components when no SBOM is given.
        components: dict[tuple[str, str | None, str | None], Component] = {}
        for rw, result in s.objects(data, "results", ""):
            for pw, entry in s.objects(result, "packages", rw):
                found = self._package(s, entry, pw, doc.path)
                vulns += found
                component = self._component(s, entry, pw, doc.path)
                components.setdefault(
                    (component.name, component.version, component.purl), component
                )
        return EvidencePart(
            kind=self.kind, vulnerabilities=tuple(vulns), components=tuple(components.values())
        )

    def _component(self, s: Shape, entry: JsonObject, where: str, source: str) -> Component:
        kw = pointer(where, "package")
        package = s.obj(entry.get("package"), kw)
        name = s.req_str(package, "name", kw)
        version = s.get_text(package, "version", kw)
        purl = osv_purl(s.get_str(package, "ecosystem", kw), name, version)
        return Component(name=name, version=version, purl=purl, source=source)

    def _package(self, s: Shape, entry: JsonObject, where: str, source: str) -> list[Vulnerability]:
        kw = pointer(where, "package")
        package = s.obj(entry.get("package"), kw)
        name = s.req_str(package, "name", kw)
        version = s.get_text(package, "version", kw)
        purl = osv_purl(s.get_str(package, "ecosystem", kw), name, version)
        # Each group lists ids osv-scanner considers the same vulnerability.
        group_of: dict[str, tuple[str, ...]] = {}
        for gw, group in s.objects(entry, "groups", where):
            ids = s.str_list(group, "ids", gw)
            for vid in ids:
                group_of[vid] = ids
        out: list[Vulnerability] = []
        for vw, record in s.objects(entry, "vulnerabilities", where):
            vid = s.req_str(record, "id", vw)
            aliases = [*s.str_list(record, "aliases", vw), *group_of.get(vid, ())]
            fixes: list[str] = []
            for aw, affected in s.objects(record, "affected", vw):
                for rgw, rng in s.objects(affected, "ranges", aw):
                    for ew, event in s.objects(rng, "events", rgw):
                        fixed = s.get_text(event, "fixed", ew)
                        if fixed:
                            fixes.append(fixed)
            specific = s.get_obj(record, "database_specific", vw) or {}
            cwes = s.str_list(specific, "cwe_ids", pointer(vw, "database_specific"))
            urls = [
                s.get_str(r, "url", rfw) or "" for rfw, r in s.objects(record, "references", vw)
            ]
            severity, score = self._severity(s, record, vw, specific)
            out.append(
                Vulnerability(
                    id=vid,
                    aliases=tuple(a for a in unique(aliases) if a != vid),
                    severity=severity,
                    cvss_score=score,
                    component_name=name,
                    component_version=version,
                    purl=purl,
                    fix_versions=unique(fixes),
                    fix_available=bool(fixes),
                    description=s.get_str(record, "summary", vw)
                    or s.get_str(record, "details", vw),
                    urls=unique(urls),
                    cwes=cwes,
                    scanners=("osv-scanner",),
                    sources=(source,),
                )
            )
        return out

    def _severity(
        self, s: Shape, record: JsonObject, where: str, specific: JsonObject
    ) -> tuple[Severity, float | None]:
        score: float | None = None
        for sw, item in s.objects(record, "severity", where):
            kind = s.get_str(item, "type", sw) or ""
            text = s.get_text(item, "score", sw)
            if not text:
                continue
            value = base_score(text) if kind.startswith("CVSS_V") else None
            if value is None:
                try:
                    value = float(text)
                except ValueError:
                    value = None
            if value is not None and (score is None or value > score):
                score = value
        label = s.get_str(specific, "severity", pointer(where, "database_specific"))
        if label:
            return Severity.parse(label), score
        return Severity.parse(severity_from_score(score)), score
