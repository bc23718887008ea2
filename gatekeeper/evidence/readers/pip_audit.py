"""pip-audit JSON (``pip-audit -f json``): the current object shape and the legacy list shape.

Current: ``{"dependencies": [{name, version, vulns: [...]}], "fixes": [...]}``.
Legacy (older releases, and the README example): a top-level list of the same dependency objects.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.purl import pypi_purl
from gatekeeper.evidence.shape import Shape, pointer
from gatekeeper.model import Vulnerability


def _looks_like_dependency(item: Any) -> bool:
    return isinstance(item, dict) and "name" in item and ("vulns" in item or "skip_reason" in item)


class PipAuditReader:
    kind: ClassVar[str] = "pip-audit"
    description: ClassVar[str] = "pip-audit JSON report (current and legacy shapes)"
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        if doc.syntax != "json":
            return False
        if isinstance(data, list):
            return bool(data) and all(_looks_like_dependency(item) for item in data)
        if isinstance(data, dict) and isinstance(data.get("dependencies"), list):
            deps = data["dependencies"]
            return "fixes" in data or (bool(deps) and _looks_like_dependency(deps[0]))
        return False

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        if isinstance(doc.data, list):
            base, dependencies = "", doc.data
        else:
            data = s.obj(doc.data, "")
            if "dependencies" not in data:
                s.fail("/dependencies", "required array is missing")
            base, dependencies = "/dependencies", s.arr(data["dependencies"], "/dependencies")
        vulns: list[Vulnerability] = []
        skipped: list[str] = []
        for index, item in enumerate(dependencies):
            dw = pointer(base, index)
            dep = s.obj(item, dw)
            name = s.req_str(dep, "name", dw)
            if dep.get("skip_reason") is not None:
                skipped.append(f"{name}: {s.get_str(dep, 'skip_reason', dw)}")
                continue
            version = s.req_str(dep, "version", dw)
            purl = pypi_purl(name, version)
            for vw, vuln in s.objects(dep, "vulns", dw):
                fix_versions = s.str_list(vuln, "fix_versions", vw)
                vulns.append(
                    Vulnerability(
                        id=s.req_str(vuln, "id", vw),
                        aliases=s.str_list(vuln, "aliases", vw),
                        component_name=name,
                        component_version=version,
                        purl=purl,
                        fix_versions=fix_versions,
                        fix_available=bool(fix_versions),
                        description=s.get_str(vuln, "description", vw),
                        scanners=("pip-audit",),
                        sources=(doc.path,),
                    )
                )
        return EvidencePart(
            kind=self.kind, vulnerabilities=tuple(vulns), extra={"skipped": skipped}
        )
