"""Trivy JSON reports, SchemaVersion 2 (``trivy image|fs|repo|config -f json``).

Every ``Results[]`` entry can carry vulnerabilities, misconfigurations (``trivy config`` or
``--scanners misconfig``), secrets (``--scanners secret``, on by default) and, with
``--list-all-pkgs``, the packages found. Misconfigurations and secrets are findings (rule
id, severity, file, line) for the SAST and secret policies; packages (or, without them, the
packages the vulnerabilities were found in) stand in as components when no SBOM is given.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from gatekeeper.evidence.cvss import base_score
from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.licenses import make_license
from gatekeeper.evidence.shape import JsonObject, Shape, pointer, unique
from gatekeeper.model import Component, Finding, FindingCategory, Severity, Vulnerability


class TrivyReader:
    kind: ClassVar[str] = "trivy"
    description: ClassVar[str] = (
        "Trivy report (JSON, SchemaVersion 2): vulnerabilities, misconfigurations, secrets, "
        "packages"
    )
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        return (
            doc.syntax == "json"
            and isinstance(data, dict)
            and "SchemaVersion" in data
            and ("Results" in data or "ArtifactName" in data)
        )

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        data = s.obj(doc.data, "")
        version = s.get_int(data, "SchemaVersion", "")
        if version != 2:
            s.fail("/SchemaVersion", f"unsupported Trivy SchemaVersion {version!r} (expected 2)")
        vulns: list[Vulnerability] = []
        findings: list[Finding] = []
        components: dict[tuple[str, str | None, str | None], Component] = {}
        for rw, result in s.objects(data, "Results", ""):
            target = s.get_str(result, "Target", rw)
            for pw, package in s.objects(result, "Packages", rw):
                component = self._package(s, package, pw, doc.path)
                components.setdefault(
                    (component.name, component.version, component.purl), component
                )
            for vw, item in s.objects(result, "Vulnerabilities", rw):
                vuln = self._vulnerability(s, item, vw, doc.path)
                vulns.append(vuln)
                key = (vuln.component_name or "", vuln.component_version, vuln.purl)
                if key not in components:
                    components[key] = Component(
                        name=key[0], version=key[1], purl=key[2], source=doc.path
                    )
            for mw, item in s.objects(result, "Misconfigurations", rw):
                finding = self._misconfiguration(s, item, mw, target, doc.path)
                if finding is not None:
                    findings.append(finding)
            for sw, item in s.objects(result, "Secrets", rw):
                findings.append(self._secret(s, item, sw, target, doc.path))
        return EvidencePart(
            kind=self.kind,
            vulnerabilities=tuple(vulns),
            findings=tuple(findings),
            components=tuple(components.values()),
        )

    def _package(self, s: Shape, item: JsonObject, where: str, source: str) -> Component:
        identifier = s.get_obj(item, "Identifier", where) or {}
        return Component(
            name=s.req_str(item, "Name", where),
            version=s.get_text(item, "Version", where),
            purl=s.get_str(identifier, "PURL", pointer(where, "Identifier")),
            licenses=tuple(
                make_license(expression=text) for text in s.str_list(item, "Licenses", where)
            ),
            source=source,
        )

    def _misconfiguration(
        self, s: Shape, item: JsonObject, where: str, target: str | None, source: str
    ) -> Finding | None:
        status = (s.get_str(item, "Status", where) or "FAIL").upper()
        if status == "PASS":
            return None  # a check that passed is not a finding
        cause = s.get_obj(item, "CauseMetadata", where) or {}
        cw = pointer(where, "CauseMetadata")
        rule_id = s.get_str(item, "AVDID", where) or s.req_str(item, "ID", where)
        title = s.get_str(item, "Title", where)
        message = s.get_str(item, "Message", where) or title or rule_id
        return Finding(
            tool="trivy",
            category=FindingCategory.MISCONFIGURATION,
            rule_id=rule_id,
            severity=Severity.parse(s.get_str(item, "Severity", where)),
            message=message,
            path=target,
            line=s.get_int(cause, "StartLine", cw) or None,
            end_line=s.get_int(cause, "EndLine", cw) or None,
            # Trivy records accepted risks (its ignore files, inline exceptions) as EXCEPTION.
            ignored=status == "EXCEPTION",
            url=s.get_str(item, "PrimaryURL", where),
            source=source,
        )

    def _secret(
        self, s: Shape, item: JsonObject, where: str, target: str | None, source: str
    ) -> Finding:
        rule_id = s.req_str(item, "RuleID", where)
        title = s.get_str(item, "Title", where) or rule_id
        category = s.get_str(item, "Category", where)
        # Never the matched text: even redacted, a secret does not belong in a report.
        message = f"{title} ({category})" if category else title
        return Finding(
            tool="trivy",
            category=FindingCategory.SECRET,
            rule_id=rule_id,
            severity=Severity.parse(s.get_str(item, "Severity", where)),
            message=f"exposed secret: {message}",
            path=target,
            line=s.get_int(item, "StartLine", where) or None,
            end_line=s.get_int(item, "EndLine", where) or None,
            source=source,
        )

    def _vulnerability(self, s: Shape, item: JsonObject, where: str, source: str) -> Vulnerability:
        fixed = s.get_str(item, "FixedVersion", where) or ""
        fix_versions = unique([v.strip() for v in fixed.split(",")])
        identifier = s.get_obj(item, "PkgIdentifier", where) or {}
        primary = s.get_str(item, "PrimaryURL", where)
        status = s.get_str(item, "Status", where)
        return Vulnerability(
            id=s.req_str(item, "VulnerabilityID", where),
            aliases=s.str_list(item, "VendorIDs", where),
            severity=Severity.parse(s.get_str(item, "Severity", where)),
            cvss_score=self._max_v3(s, item, where),
            component_name=s.req_str(item, "PkgName", where),
            component_version=s.get_text(item, "InstalledVersion", where),
            purl=s.get_str(identifier, "PURL", pointer(where, "PkgIdentifier")),
            fix_versions=fix_versions,
            fix_available=bool(fix_versions) or status == "fixed",
            description=s.get_str(item, "Description", where) or s.get_str(item, "Title", where),
            urls=unique([primary or "", *s.str_list(item, "References", where)]),
            cwes=s.str_list(item, "CweIDs", where),
            scanners=("trivy",),
            sources=(source,),
        )

    def _max_v3(self, s: Shape, item: JsonObject, where: str) -> float | None:
        """The highest vendor score: v3 where given, else v4.0, else v2 (each from its score
        or, when only the vector is there, scored from the vector)."""
        cvss = s.get_obj(item, "CVSS", where) or {}
        for version in ("V3", "V40", "V2"):
            best: float | None = None
            for vendor in cvss:
                vw = pointer(pointer(where, "CVSS"), vendor)
                entry = s.obj(cvss[vendor], vw)
                score = s.get_num(entry, f"{version}Score", vw)
                if score is None:
                    vector = s.get_str(entry, f"{version}Vector", vw)
                    score = base_score(vector) if vector else None
                if score is not None and (best is None or score > best):
                    best = score
            if best is not None:
                return best
        return None
