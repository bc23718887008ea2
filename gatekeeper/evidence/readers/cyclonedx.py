"""CycloneDX SBOMs: JSON 1.2–1.7 and XML 1.0–1.7.

XML is first converted to the JSON document shape (same field names), so one code path reads
both; pointers in errors about XML files therefore use the JSON field names and 0-based element
indexes (``/components/3/name`` is the fourth ``<component>``'s ``<name>``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar, Literal
from xml.etree.ElementTree import Element

from gatekeeper.evidence.cvss import base_score
from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.licenses import make_license
from gatekeeper.evidence.shape import JsonObject, Shape, pointer, severity_from_score, unique
from gatekeeper.model import (
    Component,
    Hash,
    License,
    SbomInfo,
    Severity,
    VexState,
    VexStatement,
    Vulnerability,
)
from gatekeeper.model.base import checked_builder

CDX_XML_NAMESPACE = "http://cyclonedx.org/schema/bom/"

# CycloneDX analysis.state -> normalized VEX state.
CDX_ANALYSIS_STATES: dict[str, VexState] = {
    "resolved": VexState.FIXED,
    "resolved_with_pedigree": VexState.FIXED,
    "exploitable": VexState.AFFECTED,
    "in_triage": VexState.UNDER_INVESTIGATION,
    "false_positive": VexState.NOT_AFFECTED,
    "not_affected": VexState.NOT_AFFECTED,
}


def is_cyclonedx(doc: ParsedDocument) -> bool:
    if doc.syntax == "json":
        return isinstance(doc.data, dict) and doc.data.get("bomFormat") == "CycloneDX"
    tag = str(getattr(doc.data, "tag", ""))
    return tag.startswith("{" + CDX_XML_NAMESPACE) and tag.endswith("}bom")


def bom_document(doc: ParsedDocument) -> Any:
    """The BOM as the JSON-shaped value, whatever the syntax."""
    if doc.syntax == "xml":
        return xml_bom_to_json(doc.data)
    return doc.data


def ref_target(ref: str) -> str:
    """A BOM-Link (``urn:cdx:serial/version#bom-ref``) -> the bom-ref; other refs unchanged."""
    if ref.startswith("urn:cdx:") and "#" in ref:
        return ref.split("#", 1)[1]
    return ref


class CycloneDxReader:
    kind: ClassVar[str] = "cyclonedx"
    description: ClassVar[str] = (
        "CycloneDX SBOM (JSON 1.2-1.7, XML 1.0-1.7; XSDs shipped for --validate)"
    )
    syntax: ClassVar[Literal["json", "xml"]] = "json"
    syntaxes: ClassVar[tuple[str, ...]] = ("json", "xml")

    def detect(self, doc: ParsedDocument) -> bool:
        return is_cyclonedx(doc)

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        bom = s.obj(bom_document(doc), "")
        if bom.get("bomFormat") not in (None, "CycloneDX"):
            s.fail("/bomFormat", "is not 'CycloneDX'")
        metadata = s.get_obj(bom, "metadata", "") or {}
        direct = _direct_refs(s, bom, metadata)
        components = _read_components(s, bom, doc.path, direct)
        vulnerabilities = read_vulnerabilities(s, bom, components, doc.path)
        info = _sbom_info(s, bom, metadata, doc.path, len(components))
        return EvidencePart(
            kind=self.kind,
            components=tuple(components),
            vulnerabilities=tuple(vulnerabilities),
            sbom=info,
        )


# -- components ---------------------------------------------------------------------------------


def _read_components(
    s: Shape, bom: JsonObject, source: str, direct: set[str] | None
) -> list[Component]:
    """Every component, nested ones after their parent, in document order."""
    out: list[Component] = []
    items = bom.get("components")
    if type(items) is not list or not all(type(item) is dict for item in items):
        for where, item in s.objects(bom, "components", ""):  # names what is wrong
            _walk_component(s, item, where, source, direct, out)
        return out
    # The common case, without a pointer or a call per component unless it needs one: an
    # array of objects (checked above, as Shape.objects would) with no nested components.
    append = out.append
    for index, item in enumerate(items):
        if item.get("components") is None:
            fast = _plain_component(item, source, direct)
            if fast is not None:
                append(fast)
                continue
        _walk_component(s, item, f"/components/{index}", source, direct, out)
    return out


def _walk_component(
    s: Shape,
    item: JsonObject,
    where: str,
    source: str,
    direct: set[str] | None,
    out: list[Component],
) -> None:
    out.append(read_component(s, item, where, source, direct))
    for child_where, child in s.objects(item, "components", where):
        _walk_component(s, child, child_where, source, direct, out)


def read_component(
    s: Shape, item: JsonObject, where: str, source: str, direct: set[str] | None = None
) -> Component:
    """One component; ``direct`` is the set of refs the subject depends on, None without a graph."""
    fast = _plain_component(item, source, direct)
    if fast is not None:
        return fast
    # Anything unusual (a number, an empty name, a malformed license ...) takes the checked
    # path below, which accepts what it may and names the field of anything it must refuse.
    supplier = s.get_obj(item, "supplier", where)
    ref = s.get_str(item, "bom-ref", where)
    return Component(
        ref=ref,
        direct=None if direct is None else ref in direct,
        name=s.req_str(item, "name", where),
        version=s.get_text(item, "version", where),
        group=s.get_str(item, "group", where),
        purl=s.get_str(item, "purl", where),
        type=s.get_str(item, "type", where) or "library",
        scope=s.get_str(item, "scope", where),
        licenses=_licenses(s, item, where),
        hashes=tuple(
            Hash(alg=s.req_str(h, "alg", hw), value=s.req_str(h, "content", hw))
            for hw, h in s.objects(item, "hashes", where)
        ),
        supplier=s.get_str(supplier, "name", pointer(where, "supplier")) if supplier else None,
        source=source,
    )


# -- the common case, checked inline -------------------------------------------------------------
#
# A 20,000-component SBOM means ~300,000 field reads. Going through Shape for each costs more
# than everything else the reader does, so components whose fields are all plain strings (the
# overwhelming majority) are read here with the same checks done inline; anything else returns
# None and goes through the Shape path, which produces the same values or the precise error.
# Both paths must agree value for value (tests/evidence/test_evidence_readers.py checks them).


def _plain_text(value: object) -> bool:
    return value is None or type(value) is str


@lru_cache(maxsize=1024)
def _license(lic_id: str | None, name: str | None, expression: str | None) -> License:
    # Licenses repeat across components (a few dozen distinct ones per SBOM), and frozen models
    # can be shared: one instance per distinct license instead of one per component.
    return make_license(lic_id, name, expression)


def _plain_licenses(value: object) -> tuple[License, ...] | None:
    if value is None:
        return ()
    if type(value) is not list:
        return None
    out: list[License] = []
    for choice in value:
        if type(choice) is not dict:
            return None
        expression = choice.get("expression")
        if not _plain_text(expression):
            return None
        if expression:
            out.append(_license(None, None, expression))
            continue
        lic = choice.get("license")
        if type(lic) is not dict:
            return None
        lic_id, name = lic.get("id"), lic.get("name")
        if not (_plain_text(lic_id) and _plain_text(name)) or not (lic_id or name):
            return None
        out.append(_license(lic_id or None, name or None, None))
    return tuple(out)


def _plain_hashes(value: object) -> tuple[Hash, ...] | None:
    if value is None:
        return ()
    if type(value) is not list:
        return None
    out: list[Hash] = []
    for entry in value:
        if type(entry) is not dict:
            return None
        alg, content = entry.get("alg"), entry.get("content")
        if type(alg) is not str or type(content) is not str or not alg or not content:
            return None
        out.append(_hash({"alg": alg, "value": content}))
    return tuple(out)


# Built unvalidated (checked_builder): the fast path below checks every value first.
_component = checked_builder(Component)
_hash = checked_builder(Hash)


def _plain_component(item: JsonObject, source: str, direct: set[str] | None) -> Component | None:
    """The component when every field read is absent, null or a plain string; else None."""
    get = item.get
    name = get("name")
    if type(name) is not str or not name:
        return None
    ref, version, group = get("bom-ref"), get("version"), get("group")
    purl, kind, scope = get("purl"), get("type"), get("scope")
    # _plain_text of each, inline: this runs once per component.
    if not (
        (ref is None or type(ref) is str)
        and (version is None or type(version) is str)
        and (group is None or type(group) is str)
        and (purl is None or type(purl) is str)
        and (kind is None or type(kind) is str)
        and (scope is None or type(scope) is str)
    ):
        return None
    supplier = get("supplier")
    supplier_name = None
    if supplier is not None:
        if type(supplier) is not dict:
            return None
        supplier_name = supplier.get("name")
        if not _plain_text(supplier_name):
            return None
    licenses = _plain_licenses(get("licenses"))
    hashes = _plain_hashes(get("hashes"))
    if licenses is None or hashes is None:
        return None
    ref = ref or None
    # Every value is checked above to be what validation would make of it: built unvalidated.
    return _component(
        {
            "ref": ref,
            "name": name,
            "version": version or None,
            "group": group or None,
            "purl": purl or None,
            "type": kind or "library",
            "scope": scope or None,
            "licenses": licenses,
            "hashes": hashes,
            "supplier": supplier_name or None,
            "direct": None if direct is None else ref in direct,
            "source": source,
        },
    )


def _licenses(s: Shape, item: JsonObject, where: str) -> tuple[License, ...]:
    out: list[License] = []
    for lw, choice in s.objects(item, "licenses", where):
        expression = s.get_str(choice, "expression", lw)
        if expression:
            out.append(make_license(expression=expression))
            continue
        lic = s.get_obj(choice, "license", lw)
        if lic is None:
            s.fail(lw, "license entry has neither 'license' nor 'expression'")
        inner = pointer(lw, "license")
        lic_id, name = s.get_str(lic, "id", inner), s.get_str(lic, "name", inner)
        if not lic_id and not name:
            s.fail(inner, "license has neither 'id' nor 'name'")
        out.append(make_license(lic_id, name))
    return tuple(out)


def _direct_refs(s: Shape, bom: JsonObject, metadata: JsonObject) -> set[str] | None:
    """Refs the subject depends on directly; None when the SBOM has no graph for its subject."""
    if "dependencies" not in bom or bom["dependencies"] is None:
        return None
    subject = s.get_obj(metadata, "component", "/metadata")
    root = s.get_str(subject, "bom-ref", "/metadata/component") if subject else None
    direct: set[str] | None = None
    for dw, dep in s.objects(bom, "dependencies", ""):
        ref = s.req_str(dep, "ref", dw)
        depends_on = s.str_list(dep, "dependsOn", dw)
        if root is not None and ref == root:
            direct = set(depends_on)
    return direct


# -- SBOM facts ---------------------------------------------------------------------------------


def _sbom_info(s: Shape, bom: JsonObject, metadata: JsonObject, path: str, count: int) -> SbomInfo:
    mw = "/metadata"
    authors = [s.get_str(a, "name", aw) or "" for aw, a in s.objects(metadata, "authors", mw)]
    for key in ("manufacture", "manufacturer"):
        org = s.get_obj(metadata, key, mw)
        if org:
            authors.append(s.get_str(org, "name", pointer(mw, key)) or "")
    supplier_obj = s.get_obj(metadata, "supplier", mw)
    subject_obj = s.get_obj(metadata, "component", mw)
    subject = None
    if subject_obj:
        sw = pointer(mw, "component")
        name = s.get_str(subject_obj, "name", sw)
        version = s.get_text(subject_obj, "version", sw)
        subject = f"{name}@{version}" if name and version else name
    return SbomInfo(
        present=True,
        format="cyclonedx",
        spec_version=s.get_text(bom, "specVersion", ""),
        files=(path,),
        timestamp=s.get_str(metadata, "timestamp", mw),
        authors=unique(authors),
        tools=_tools(s, metadata),
        supplier=s.get_str(supplier_obj, "name", pointer(mw, "supplier")) if supplier_obj else None,
        subject=subject,
        has_dependencies=bool(bom.get("dependencies")),
        component_count=count,
    )


def _tools(s: Shape, metadata: JsonObject) -> tuple[str, ...]:
    tools = metadata.get("tools")
    tw = "/metadata/tools"
    if tools is None:
        return ()
    entries: list[tuple[str, JsonObject]]
    if isinstance(tools, dict):  # 1.5+: {"components": [...], "services": [...]}
        entries = s.objects(tools, "components", tw) + s.objects(tools, "services", tw)
    else:  # 1.2-1.4: a list of {vendor, name, version}
        s.arr(tools, tw)
        entries = s.objects(metadata, "tools", "/metadata")
    names: list[str] = []
    for ew, entry in entries:
        name = s.get_str(entry, "name", ew)
        version = s.get_text(entry, "version", ew)
        if name:
            names.append(f"{name}@{version}" if version else name)
    return unique(names)


# -- vulnerabilities ----------------------------------------------------------------------------


def read_analysis(s: Shape, vuln: JsonObject, where: str, source: str) -> VexStatement | None:
    analysis = s.get_obj(vuln, "analysis", where)
    if not analysis:
        return None
    aw = pointer(where, "analysis")
    state_text = s.get_str(analysis, "state", aw)
    if state_text is None:
        return None
    state = CDX_ANALYSIS_STATES.get(state_text)
    if state is None:
        s.fail(pointer(aw, "state"), f"unknown analysis state {state_text!r}")
    return VexStatement(
        state=state,
        justification=s.get_str(analysis, "justification", aw),
        detail=s.get_str(analysis, "detail", aw),
        response=s.str_list(analysis, "response", aw),
        source=source,
    )


def affected_refs(s: Shape, vuln: JsonObject, where: str) -> list[str]:
    return [s.req_str(a, "ref", aw) for aw, a in s.objects(vuln, "affects", where)]


def read_vulnerabilities(
    s: Shape, bom: JsonObject, components: list[Component], source: str
) -> list[Vulnerability]:
    by_ref = {c.ref: c for c in components if c.ref}
    out: list[Vulnerability] = []
    for vw, vuln in s.objects(bom, "vulnerabilities", ""):
        vuln_id = s.req_str(vuln, "id", vw)
        severity, score = _rating(s, vuln, vw)
        vex = read_analysis(s, vuln, vw, source)
        source_obj = s.get_obj(vuln, "source", vw)
        urls = [s.get_str(source_obj, "url", pointer(vw, "source")) or ""] if source_obj else []
        urls += [s.get_str(a, "url", aw) or "" for aw, a in s.objects(vuln, "advisories", vw)]
        cwes = []
        for index, cwe in enumerate(s.get_arr(vuln, "cwes", vw)):
            if isinstance(cwe, bool) or not isinstance(cwe, int):
                s.fail(pointer(pointer(vw, "cwes"), index), "CWE must be an integer")
            cwes.append(f"CWE-{cwe}")
        base = Vulnerability(
            id=vuln_id,
            aliases=unique(
                [s.get_str(r, "id", rw) or "" for rw, r in s.objects(vuln, "references", vw)]
            ),
            severity=severity,
            cvss_score=score,
            state=vex.state if vex else VexState.UNTRIAGED,
            vex=vex,
            description=s.get_str(vuln, "description", vw),
            urls=unique(urls),
            cwes=unique(cwes),
            scanners=("cyclonedx",),
            sources=(source,),
        )
        refs = affected_refs(s, vuln, vw)
        if not refs:
            out.append(base)
        for ref in refs:
            target = ref_target(ref)
            comp = by_ref.get(target)
            out.append(
                base.model_copy(
                    update={
                        "component_ref": target,
                        "component_name": comp.name if comp else None,
                        "component_version": comp.version if comp else None,
                        "purl": comp.purl
                        if comp
                        else (target if target.startswith("pkg:") else None),
                    }
                )
            )
    return out


def _rating(s: Shape, vuln: JsonObject, where: str) -> tuple[Severity, float | None]:
    best, best_score = Severity.UNKNOWN, None
    for rw, rating in s.objects(vuln, "ratings", where):
        score = s.get_num(rating, "score", rw)
        if score is None:
            vector = s.get_str(rating, "vector", rw)
            score = base_score(vector) if vector else None
        text = s.get_str(rating, "severity", rw)
        severity = Severity.parse(text if text else severity_from_score(score))
        if severity.rank > best.rank:
            best = severity
        if score is not None and (best_score is None or score > best_score):
            best_score = score
    return best, best_score


# -- XML -> JSON shape --------------------------------------------------------------------------


class _Xml:
    def __init__(self, ns: str):
        self.ns = ns

    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def child(self, el: Element, name: str) -> Element | None:
        return el.find(self.q(name))

    def children(self, el: Element | None, path: str) -> list[Element]:
        if el is None:
            return []
        return el.findall("/".join(self.q(p) for p in path.split("/")))

    def text(self, el: Element | None, name: str) -> str | None:
        if el is None:
            return None
        found = el.find(self.q(name))
        if found is None or found.text is None:
            return None
        return found.text.strip() or None


def xml_bom_to_json(root: Element) -> JsonObject:
    tag = str(root.tag)
    ns = tag[1 : tag.index("}")] if tag.startswith("{") else ""
    x = _Xml(ns)
    bom: JsonObject = {"bomFormat": "CycloneDX", "specVersion": ns.rsplit("/", 1)[-1]}
    metadata = x.child(root, "metadata")
    if metadata is not None:
        bom["metadata"] = _xml_metadata(x, metadata)
    components = x.child(root, "components")
    if components is not None:
        bom["components"] = [_xml_component(x, c) for c in x.children(components, "component")]
    dependencies = x.child(root, "dependencies")
    if dependencies is not None:
        bom["dependencies"] = [
            {
                "ref": d.get("ref"),
                "dependsOn": [sub.get("ref") for sub in x.children(d, "dependency")],
            }
            for d in x.children(dependencies, "dependency")
        ]
    vulnerabilities = x.child(root, "vulnerabilities")
    if vulnerabilities is not None:
        bom["vulnerabilities"] = [
            _xml_vulnerability(x, v) for v in x.children(vulnerabilities, "vulnerability")
        ]
    return bom


def _xml_named(x: _Xml, el: Element | None) -> JsonObject | None:
    return None if el is None else {"name": x.text(el, "name")}


def _xml_metadata(x: _Xml, el: Element) -> JsonObject:
    out: JsonObject = {"timestamp": x.text(el, "timestamp")}
    tools = x.child(el, "tools")
    if tools is not None:
        tool_components = x.children(tools, "components/component")
        if tool_components:
            out["tools"] = {"components": [_xml_component(x, c) for c in tool_components]}
        else:
            out["tools"] = [
                {"name": x.text(t, "name"), "version": x.text(t, "version")}
                for t in x.children(tools, "tool")
            ]
    out["authors"] = [{"name": x.text(a, "name")} for a in x.children(el, "authors/author")]
    for key in ("manufacture", "manufacturer", "supplier"):
        named = _xml_named(x, x.child(el, key))
        if named:
            out[key] = named
    component = x.child(el, "component")
    if component is not None:
        out["component"] = _xml_component(x, component)
    return out


def _xml_component(x: _Xml, el: Element) -> JsonObject:
    out: JsonObject = {
        "type": el.get("type"),
        "bom-ref": el.get("bom-ref"),
        "name": x.text(el, "name"),
        "version": x.text(el, "version"),
        "group": x.text(el, "group"),
        "purl": x.text(el, "purl"),
        "scope": x.text(el, "scope"),
        "supplier": _xml_named(x, x.child(el, "supplier")),
        "hashes": [
            {"alg": h.get("alg"), "content": (h.text or "").strip()}
            for h in x.children(el, "hashes/hash")
        ],
    }
    licenses: list[JsonObject] = []
    container = x.child(el, "licenses")
    for item in list(container) if container is not None else []:
        if item.tag == x.q("expression"):
            licenses.append({"expression": (item.text or "").strip()})
        elif item.tag == x.q("license"):
            licenses.append({"license": {"id": x.text(item, "id"), "name": x.text(item, "name")}})
    out["licenses"] = licenses
    nested = x.child(el, "components")
    if nested is not None:
        out["components"] = [_xml_component(x, c) for c in x.children(nested, "component")]
    return out


def _xml_vulnerability(x: _Xml, el: Element) -> JsonObject:
    cwes: list[Any] = []
    for cwe in x.children(el, "cwes/cwe"):
        text = (cwe.text or "").strip()
        cwes.append(int(text) if text.isascii() and text.isdigit() else text)
    analysis = x.child(el, "analysis")
    source = x.child(el, "source")
    return {
        "bom-ref": el.get("bom-ref"),
        "id": x.text(el, "id"),
        "source": {"url": x.text(source, "url")} if source is not None else None,
        "references": [{"id": x.text(r, "id")} for r in x.children(el, "references/reference")],
        "ratings": [
            {"score": x.text(r, "score"), "severity": x.text(r, "severity")}
            for r in x.children(el, "ratings/rating")
        ],
        "cwes": cwes,
        "description": x.text(el, "description"),
        "advisories": [{"url": x.text(a, "url")} for a in x.children(el, "advisories/advisory")],
        "analysis": None
        if analysis is None
        else {
            "state": x.text(analysis, "state"),
            "justification": x.text(analysis, "justification"),
            "response": [
                (r.text or "").strip() for r in x.children(analysis, "responses/response")
            ],
            "detail": x.text(analysis, "detail"),
        },
        "affects": [{"ref": x.text(t, "ref")} for t in x.children(el, "affects/target")],
    }
