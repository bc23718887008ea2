"""SPDX 3.0 JSON-LD SBOMs (``@context: https://spdx.org/rdf/3.0.x/spdx-context.jsonld``).

An SPDX 3 document is a flat ``@graph`` of elements that point at each other by ``spdxId``:
``software_Package`` elements (name, ``software_packageVersion``, ``software_packageUrl`` or
an ``externalIdentifier`` of type ``packageUrl``, ``suppliedBy``), ``Relationship`` elements
(``from``, ``to[]``, ``relationshipType``: ``hasDeclaredLicense``/``hasConcludedLicense`` to
a license element, ``dependsOn``, ``contains`` …), license elements
(``simplelicensing_LicenseExpression`` with ``simplelicensing_licenseExpression``, or listed
licenses), agents (``Person``, ``Organization``, ``Tool``) and a ``CreationInfo`` (``created``,
``createdBy``, ``createdUsing``, ``specVersion``). The ``SpdxDocument``'s or ``software_Sbom``'s
``rootElement`` is the SBOM's subject, not one of its components.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.licenses import make_license
from gatekeeper.evidence.shape import JsonObject, Shape, unique
from gatekeeper.model import Component, License, SbomInfo

_CONTEXT_PREFIX = "https://spdx.org/rdf/3."
_LICENSE_RELATIONSHIPS = ("hasDeclaredLicense", "hasConcludedLicense")
_NO_VALUE = ("NoAssertionLicense", "NoneLicense")


def _context_is_spdx3(context: object) -> bool:
    if isinstance(context, str):
        return context.startswith(_CONTEXT_PREFIX)
    if isinstance(context, list):
        return any(isinstance(c, str) and c.startswith(_CONTEXT_PREFIX) for c in context)
    return False


def _type(element: JsonObject) -> str:
    value = element.get("type", element.get("@type"))
    return value if isinstance(value, str) else ""


def _id(element: JsonObject) -> str | None:
    value = element.get("spdxId", element.get("@id"))
    return value if isinstance(value, str) else None


class Spdx3Reader:
    kind: ClassVar[str] = "spdx3"
    description: ClassVar[str] = "SPDX 3.0 SBOM (JSON-LD)"
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        return (
            doc.syntax == "json"
            and isinstance(data, dict)
            and _context_is_spdx3(data.get("@context"))
            and isinstance(data.get("@graph"), list)
        )

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        data = s.obj(doc.data, "")
        graph = s.objects(data, "@graph", "")
        by_id: dict[str, JsonObject] = {}
        for _, element in graph:
            element_id = _id(element)
            if element_id:
                by_id[element_id] = element
        licenses: dict[str, list[License]] = {}
        depends = False
        for gw, element in graph:
            if _type(element) != "Relationship":
                continue
            kind = s.get_str(element, "relationshipType", gw) or ""
            source = s.get_str(element, "from", gw) or ""
            if kind == "dependsOn":
                depends = True
            if kind in _LICENSE_RELATIONSHIPS:
                for target in s.str_list(element, "to", gw):
                    found = self._license(by_id.get(target), target)
                    if found is not None and found not in licenses.setdefault(source, []):
                        licenses[source].append(found)
        roots: set[str] = set()
        creation: JsonObject = {}
        for gw, element in graph:
            if _type(element) in ("SpdxDocument", "software_Sbom"):
                roots.update(s.str_list(element, "rootElement", gw))
                info = element.get("creationInfo")
                if isinstance(info, str):
                    info = by_id.get(info)
                if isinstance(info, dict) and not creation:
                    creation = info
            elif _type(element) == "CreationInfo" and not creation:
                creation = element
        packages = [(gw, e) for gw, e in graph if _type(e) == "software_Package"]
        # A package that is the document's root element is its subject, when there are others.
        subject_ids = roots if len(packages) > 1 else set()
        components: list[Component] = []
        subject: JsonObject | None = None
        for gw, package in packages:
            if _id(package) in subject_ids:
                subject = subject or package
                continue
            components.append(self._component(s, package, gw, by_id, licenses, doc.path))
        return EvidencePart(
            kind=self.kind,
            components=tuple(components),
            sbom=self._info(s, creation, subject, by_id, doc.path, len(components), depends),
        )

    def _license(self, element: JsonObject | None, target: str) -> License | None:
        if target.rsplit("/", 1)[-1] in _NO_VALUE:
            return None
        if element is not None:
            expression = element.get("simplelicensing_licenseExpression")
            if isinstance(expression, str) and expression:
                return make_license(expression=expression)
            name = element.get("name")
            if isinstance(name, str) and name:
                return make_license(expression=name)
        if target.startswith("https://spdx.org/licenses/"):  # a listed license by IRI
            return make_license(target.removeprefix("https://spdx.org/licenses/"))
        return None

    def _component(
        self,
        s: Shape,
        package: JsonObject,
        where: str,
        by_id: dict[str, JsonObject],
        licenses: dict[str, list[License]],
        source: str,
    ) -> Component:
        purl = s.get_str(package, "software_packageUrl", where)
        for iw, identifier in s.objects(package, "externalIdentifier", where):
            if purl is None and s.get_str(identifier, "externalIdentifierType", iw) == "packageUrl":
                purl = s.get_str(identifier, "identifier", iw)
        purpose = s.get_str(package, "software_primaryPurpose", where)
        element_id = _id(package)
        return Component(
            ref=element_id,
            name=s.req_str(package, "name", where),
            version=s.get_text(package, "software_packageVersion", where),
            purl=purl,
            type=purpose.lower().replace("_", "-") if purpose else "library",
            licenses=tuple(licenses.get(element_id or "", ())),
            supplier=self._agent(by_id, package.get("suppliedBy")),
            source=source,
        )

    def _agent(self, by_id: dict[str, JsonObject], ref: Any) -> str | None:
        if isinstance(ref, str):
            element = by_id.get(ref)
            name = element.get("name") if element else None
            return name if isinstance(name, str) and name else None
        return None

    def _info(
        self,
        s: Shape,
        creation: JsonObject,
        subject: JsonObject | None,
        by_id: dict[str, JsonObject],
        path: str,
        count: int,
        has_graph: bool,
    ) -> SbomInfo:
        where = "/@graph/creationInfo"
        authors = [self._agent(by_id, a) or "" for a in s.get_arr(creation, "createdBy", where)]
        tools = [self._agent(by_id, t) or "" for t in s.get_arr(creation, "createdUsing", where)]
        subject_text = supplier = None
        if subject is not None:
            name, version = subject.get("name"), subject.get("software_packageVersion")
            subject_text = f"{name}@{version}" if version else str(name)
            supplier = self._agent(by_id, subject.get("suppliedBy"))
        return SbomInfo(
            present=True,
            format="spdx",
            spec_version=s.get_str(creation, "specVersion", where),
            files=(path,),
            timestamp=s.get_str(creation, "created", where),
            authors=unique(authors),
            tools=unique(tools),
            supplier=supplier,
            subject=subject_text,
            has_dependencies=has_graph,
            component_count=count,
        )
