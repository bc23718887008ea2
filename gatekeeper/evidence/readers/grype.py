"""Grype JSON reports (``grype -o json``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from gatekeeper.evidence.cvss import base_score
from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.licenses import make_license
from gatekeeper.evidence.shape import JsonObject, Shape, pointer, unique
from gatekeeper.model import Component, License, Severity, VexState, Vulnerability
from gatekeeper.model.base import checked_builder
from gatekeeper.model.gate_input import severity_of_score

# Built unvalidated (checked_builder): the reader checks every value first.
_vulnerability = checked_builder(Vulnerability)
_component = checked_builder(Component)


class GrypeReader:
    kind: ClassVar[str] = "grype"
    description: ClassVar[str] = "Grype vulnerability report (grype -o json)"
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        if doc.syntax != "json" or not isinstance(data, dict):
            return False
        descriptor = data.get("descriptor")
        named_grype = isinstance(descriptor, dict) and descriptor.get("name") == "grype"
        return isinstance(data.get("matches"), list) and (named_grype or "source" in data)

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        data = s.obj(doc.data, "")
        if "matches" not in data:
            s.fail("/matches", "required array is missing")
        vulns: list[Vulnerability] = []
        components: dict[tuple[str, str | None, str | None], Component] = {}
        for mw, match in s.objects(data, "matches", ""):
            vw, aw = pointer(mw, "vulnerability"), pointer(mw, "artifact")
            vuln = s.obj(match.get("vulnerability"), vw)
            artifact = s.obj(match.get("artifact"), aw)
            vuln_id = s.req_str(vuln, "id", vw)
            name = s.req_str(artifact, "name", aw)
            version = s.get_text(artifact, "version", aw)
            purl = s.get_str(artifact, "purl", aw)
            related = s.objects(match, "relatedVulnerabilities", mw)
            score = _max_score(s, vuln, vw)
            if score is None:
                scores = [_max_score(s, r, rw) for rw, r in related]
                score = max((x for x in scores if x is not None), default=None)
            fix = s.get_obj(vuln, "fix", vw) or {}
            fix_versions = s.str_list(fix, "versions", pointer(vw, "fix"))
            urls = list(s.str_list(vuln, "urls", vw))
            for rw, r in related:
                urls += s.str_list(r, "urls", rw)
            severity = Severity.parse(s.get_str(vuln, "severity", vw))
            if score is not None and severity is Severity.UNKNOWN:
                severity = severity_of_score(score)  # as Vulnerability's validator would
            description = s.get_str(vuln, "description", vw) or next(
                (r.get("description") for _, r in related if isinstance(r.get("description"), str)),
                None,
            )
            # Every value is checked above (Shape) to be what validation would make of it.
            vulns.append(
                _vulnerability(
                    {
                        "id": vuln_id,
                        "aliases": unique(
                            [s.req_str(r, "id", rw) for rw, r in related if r.get("id") != vuln_id]
                        ),
                        "severity": severity,
                        "cvss_score": score,
                        "component_name": name,
                        "component_version": version,
                        "purl": purl,
                        "component_ref": None,
                        "fix_versions": fix_versions,
                        "fix_available": s.get_str(fix, "state", pointer(vw, "fix")) == "fixed",
                        "state": VexState.UNTRIAGED,
                        "vex": None,
                        "description": description,
                        "urls": unique(urls),
                        "cwes": (),
                        "scanners": ("grype",),
                        "sources": (doc.path,),
                    }
                )
            )
            key = (name, version, purl)
            if key not in components:
                components[key] = _component(
                    {
                        "ref": None,
                        "name": name,
                        "version": version,
                        "group": None,
                        "purl": purl,
                        "type": "library",
                        "scope": None,
                        "licenses": _licenses(s, artifact, aw),
                        "hashes": (),
                        "supplier": None,
                        "direct": None,
                        "source": doc.path,
                    }
                )
        return EvidencePart(
            kind=self.kind, vulnerabilities=tuple(vulns), components=tuple(components.values())
        )


def _max_score(s: Shape, vuln: JsonObject, where: str) -> float | None:
    best: float | None = None
    for cw, cvss in s.objects(vuln, "cvss", where):
        metrics = s.get_obj(cvss, "metrics", cw) or {}
        score = s.get_num(metrics, "baseScore", pointer(cw, "metrics"))
        if score is None:
            vector = s.get_str(cvss, "vector", cw)
            score = base_score(vector) if vector else None
        if score is not None and (best is None or score > best):
            best = score
    return best


def _licenses(s: Shape, artifact: JsonObject, where: str) -> tuple[License, ...]:
    out: list[License] = []
    lw = pointer(where, "licenses")
    for index, item in enumerate(s.get_arr(artifact, "licenses", where)):
        if isinstance(item, str):  # older grype: plain strings, not necessarily SPDX ids
            out.append(make_license(name=item))
        else:  # newer grype: {"value", "spdxExpression", "type", ...}
            entry = s.obj(item, pointer(lw, index))
            expression = s.get_str(entry, "spdxExpression", pointer(lw, index))
            value = s.get_str(entry, "value", pointer(lw, index))
            if expression or value:
                out.append(make_license(name=None if expression else value, expression=expression))
    return tuple(out)
