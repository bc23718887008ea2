"""Syft's native JSON (``syft -o json``): the package catalogue as an SBOM.

Shape (syft JSON schema 1–16): ``artifacts[]`` (name, version, type, purl, licenses — strings
in old schemas, ``{value, spdxExpression}`` objects since schema 7), ``artifactRelationships[]``
(``parent``/``child``/``type``), ``source``, ``distro``, ``descriptor`` (``name: syft``,
``version``), ``schema.version``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.licenses import make_license
from gatekeeper.evidence.shape import JsonObject, Shape, pointer
from gatekeeper.model import Component, License, SbomInfo


class SyftReader:
    kind: ClassVar[str] = "syft"
    description: ClassVar[str] = "Syft native JSON (syft -o json), read as an SBOM"
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        if doc.syntax != "json" or not isinstance(data, dict):
            return False
        descriptor = data.get("descriptor")
        return (
            isinstance(data.get("artifacts"), list)
            and isinstance(descriptor, dict)
            and descriptor.get("name") == "syft"
        )

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        data = s.obj(doc.data, "")
        components = tuple(
            self._component(s, artifact, aw, doc.path)
            for aw, artifact in s.objects(data, "artifacts", "")
        )
        descriptor = s.get_obj(data, "descriptor", "") or {}
        tool = " ".join(
            t
            for t in (
                s.get_str(descriptor, "name", "/descriptor"),
                s.get_str(descriptor, "version", "/descriptor"),
            )
            if t
        )
        schema = s.get_obj(data, "schema", "") or {}
        relationships = s.objects(data, "artifactRelationships", "")
        has_graph = any(s.get_str(rel, "type", rw) == "dependency-of" for rw, rel in relationships)
        source = s.get_obj(data, "source", "") or {}
        subject = s.get_str(source, "name", "/source")
        subject_version = s.get_str(source, "version", "/source")
        sbom = SbomInfo(
            present=True,
            format="syft",
            spec_version=s.get_str(schema, "version", "/schema"),
            files=(doc.path,),
            tools=(tool,) if tool else (),
            subject="@".join(p for p in (subject, subject_version) if p) or None,
            has_dependencies=has_graph,
            component_count=len(components),
        )
        return EvidencePart(kind=self.kind, components=components, sbom=sbom)

    def _component(self, s: Shape, artifact: JsonObject, where: str, source: str) -> Component:
        return Component(
            ref=s.get_str(artifact, "id", where),
            name=s.req_str(artifact, "name", where),
            version=s.get_text(artifact, "version", where),
            purl=s.get_str(artifact, "purl", where),
            licenses=self._licenses(s, artifact, where),
            source=source,
        )

    def _licenses(self, s: Shape, artifact: JsonObject, where: str) -> tuple[License, ...]:
        out: list[License] = []
        lw = pointer(where, "licenses")
        for index, item in enumerate(s.get_arr(artifact, "licenses", where)):
            if isinstance(item, str):  # schemas before 7: plain strings
                if item:
                    out.append(make_license(expression=item))
                continue
            entry = s.obj(item, pointer(lw, index))
            expression = s.get_str(entry, "spdxExpression", pointer(lw, index))
            value = s.get_str(entry, "value", pointer(lw, index))
            if expression:
                out.append(make_license(expression=expression))
            elif value:
                out.append(make_license(name=value))
        return tuple(out)
