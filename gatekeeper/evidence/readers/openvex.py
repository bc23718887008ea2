"""OpenVEX documents (https://openvex.dev, v0.0.x and v0.2.0)."""

from __future__ import annotations

from typing import ClassVar, Literal

from gatekeeper.evidence.interface import EvidencePart, ParsedDocument, VexRecord
from gatekeeper.evidence.shape import JsonObject, Shape, pointer, unique
from gatekeeper.model import VexState, VexStatement

_STATUSES = {state.value: state for state in VexState if state is not VexState.UNTRIAGED}


class OpenVexReader:
    kind: ClassVar[str] = "openvex"
    description: ClassVar[str] = "OpenVEX document"
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        return (
            doc.syntax == "json"
            and isinstance(data, dict)
            and str(data.get("@context") or "").startswith("https://openvex.dev/ns")
        )

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        data = s.obj(doc.data, "")
        if "statements" not in data:
            s.fail("/statements", "required array is missing")
        records: list[VexRecord] = []
        for sw, statement in s.objects(data, "statements", ""):
            names = self._vulnerability_names(s, statement, sw)
            status = s.req_str(statement, "status", sw)
            state = _STATUSES.get(status)
            if state is None:
                s.fail(pointer(sw, "status"), f"unknown status {status!r}")
            action = s.get_str(statement, "action_statement", sw)
            vex = VexStatement(
                state=state,
                justification=s.get_str(statement, "justification", sw),
                detail=s.get_str(statement, "impact_statement", sw)
                or s.get_str(statement, "status_notes", sw),
                response=(action,) if action else (),
                source=doc.path,
            )
            products = self._products(s, statement, sw)
            records += [VexRecord(vulnerability=n, statement=vex, products=products) for n in names]
        return EvidencePart(kind=self.kind, vex=tuple(records))

    def _vulnerability_names(self, s: Shape, statement: JsonObject, where: str) -> list[str]:
        value = statement.get("vulnerability")
        vw = pointer(where, "vulnerability")
        if isinstance(value, str) and value:  # OpenVEX v0.0.x: a plain string
            return [value]
        vuln = s.obj(value, vw)
        names = [s.get_str(vuln, "name", vw) or "", s.get_str(vuln, "@id", vw) or ""]
        names += s.str_list(vuln, "aliases", vw)
        found = list(unique(names))
        if not found:
            s.fail(pointer(vw, "name"), "vulnerability has neither 'name' nor '@id'")
        return found

    def _products(self, s: Shape, statement: JsonObject, where: str) -> tuple[str, ...]:
        ids: list[str] = []

        def collect(item: object, iw: str) -> None:
            if isinstance(item, str):  # v0.0.x: products are plain strings
                ids.append(item)
                return
            product = s.obj(item, iw)
            ids.append(s.get_str(product, "@id", iw) or "")
            identifiers = s.get_obj(product, "identifiers", iw) or {}
            ids.append(s.get_str(identifiers, "purl", pointer(iw, "identifiers")) or "")
            # A statement about a product covers the subcomponents it names inside it.
            for index, sub in enumerate(s.get_arr(product, "subcomponents", iw)):
                collect(sub, pointer(pointer(iw, "subcomponents"), index))

        for index, item in enumerate(s.get_arr(statement, "products", where)):
            collect(item, pointer(pointer(where, "products"), index))
        for index, item in enumerate(s.get_arr(statement, "subcomponents", where)):
            collect(item, pointer(pointer(where, "subcomponents"), index))
        return unique(ids)
