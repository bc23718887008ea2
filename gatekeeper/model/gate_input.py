"""The gate input document: what every policy sees as ``input``.

One normalized shape whatever the SBOM format or scanner produced the evidence. Policy authors
write against it, so it is versioned (``schema``) and documented as a JSON Schema generated from
these models (``gatekeeper evidence schema``, docs/gate-input.md).
"""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from gatekeeper.model.base import Frozen

GATE_INPUT_SCHEMA = "gatekeeper.input/v1"


# What a gate can require per environment, and what a policy can say it needs (METADATA
# custom.requires): categories of evidence, whichever tool produced them.
EVIDENCE_KINDS = ("sbom", "vulnerability-scan", "sast", "provenance", "vex")


class Severity(StrEnum):
    """Normalized severity, shared by vulnerabilities, findings and policies."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        return SEVERITY_RANK[self]

    @classmethod
    def parse(cls, value: object) -> Severity:
        """Map the many spellings scanners use onto the normalized scale.

        Normalized before lookup: Unicode NFKC (full-width letters), control and zero-width
        characters removed, trimmed, case-folded. A number (or numeric text) is a CVSS score
        and maps to its qualitative band (``"10.0"`` is critical). What is left is ``unknown``,
        which the library reports (GK-VULN-004) instead of passing silently.
        """
        if isinstance(value, bool):
            return cls.UNKNOWN
        if isinstance(value, int | float):
            return severity_of_score(float(value))
        text = str(value or "")
        found = _SEVERITY_ALIASES.get(text.lower())  # the common, already-clean spelling
        if found is not None:
            return found
        cleaned = "".join(
            ch
            for ch in unicodedata.normalize("NFKC", text)
            if unicodedata.category(ch) not in _INVISIBLE_CATEGORIES
        )
        cleaned = cleaned.strip().casefold()
        found = _SEVERITY_ALIASES.get(cleaned)
        if found is not None:
            return found
        try:
            return severity_of_score(float(cleaned))
        except ValueError:
            return cls.UNKNOWN


# Control (Cc), format (Cf: zero-width space, joiners, BOM), unassigned, private-use and
# surrogate characters carry no meaning in a severity word.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs"})


def severity_of_score(score: float) -> Severity:
    """CVSS v3/v4 qualitative rating of a base score; outside 0–10 is ``unknown``."""
    if not math.isfinite(score) or score < 0.0 or score > 10.0:
        return Severity.UNKNOWN
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.INFO


SEVERITY_RANK: dict[Severity, int] = {
    Severity.CRITICAL: 5,
    Severity.HIGH: 4,
    Severity.MEDIUM: 3,
    Severity.LOW: 2,
    Severity.INFO: 1,
    Severity.UNKNOWN: 0,
}

_SEVERITY_ALIASES: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "error": Severity.HIGH,
    "important": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "warning": Severity.MEDIUM,
    "low": Severity.LOW,
    "note": Severity.LOW,
    "negligible": Severity.INFO,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "none": Severity.INFO,
    "unknown": Severity.UNKNOWN,
    "": Severity.UNKNOWN,
}


class VexState(StrEnum):
    """Triage state of a vulnerability on a component (CycloneDX VEX / OpenVEX vocabulary)."""

    AFFECTED = "affected"
    NOT_AFFECTED = "not_affected"
    FIXED = "fixed"
    UNDER_INVESTIGATION = "under_investigation"
    UNTRIAGED = "untriaged"  # no VEX statement covers it


class LicenseChoice(Frozen):
    """One way of licensing a component: every id here must be acceptable (the ``AND`` of a
    license expression in disjunctive normal form)."""

    ids: tuple[str, ...] = Field(
        description="SPDX license ids (normalized: `GPL-2.0` is `GPL-2.0-only`), sorted"
    )
    exceptions: dict[str, str] = Field(
        default_factory=dict, description="id -> its `WITH` exception, for ids that have one"
    )


class License(Frozen):
    """One license of a component: an SPDX id, a free-text name, or an SPDX expression."""

    id: str | None = None
    name: str | None = None
    expression: str | None = None
    choices: tuple[LicenseChoice, ...] = Field(
        default=(),
        description="the alternatives an id or expression allows (`A AND (B OR C)` is "
        "[{A,B}, {A,C}]); empty for a name-only license. An expression that cannot be parsed "
        "has one choice holding every id-like word in it (judged as if all applied)",
    )
    expression_error: str | None = Field(
        default=None, description="why `expression` is not a valid SPDX expression; else null"
    )


class Hash(Frozen):
    alg: str
    value: str


class Component(Frozen):
    ref: str | None = Field(default=None, description="bom-ref / SPDXID within its SBOM")
    name: str
    version: str | None = None
    group: str | None = None
    purl: str | None = None
    type: str = "library"
    scope: str | None = Field(default=None, description="required / optional / excluded")
    licenses: tuple[License, ...] = ()
    hashes: tuple[Hash, ...] = ()
    supplier: str | None = None
    direct: bool | None = Field(
        default=None, description="True/False where the SBOM's dependency graph says; else null"
    )
    source: str = Field(description="evidence file this component came from")


class VexStatement(Frozen):
    """Where a vulnerability's state came from."""

    state: VexState
    justification: str | None = None
    detail: str | None = None
    response: tuple[str, ...] = ()
    source: str


