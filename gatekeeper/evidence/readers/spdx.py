"""SPDX 2.x JSON SBOMs (2.2/2.3 as written by syft, trivy, the SPDX tools)."""

from __future__ import annotations

from typing import ClassVar, Literal

from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.licenses import make_license
from gatekeeper.evidence.shape import JsonObject, Shape, pointer, unique
from gatekeeper.model import Component, Hash, License, SbomInfo

_NO_VALUE = {"NOASSERTION", "NONE", ""}
_DOCUMENT_ID = "SPDXRef-DOCUMENT"


def _party(value: str | None) -> str | None:
    """``Organization: ACME (mail)`` / ``Person: Jo`` -> the name; NOASSERTION -> None."""
    if not value or value.strip() in _NO_VALUE:
        return None
    _, _, rest = value.partition(":")
    name = (rest or value).strip()
    if "(" in name:
        name = name[: name.index("(")].strip()
    return name or None


class SpdxReader:
    kind: ClassVar[str] = "spdx"
    description: ClassVar[str] = "SPDX 2.x JSON SBOM"
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        return (
            doc.syntax == "json"
            and isinstance(data, dict)
            and isinstance(data.get("spdxVersion"), str)
            and data["spdxVersion"].startswith("SPDX-")
        )

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        data = s.obj(doc.data, "")
        s.req_str(data, "spdxVersion", "")
        packages = [(w, p, s.req_str(p, "SPDXID", w)) for w, p in s.objects(data, "packages", "")]
        described, depends = self._relationships(s, data)
        # The single described package is the SBOM's subject, not one of its components.
        subject_id = described[0] if len(described) == 1 and len(packages) > 1 else None
        has_graph = bool(depends)
        direct = depends.get(subject_id or "", set())
        components: list[Component] = []
        subject: JsonObject | None = None
        for where, package, spdx_id in packages:
            if spdx_id == subject_id:
                subject = package
                continue
            comp = self._component(s, package, where, spdx_id, doc.path)
            if has_graph and subject_id is not None:
                comp = comp.model_copy(update={"direct": spdx_id in direct})
            components.append(comp)
        return EvidencePart(
            kind=self.kind,
            components=tuple(components),
            sbom=self._info(s, data, subject, doc.path, len(components), has_graph),
        )

    def _relationships(self, s: Shape, data: JsonObject) -> tuple[list[str], dict[str, set[str]]]:
        described = list(s.str_list(data, "documentDescribes", ""))
        depends: dict[str, set[str]] = {}
        for rw, rel in s.objects(data, "relationships", ""):
            left = s.req_str(rel, "spdxElementId", rw)
            kind = s.req_str(rel, "relationshipType", rw)
            right = s.req_str(rel, "relatedSpdxElement", rw)
            if kind == "DESCRIBES" and left == _DOCUMENT_ID:
                described.append(right)
            elif kind == "DESCRIBED_BY" and right == _DOCUMENT_ID:
                described.append(left)
            elif kind == "DEPENDS_ON":
                depends.setdefault(left, set()).add(right)
            elif kind == "DEPENDENCY_OF":
                depends.setdefault(right, set()).add(left)
        return list(unique(described)), depends

    def _component(
        self, s: Shape, package: JsonObject, where: str, spdx_id: str, source: str
    ) -> Component:
        purl = None
        for ew, ref in s.objects(package, "externalRefs", where):
            category = (s.get_str(ref, "referenceCategory", ew) or "").replace("_", "-")
            if category == "PACKAGE-MANAGER" and s.get_str(ref, "referenceType", ew) == "purl":
                purl = s.req_str(ref, "referenceLocator", ew)
                break
        licenses: list[License] = []
        for key in ("licenseConcluded", "licenseDeclared"):
            text = s.get_str(package, key, where)
            if text and text not in _NO_VALUE and all(lic.expression != text for lic in licenses):
                licenses.append(make_license(expression=text))
        purpose = s.get_str(package, "primaryPackagePurpose", where)
        return Component(
            ref=spdx_id,
            name=s.req_str(package, "name", where),
            version=s.get_text(package, "versionInfo", where),
            purl=purl,
            type=purpose.lower().replace("_", "-") if purpose else "library",
            licenses=tuple(licenses),
            hashes=tuple(
                Hash(alg=s.req_str(c, "algorithm", cw), value=s.req_str(c, "checksumValue", cw))
                for cw, c in s.objects(package, "checksums", where)
            ),
            supplier=_party(s.get_str(package, "supplier", where)),
            source=source,
        )

    def _info(
        self,
        s: Shape,
        data: JsonObject,
        subject: JsonObject | None,
        path: str,
        count: int,
        has_graph: bool,
    ) -> SbomInfo:
        creation = s.get_obj(data, "creationInfo", "") or {}
        creators = s.str_list(creation, "creators", "/creationInfo")
        tools = [c.partition(":")[2].strip() for c in creators if c.startswith("Tool:")]
        authors = [_party(c) or "" for c in creators if not c.startswith("Tool:")]
        subject_text = supplier = None
        if subject is not None:
            name, version = subject.get("name"), subject.get("versionInfo")
            subject_text = f"{name}@{version}" if version else str(name)
            supplier = _party(s.get_str(subject, "supplier", pointer("", "subject")))
        return SbomInfo(
            present=True,
            format="spdx",
            spec_version=s.req_str(data, "spdxVersion", "").removeprefix("SPDX-"),
            files=(path,),
            timestamp=s.get_str(creation, "created", "/creationInfo"),
            authors=unique(authors),
            tools=unique(tools),
            supplier=supplier,
            subject=subject_text,
            has_dependencies=has_graph,
            component_count=count,
        )
