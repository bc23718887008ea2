"""Grype JSON reports (``grype -o json``)."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

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
            values = _plain_match(match, doc.path)
            if values is None:  # anything unusual: the checked path names what is wrong
                values = _checked_match(s, match, mw, doc.path)
            vulns.append(_vulnerability(values))
            name, version, purl = (
                values["component_name"],
                values["component_version"],
                values["purl"],
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
                        "licenses": _licenses(s, match["artifact"], pointer(mw, "artifact")),
                        "hashes": (),
                        "supplier": None,
                        "direct": None,
                        "source": doc.path,
                    }
                )
        return EvidencePart(
            kind=self.kind, vulnerabilities=tuple(vulns), components=tuple(components.values())
        )


def _values(
    vuln_id: str,
    aliases: tuple[str, ...],
    severity: Severity,
    score: float | None,
    artifact: tuple[str, str | None, str | None],
    fix_versions: tuple[str, ...],
    fixed: bool,
    description: str | None,
    urls: tuple[str, ...],
    source: str,
) -> dict[str, Any]:
    """A Vulnerability's values in field order (built by _vulnerability, unvalidated)."""
    if score is not None and severity is Severity.UNKNOWN:
        severity = severity_of_score(score)  # as Vulnerability's validator would
    name, version, purl = artifact
    return {
        "id": vuln_id,
        "aliases": aliases,
        "severity": severity,
        "cvss_score": score,
        "component_name": name,
        "component_version": version,
        "purl": purl,
        "component_ref": None,
        "fix_versions": fix_versions,
        "fix_available": fixed,
        "state": VexState.UNTRIAGED,
        "vex": None,
        "description": description,
        "urls": urls,
        "cwes": (),
        "scanners": ("grype",),
        "sources": (source,),
    }


def _checked_match(s: Shape, match: JsonObject, mw: str, source: str) -> dict[str, Any]:
    """One match through Shape: every value checked, and what is wrong named by pointer."""
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
    return _values(
        vuln_id,
        unique([s.req_str(r, "id", rw) for rw, r in related if r.get("id") != vuln_id]),
        Severity.parse(s.get_str(vuln, "severity", vw)),
        score,
        (name, version, purl),
        fix_versions,
        s.get_str(fix, "state", pointer(vw, "fix")) == "fixed",
        s.get_str(vuln, "description", vw)
        or next(
            (r.get("description") for _, r in related if isinstance(r.get("description"), str)),
            None,
        ),
        unique(urls),
        source,
    )


# -- the common case, checked inline -------------------------------------------------------------
#
# Going through Shape costs a pointer and a call per field read, ~13 µs a match. Matches whose
# fields are all plain (strings, arrays of strings, objects, finite numbers) are read here with
# the same checks inline; anything else returns None and takes _checked_match, which gives the
# same values or the precise error. tests/evidence/test_evidence_grype_fast_path.py compares.


def _text(value: object) -> bool:
    return value is None or type(value) is str


def _strings(value: object) -> list[str] | None:
    """Shape.str_list's value (empties dropped) for a plain array of strings, else None."""
    if value is None:
        return []
    if type(value) is not list:
        return None
    for item in value:
        if type(item) is not str:
            return None
    return [item for item in value if item]


def _plain_score(vuln: JsonObject) -> tuple[bool, float | None]:
    """(plain, _max_score's value) for plain CVSS entries; (False, None) otherwise."""
    entries = vuln.get("cvss")
    if entries is None:
        return True, None
    if type(entries) is not list:
        return False, None
    best: float | None = None
    for cvss in entries:
        if type(cvss) is not dict:
            return False, None
        metrics = cvss.get("metrics")
        if metrics is None:
            metrics = {}
        elif type(metrics) is not dict:
            return False, None
        value = metrics.get("baseScore")
        score: float | None
        if value is None or value == "":
            vector = cvss.get("vector")
            if not _text(vector):
                return False, None
            score = base_score(vector) if vector else None
        elif type(value) is float or type(value) is int:
            score = float(value)
            if not math.isfinite(score):
                return False, None
        else:  # quoted numbers, booleans ...: the checked path
            return False, None
        if score is not None and (best is None or score > best):
            best = score
    return True, best


def _plain_match(match: JsonObject, source: str) -> dict[str, Any] | None:
    """The match's Vulnerability values when every field read is plain; else None."""
    vuln, artifact = match.get("vulnerability"), match.get("artifact")
    if type(vuln) is not dict or type(artifact) is not dict:
        return None
    vuln_id, name = vuln.get("id"), artifact.get("name")
    if type(vuln_id) is not str or not vuln_id or type(name) is not str or not name:
        return None
    version, purl = artifact.get("version"), artifact.get("purl")
    severity, description = vuln.get("severity"), vuln.get("description")
    if not (_text(version) and _text(purl) and _text(severity) and _text(description)):
        return None
    related = match.get("relatedVulnerabilities")
    if related is None:
        related = []
    elif type(related) is not list:
        return None
    plain, score = _plain_score(vuln)
    if not plain:
        return None
    aliases: list[str] = []
    related_scores: list[float] = []
    urls = _strings(vuln.get("urls"))
    if urls is None:
        return None
    for r in related:
        if type(r) is not dict:
            return None
        other = r.get("id")
        if other != vuln_id:
            if type(other) is not str or not other:
                return None
            aliases.append(other)
        plain, related_score = _plain_score(r)
        more = _strings(r.get("urls"))
        if not plain or more is None:
            return None
        if related_score is not None:
            related_scores.append(related_score)
        urls += more
    if score is None and related_scores:
        score = max(related_scores)
    fix = vuln.get("fix")
    if fix is None:
        fix = {}
    elif type(fix) is not dict:
        return None
    fix_versions, state = _strings(fix.get("versions")), fix.get("state")
    if fix_versions is None or not _text(state):
        return None
    if not description:
        description = next(
            (r.get("description") for r in related if isinstance(r.get("description"), str)),
            None,
        )
    return _values(
        vuln_id,
        unique(aliases),
        Severity.parse(severity or None),
        score,
        (name, version or None, purl or None),
        tuple(fix_versions),
        state == "fixed",
        description,
        unique(urls),
        source,
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