class Vulnerability(Frozen):
    id: str
    aliases: tuple[str, ...] = ()
    severity: Severity = Severity.UNKNOWN
    cvss_score: float | None = None
    component_name: str | None = None
    component_version: str | None = None
    purl: str | None = None
    component_ref: str | None = None
    fix_versions: tuple[str, ...] = ()
    fix_available: bool = False
    state: VexState = VexState.UNTRIAGED
    vex: VexStatement | None = None
    description: str | None = None
    urls: tuple[str, ...] = ()
    cwes: tuple[str, ...] = ()
    scanners: tuple[str, ...] = Field(default=(), description="tools that reported it")
    sources: tuple[str, ...] = Field(default=(), description="evidence files that reported it")

    @model_validator(mode="before")
    @classmethod
    def _severity_from_score(cls, data: Any) -> Any:
        # A scanner that gave a score but no usable severity word: the score's CVSS band.
        if isinstance(data, dict) and data.get("cvss_score") is not None:
            severity = data.get("severity")
            if severity is None or Severity.parse(severity) is Severity.UNKNOWN:
                score = data["cvss_score"]
                if isinstance(score, int | float) and not isinstance(score, bool):
                    data = {**data, "severity": severity_of_score(float(score))}
        return data


class FindingCategory(StrEnum):
    """What a finding is about: code (SAST), configuration (IaC), or an exposed secret."""

    SAST = "sast"
    MISCONFIGURATION = "misconfiguration"
    SECRET = "secret"  # noqa: S105 - a category name, not a credential


class Finding(Frozen):
    """A static-analysis result: a SAST finding, an IaC misconfiguration or an exposed secret."""

    tool: str
    category: FindingCategory = Field(
        default=FindingCategory.SAST,
        description="sast (code), misconfiguration (Dockerfile, Kubernetes, Terraform …) "
        "or secret (a credential found in the code or image)",
    )
    rule_id: str
    severity: Severity = Severity.UNKNOWN
    message: str
    path: str | None = None
    line: int | None = None
    end_line: int | None = None
    fingerprint: str | None = None
    ignored: bool = Field(default=False, description="suppressed / ignored by the tool itself")
    cwes: tuple[str, ...] = ()
    url: str | None = None
    source: str


class SbomInfo(Frozen):
    """Facts about the SBOM(s) given, for SBOM-quality policies."""

    present: bool = False
    format: str | None = None
    spec_version: str | None = None
    files: tuple[str, ...] = ()
    timestamp: str | None = None
    authors: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    supplier: str | None = None
    subject: str | None = Field(default=None, description="metadata.component name@version")
    has_dependencies: bool = False
    component_count: int = 0


class Attestation(Frozen):
    """An in-toto statement (e.g. SLSA provenance) given as evidence."""

    predicate_type: str
    builder_id: str | None = None
    build_type: str | None = None
    subjects: tuple[dict[str, Any], ...] = ()
    envelope: str = Field(
        default="none",
        description="how the statement came: none (a bare statement), dsse (a DSSE envelope) "
        "or sigstore-bundle (a Sigstore bundle wrapping a DSSE envelope)",
    )
    signed: bool = Field(default=False, description="the envelope carries signatures")
    signature_verified: bool | None = Field(
        default=None,
        description="true: a signature verified against the configured public key "
        "(GATEKEEPER_ATTESTATION_KEY); false: a key is configured and no signature verified; "
        "null: no key configured, or nothing signed",
    )
    source: str


class Approval(Frozen):
    by: str
    role: str | None = None
    at: str | None = None


class Release(Frozen):
    """Identity of what is being judged, from ``--release`` (or defaults)."""

    service: str | None = None
    version: str | None = None
    commit: str | None = None
    artifact_digest: str | None = None
    environment: str | None = None
    change_ref: str | None = None
    commit_time: str | None = Field(
        default=None,
        description="RFC 3339 time (with offset) of the commit being released, from the CI: "
        "the start of DORA's lead time for changes",
    )
    first_commit_time: str | None = Field(
        default=None,
        description="RFC 3339 time of the first commit of the change (merge/pull request), "
        "where the CI knows it",
    )
    approvals: tuple[Approval, ...] = ()
    promoted_from: tuple[str, ...] = Field(
        default=(), description="environments this artifact already passed, oldest first"
    )
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("commit_time", "first_commit_time")
    @classmethod
    def _rfc3339(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an RFC 3339 time: {value!r}") from None
        if moment.tzinfo is None:
            raise ValueError(f"time {value!r} has no UTC offset (add Z or +HH:MM)")
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CiContext(Frozen):
    provider: str | None = None
    run_id: str | None = None
    actor: str | None = None
    repository: str | None = None
    ref: str | None = None
    sha: str | None = None


class Context(Frozen):
    time: str = Field(description="RFC 3339 UTC time of the evaluation")
    ci: CiContext = CiContext()


class EvidenceRef(Frozen):
    """One evidence file as given: what it was read as and its digest."""

    path: str
    kind: str
    sha256: str


class GateInput(Frozen):
    """The document policies evaluate as ``input``."""

    schema_: str = Field(default=GATE_INPUT_SCHEMA, alias="schema")
    release: Release = Release()
    components: tuple[Component, ...] = ()
    vulnerabilities: tuple[Vulnerability, ...] = ()
    findings: tuple[Finding, ...] = ()
    sbom: SbomInfo = SbomInfo()
    attestations: tuple[Attestation, ...] = ()
    context: Context
    evidence: tuple[EvidenceRef, ...] = ()
    evidence_kinds: tuple[str, ...] = Field(
        default=(),
        description="categories of evidence given (sbom, vulnerability-scan, sast, provenance, "
        "vex): what policies with METADATA custom.requires need",
    )

    def to_document(self) -> dict[str, Any]:
        """The JSON-ready document (aliases applied, nulls kept)."""
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        """The document as the engine receives it and as its digest is taken.

        Field order is the models' order, so the same input always serializes the same way;
        pydantic's compiled serializer keeps this fast for 20,000-component releases.
        """
        return self.model_dump_json(by_alias=True)
