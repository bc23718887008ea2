"""Merge what every reader produced into one view: dedupe across scanners, then apply VEX.

Vulnerabilities are the same issue when they share an id or alias *on the same component*; the
component is identified by its purl without qualifiers/subpath (scanners disagree on those),
else by name and version. VEX statements are applied last, in file order, so a later
statement overrides an earlier one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gatekeeper.evidence.interface import EvidencePart, VexRecord
from gatekeeper.evidence.purl import purl_identity, purl_matches
from gatekeeper.evidence.shape import unique
from gatekeeper.model import (
    Attestation,
    Component,
    EvidenceRef,
    Finding,
    SbomInfo,
    Vulnerability,
)


@dataclass(frozen=True)
class MergedEvidence:
    refs: tuple[EvidenceRef, ...]
    components: tuple[Component, ...]
    vulnerabilities: tuple[Vulnerability, ...]
    findings: tuple[Finding, ...]
    attestations: tuple[Attestation, ...]
    sbom: SbomInfo
    kinds: tuple[str, ...]


def merge_evidence(refs: Sequence[EvidenceRef], parts: Sequence[EvidencePart]) -> MergedEvidence:
    # The SBOM is the inventory. Scanners also list the packages they matched, but those are
    # partial views of the same inventory: counting them too would duplicate components (and
    # trip duplicate-version policies). They stand in only when no SBOM was given.
    inventory = [part for part in parts if part.sbom is not None] or list(parts)
    components = _merge_components(c for part in inventory for c in part.components)
    vulnerabilities = dedupe_vulnerabilities([v for part in parts for v in part.vulnerabilities])
    vex = [record for part in parts for record in part.vex]
    vulnerabilities = apply_vex(vulnerabilities, vex, components)
    return MergedEvidence(
        refs=tuple(refs),
        components=tuple(components),
        vulnerabilities=tuple(vulnerabilities),
        findings=tuple(f for part in parts for f in part.findings),
        attestations=tuple(a for part in parts for a in part.attestations),
        sbom=_merge_sbom([part.sbom for part in parts if part.sbom is not None]),
        kinds=unique([ref.kind for ref in refs]),
    )


def _merge_components(components: Iterable[Component]) -> list[Component]:
    """Keep every component; drop only exact repeats of a purl within the same file."""
    seen: set[tuple[str, str]] = set()
    out: list[Component] = []
    for comp in components:
        if comp.purl:
            key = (comp.purl, comp.source)
            if key in seen:
                continue
            seen.add(key)
        out.append(comp)
    return out


def _merge_sbom(infos: list[SbomInfo]) -> SbomInfo:
    if not infos:
        return SbomInfo()
    first = infos[0]
    return first.model_copy(
        update={
            "present": True,
            "files": unique([f for info in infos for f in info.files]),
            "component_count": sum(info.component_count for info in infos),
            "has_dependencies": any(info.has_dependencies for info in infos),
        }
    )


# -- dedupe -------------------------------------------------------------------------------------


def component_key(vuln: Vulnerability) -> str:
    if vuln.purl:
        return "purl:" + purl_identity(vuln.purl)
    if vuln.component_name:
        return f"name:{vuln.component_name}@{vuln.component_version or ''}"
    if vuln.component_ref:
        return f"ref:{vuln.component_ref}"
    return "none:"


def dedupe_vulnerabilities(vulns: list[Vulnerability]) -> list[Vulnerability]:
    """Group reports of one issue on one component (union-find over shared ids), then combine."""
    parent = list(range(len(vulns)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[tuple[str, str], int] = {}
    for index, vuln in enumerate(vulns):
        key = component_key(vuln)
        for name in (vuln.id, *vuln.aliases):
            slot = (key, name.upper())
            other = first_with.setdefault(slot, index)
            if other != index:
                parent[find(index)] = find(other)
    groups: dict[int, list[Vulnerability]] = {}
    for index, vuln in enumerate(vulns):
        groups.setdefault(find(index), []).append(vuln)
    return [_combine(group) for _, group in sorted(groups.items())]


def _combine(group: list[Vulnerability]) -> Vulnerability:
    if len(group) == 1:
        return group[0]
    ids = unique([v.id for v in group])
    # Prefer the CVE id when a scanner reported one: it is what waivers and policies name.
    chosen = next((i for i in ids if i.upper().startswith("CVE-")), ids[0])
    names = unique([*ids, *(a for v in group for a in v.aliases)])
    worst = max(group, key=lambda v: v.severity.rank)
    scores = [v.cvss_score for v in group if v.cvss_score is not None]
    first = group[0]
    own_vex = [v.vex for v in group if v.vex is not None]
    return first.model_copy(
        update={
            "id": chosen,
            "aliases": tuple(n for n in names if n.upper() != chosen.upper()),
            "severity": worst.severity,
            "cvss_score": max(scores) if scores else None,
            "component_ref": next((v.component_ref for v in group if v.component_ref), None),
            "purl": next((v.purl for v in group if v.purl), None),
            "component_name": next((v.component_name for v in group if v.component_name), None),
            "component_version": next(
                (v.component_version for v in group if v.component_version), None
            ),
            "fix_versions": unique([f for v in group for f in v.fix_versions]),
            "fix_available": any(v.fix_available for v in group),
            "description": next((v.description for v in group if v.description), None),
            "urls": unique([u for v in group for u in v.urls]),
            "cwes": unique([c for v in group for c in v.cwes]),
            "scanners": unique([s for v in group for s in v.scanners]),
            "sources": unique([s for v in group for s in v.sources]),
            "vex": own_vex[-1] if own_vex else None,
            "state": own_vex[-1].state if own_vex else first.state,
        }
    )


# -- VEX ----------------------------------------------------------------------------------------


def _product_matches(product: str, vuln: Vulnerability, purl_of_ref: dict[str, str]) -> bool:
    if vuln.component_ref and product == vuln.component_ref:
        return True
    candidate = purl_of_ref.get(product, product)
    return (
        bool(vuln.purl)
        and candidate.startswith("pkg:")
        and purl_matches(candidate, vuln.purl or "")
    )


def apply_vex(
    vulns: list[Vulnerability], records: list[VexRecord], components: list[Component]
) -> list[Vulnerability]:
    """Set state and vex from matching records; the last matching record wins."""
    if not records:
        return vulns
    # A VEX product may be a bom-ref of an SBOM given alongside: resolve it to that purl.
    purl_of_ref = {c.ref: c.purl for c in components if c.ref and c.purl}
    by_name: dict[str, list[int]] = {}
    for index, vuln in enumerate(vulns):
        for name in unique([vuln.id, *vuln.aliases]):
            by_name.setdefault(name.upper(), []).append(index)
    result = list(vulns)
    for record in records:
        for index in by_name.get(record.vulnerability.upper(), []):
            vuln = result[index]
            if record.products and not any(
                _product_matches(p, vuln, purl_of_ref) for p in record.products
            ):
                continue
            result[index] = vuln.model_copy(
                update={"state": record.statement.state, "vex": record.statement}
            )
    return result
