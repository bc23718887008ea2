"""CSAF 2.0 VEX documents (``document.category: csaf_vex``), as Trivy and Grype accept them.

A CSAF VEX names products by id in ``product_tree`` (nested ``branches``,
``full_product_names`` and ``relationships``, each product with an optional
``product_identification_helper.purl``; ``purls`` in CSAF 2.1) and gives, per vulnerability,
``product_status`` lists of those ids. Only product ids that resolve to a purl are applied:
a statement whose products cannot be identified must not cover every component.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from gatekeeper.evidence.interface import EvidencePart, ParsedDocument, VexRecord
from gatekeeper.evidence.shape import JsonObject, Shape, pointer, unique
from gatekeeper.model import VexState, VexStatement

# product_status list -> state. Listed strongest claim last: a product in two lists (a
# malformed document) takes the first state below, the least favourable one.
_STATUS_STATES: tuple[tuple[str, VexState], ...] = (
    ("known_affected", VexState.AFFECTED),
    ("first_affected", VexState.AFFECTED),
    ("last_affected", VexState.AFFECTED),
    ("under_investigation", VexState.UNDER_INVESTIGATION),
    ("fixed", VexState.FIXED),
    ("first_fixed", VexState.FIXED),
    ("known_not_affected", VexState.NOT_AFFECTED),
)


class CsafVexReader:
    kind: ClassVar[str] = "csaf-vex"
    description: ClassVar[str] = "CSAF 2.0 VEX document (document.category csaf_vex)"
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        if doc.syntax != "json" or not isinstance(data, dict):
            return False
        document = data.get("document")
        return isinstance(document, dict) and document.get("category") == "csaf_vex"

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        data = s.obj(doc.data, "")
        purls = self._product_purls(s, s.get_obj(data, "product_tree", "") or {})
        groups = self._groups(s, s.get_obj(data, "product_tree", "") or {})
        records: list[VexRecord] = []
        for vw, vuln in s.objects(data, "vulnerabilities", ""):
            names = [s.get_str(vuln, "cve", vw) or ""]
            names += [s.req_str(i, "text", iw) for iw, i in s.objects(vuln, "ids", vw)]
            ids = unique(names)
            if not ids:
                s.fail(pointer(vw, "cve"), "vulnerability has neither 'cve' nor 'ids'")
            justification = self._per_product(s, vuln, vw, "flags", "label", groups)
            impact = self._per_product(s, vuln, vw, "threats", "details", groups, "impact")
            actions = self._per_product(s, vuln, vw, "remediations", "details", groups)
            status = s.get_obj(vuln, "product_status", vw) or {}
            sw = pointer(vw, "product_status")
            seen: set[str] = set()
            for key, state in _STATUS_STATES:
                for product_id in s.str_list(status, key, sw):
                    if product_id in seen:
                        continue
                    seen.add(product_id)
                    products = purls.get(product_id, ())
                    if not products:
                        continue  # not identifiable: never widen it to every component
                    action = actions.get(product_id)
                    statement = VexStatement(
                        state=state,
                        justification=justification.get(product_id),
                        detail=impact.get(product_id),
                        response=(action,) if action else (),
                        source=doc.path,
                    )
                    records += [
                        VexRecord(vulnerability=name, statement=statement, products=products)
                        for name in ids
                    ]
        return EvidencePart(kind=self.kind, vex=tuple(records))

    def _product_purls(self, s: Shape, tree: JsonObject) -> dict[str, tuple[str, ...]]:
        found: dict[str, tuple[str, ...]] = {}

        def product(item: JsonObject, where: str) -> None:
            product_id = s.req_str(item, "product_id", where)
            helper = s.get_obj(item, "product_identification_helper", where) or {}
            hw = pointer(where, "product_identification_helper")
            purls = [s.get_str(helper, "purl", hw) or "", *s.str_list(helper, "purls", hw)]
            if unique(purls):
                found[product_id] = unique(purls)

        def branches(parent: JsonObject, where: str, depth: int) -> None:
            if depth > 32:
                s.fail(where, "product_tree branches nested more than 32 deep")
            for bw, branch in s.objects(parent, "branches", where):
                item = s.get_obj(branch, "product", bw)
                if item is not None:
                    product(item, pointer(bw, "product"))
                branches(branch, bw, depth + 1)

        branches(tree, "/product_tree", 0)
        for fw, item in s.objects(tree, "full_product_names", "/product_tree"):
            product(item, fw)
        # A relationship names a component inside a product: its purl is the component's.
        for rw, rel in s.objects(tree, "relationships", "/product_tree"):
            full = s.get_obj(rel, "full_product_name", rw)
            if full is None:
                continue
            reference = s.get_str(rel, "product_reference", rw) or ""
            product_id = s.req_str(full, "product_id", pointer(rw, "full_product_name"))
            inherited = found.get(reference, ())
            product(full, pointer(rw, "full_product_name"))
            if product_id not in found and inherited:
                found[product_id] = inherited
        return found

    def _groups(self, s: Shape, tree: JsonObject) -> dict[str, tuple[str, ...]]:
        return {
            s.req_str(group, "group_id", gw): s.str_list(group, "product_ids", gw)
            for gw, group in s.objects(tree, "product_groups", "/product_tree")
        }

    def _per_product(
        self,
        s: Shape,
        vuln: JsonObject,
        where: str,
        key: str,
        field: str,
        groups: dict[str, tuple[str, ...]],
        category: str | None = None,
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for iw, item in s.objects(vuln, key, where):
            if category is not None and s.get_str(item, "category", iw) != category:
                continue
            text = s.get_str(item, field, iw)
            if not text:
                continue
            ids = list(s.str_list(item, "product_ids", iw))
            for group in s.str_list(item, "group_ids", iw):
                ids += groups.get(group, ())
            for product_id in ids:
                out.setdefault(product_id, text)
        return out
