"""SARIF 2.1.0 from any static-analysis tool (CodeQL, Semgrep, Bandit, ...)."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.shape import JsonObject, Shape, pointer, severity_from_score, unique
from gatekeeper.model import Finding, Severity

CWE_PATTERN = re.compile(r"CWE-(\d+)", re.IGNORECASE)
# SARIF's default level when neither the result nor its rule sets one (SARIF 2.1.0 §3.27.10).
_DEFAULT_LEVEL = "warning"


def cwes_in(texts: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return unique([f"CWE-{m}" for text in texts for m in CWE_PATTERN.findall(text)])


class SarifReader:
    kind: ClassVar[str] = "sarif"
    description: ClassVar[str] = "SARIF 2.1.0 static-analysis results (any tool)"
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        if doc.syntax != "json" or not isinstance(data, dict):
            return False
        schema = str(data.get("$schema") or "")
        return isinstance(data.get("runs"), list) and (
            str(data.get("version") or "").startswith("2.") or "sarif" in schema.lower()
        )

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        data = s.obj(doc.data, "")
        if "runs" not in data:
            s.fail("/runs", "required array is missing")
        findings: list[Finding] = []
        for rw, run in s.objects(data, "runs", ""):
            tw = pointer(rw, "tool")
            dw = pointer(tw, "driver")
            tool = s.obj(run.get("tool"), tw)
            driver = s.obj(tool.get("driver"), dw)
            tool_name = s.req_str(driver, "name", dw)
            rules = s.objects(driver, "rules", dw)
            by_id = {s.req_str(rule, "id", w): (w, rule) for w, rule in rules}
            for resw, result in s.objects(run, "results", rw):
                findings.append(self._finding(s, result, resw, tool_name, rules, by_id, doc.path))
        return EvidencePart(kind=self.kind, findings=tuple(findings))

    def _finding(
        self,
        s: Shape,
        result: JsonObject,
        where: str,
        tool: str,
        rules: list[tuple[str, JsonObject]],
        by_id: dict[str, tuple[str, JsonObject]],
        source: str,
    ) -> Finding:
        rule_id = s.get_str(result, "ruleId", where)
        found: tuple[str, JsonObject] | None = None
        index = s.get_int(result, "ruleIndex", where)
        if index is not None and 0 <= index < len(rules):
            found = rules[index]
        descriptor = s.get_obj(result, "rule", where)
        if rule_id is None and descriptor:
            rule_id = s.get_str(descriptor, "id", pointer(where, "rule"))
        if rule_id is None and found is not None:
            rule_id = str(found[1].get("id"))
        if rule_id is None:
            s.fail(pointer(where, "ruleId"), "result names no rule (ruleId, rule.id or ruleIndex)")
        found = found or by_id.get(rule_id) or by_id.get(rule_id.split("/", 1)[0])
        rule_where, rule = found or ("", {})
        rule_props = s.get_obj(rule, "properties", rule_where) or {}
        props_where = pointer(rule_where, "properties")
        message_obj = s.get_obj(result, "message", where) or {}
        message = s.get_str(message_obj, "text", pointer(where, "message")) or _rule_text(rule)
        path = line = end_line = None
        locations = s.objects(result, "locations", where)
        if locations:
            lw, location = locations[0]
            physical = s.get_obj(location, "physicalLocation", lw)
            if physical:
                pw = pointer(lw, "physicalLocation")
                artifact = s.get_obj(physical, "artifactLocation", pw) or {}
                path = s.get_str(artifact, "uri", pointer(pw, "artifactLocation"))
                region = s.get_obj(physical, "region", pw) or {}
                line = s.get_int(region, "startLine", pointer(pw, "region"))
                end_line = s.get_int(region, "endLine", pointer(pw, "region")) or line
        tags = s.str_list(rule_props, "tags", props_where)
        return Finding(
            tool=tool,
            rule_id=rule_id,
            severity=self._severity(s, result, where, rule_where, rule),
            message=message or rule_id,
            path=path,
            line=line,
            end_line=end_line,
            fingerprint=self._fingerprint(s, result, where),
            ignored=self._suppressed(s, result, where),
            cwes=cwes_in(tags),
            url=rule.get("helpUri") if isinstance(rule.get("helpUri"), str) else None,
            source=source,
        )

    def _severity(
        self, s: Shape, result: JsonObject, where: str, rule_where: str, rule: JsonObject
    ) -> Severity:
        props = s.get_obj(result, "properties", where) or {}
        score = s.get_num(props, "security-severity", pointer(where, "properties"))
        if score is None:
            rule_props = s.get_obj(rule, "properties", rule_where) or {}
            score = s.get_num(rule_props, "security-severity", pointer(rule_where, "properties"))
        if score is not None:
            return Severity.parse(severity_from_score(score))
        level = s.get_str(result, "level", where)
        if level is None:
            config = s.get_obj(rule, "defaultConfiguration", rule_where) or {}
            level = s.get_str(config, "level", pointer(rule_where, "defaultConfiguration"))
        return Severity.parse(level or _DEFAULT_LEVEL)

    def _fingerprint(self, s: Shape, result: JsonObject, where: str) -> str | None:
        for key in ("fingerprints", "partialFingerprints"):
            prints = s.get_obj(result, key, where)
            if prints:
                first = sorted(prints)[0]
                value = prints[first]
                if not isinstance(value, str):
                    s.fail(pointer(pointer(where, key), first), "fingerprint must be a string")
                return f"{first}:{value}"
        return None

    def _suppressed(self, s: Shape, result: JsonObject, where: str) -> bool:
        # A suppression counts unless its status says it was rejected or is still under review.
        for sw, suppression in s.objects(result, "suppressions", where):
            status = s.get_str(suppression, "status", sw)
            if status in (None, "accepted"):
                return True
        return False


def _rule_text(rule: JsonObject) -> str | None:
    for key in ("shortDescription", "fullDescription"):
        value = rule.get(key)
        if isinstance(value, dict) and isinstance(value.get("text"), str):
            return str(value["text"])
    return None
