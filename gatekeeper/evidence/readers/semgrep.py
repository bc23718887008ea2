"""Semgrep's native JSON output (``semgrep --json``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.readers.sarif import cwes_in
from gatekeeper.evidence.shape import Shape, pointer
from gatekeeper.model import Finding, Severity


class SemgrepReader:
    kind: ClassVar[str] = "semgrep"
    description: ClassVar[str] = "Semgrep JSON results (semgrep --json)"
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        if doc.syntax != "json" or not isinstance(data, dict):
            return False
        results = data.get("results")
        if not isinstance(results, list) or "runs" in data:
            return False
        if results:
            return isinstance(results[0], dict) and "check_id" in results[0]
        return "errors" in data and ("paths" in data or "version" in data)

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        data = s.obj(doc.data, "")
        if "results" not in data:
            s.fail("/results", "required array is missing")
        findings: list[Finding] = []
        for rw, result in s.objects(data, "results", ""):
            extra = s.obj(result.get("extra", {}), pointer(rw, "extra"))
            ew = pointer(rw, "extra")
            start = s.get_obj(result, "start", rw) or {}
            end = s.get_obj(result, "end", rw) or {}
            metadata = s.get_obj(extra, "metadata", ew) or {}
            mw = pointer(ew, "metadata")
            cwe_value = metadata.get("cwe")
            if isinstance(cwe_value, list):
                cwe_texts = list(s.str_list(metadata, "cwe", mw))
            else:
                cwe_texts = [s.get_str(metadata, "cwe", mw) or ""]
            check_id = s.req_str(result, "check_id", rw)
            findings.append(
                Finding(
                    tool="semgrep",
                    rule_id=check_id,
                    severity=Severity.parse(s.get_str(extra, "severity", ew)),
                    message=(s.get_str(extra, "message", ew) or check_id).strip(),
                    path=s.req_str(result, "path", rw),
                    line=s.get_int(start, "line", pointer(rw, "start")),
                    end_line=s.get_int(end, "line", pointer(rw, "end")),
                    fingerprint=s.get_str(extra, "fingerprint", ew),
                    ignored=bool(s.get_bool(extra, "is_ignored", ew)),
                    cwes=cwes_in(cwe_texts),
                    url=s.get_str(metadata, "source", mw),
                    source=doc.path,
                )
            )
        errors = s.get_arr(data, "errors", "")
        return EvidencePart(kind=self.kind, findings=tuple(findings), extra={"errors": errors})
