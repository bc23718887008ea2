"""The Decision: what a gate run concluded and why. Serialized as ``gatekeeper.decision/v1``."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from gatekeeper.model.base import Frozen
from gatekeeper.model.gate_input import EvidenceRef, Release, Severity

DECISION_SCHEMA = "gatekeeper.decision/v1"


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 — an outcome, not a password
    WARN = "warn"
    FAIL = "fail"
    # A void decision: the gate could not judge (engine crash, unreadable evidence, ...). Every
    # reporter renders it and the decision schema allows it; nothing produces it yet: the
    # decision service will, for decisions it records as void (see the fail-closed issue).
    ERROR = "error"


class Level(StrEnum):
    DENY = "deny"
    WARN = "warn"


class RuleLocation(Frozen):
    file: str
    line: int


class PolicyInfo(Frozen):
    """What METADATA says about a policy (one Rego package or rule)."""

    id: str
    title: str | None = None
    description: str | None = None
    severity: Severity = Severity.UNKNOWN
    controls: tuple[str, ...] = ()
    remediation: str | None = None
    requires: tuple[str, ...] = Field(
        default=(), description="evidence kinds the policy needs to judge anything (METADATA)"
    )


class Violation(Frozen):
    policy: str = Field(description="policy id (METADATA custom.id, else the package path)")
    rule: str = Field(description="rule name, e.g. deny or warn_unpinned")
    package: str
    level: Level
    severity: Severity
    title: str | None = None
    message: str
    subject: str | None = Field(
        default=None, description="what it is about: purl, vulnerability id, file:line"
    )
    evidence: dict[str, Any] = Field(default_factory=dict)
    remediation: str | None = None
    controls: tuple[str, ...] = ()
    location: RuleLocation | None = None
    declared_in: RuleLocation | None = Field(
        default=None,
        description="the committed file (relative to working_directory) that declares what it "
        "is about: the manifest naming the package, else the release file",
    )


class Waiver(Frozen):
    id: str
    policy: str
    reason: str
    approved_by: str
    expires: str
    subject: str | None = None
    vulnerability: str | None = None
    fingerprint: str | None = None
    path: str | None = None


class WaivedViolation(Frozen):
    violation: Violation
    waiver: Waiver


class WaiverCoverage(Frozen):
    """How many violations one waiver waived in this decision."""

    id: str
    policy: str
    violations: int


class RuleResult(Frozen):
    """A rule that was evaluated, whatever it found: auditors ask what was checked."""

    policy: str
    rule: str
    package: str
    level: Level
    title: str | None = None
    controls: tuple[str, ...] = ()
    violations: int = 0
    exempted: bool = Field(default=False, description="an exception rule exempted it")
    location: RuleLocation | None = None
    assessed: bool = Field(
        default=True,
        description="false: the evidence the policy needs was missing and it found nothing, "
        "so it judged nothing (not assessed, never passed)",
    )
    missing_evidence: tuple[str, ...] = Field(
        default=(), description="the evidence kinds it needed that were not given"
    )

    @property
    def passed(self) -> bool:
        return self.violations == 0 and self.assessed


class BundleInfo(Frozen):
    revision: str
    digest: str = Field(description="sha256 over the bundle's modules and data")
    sources: tuple[str, ...] = ()


class EngineInfo(Frozen):
    name: str
    version: str


class Timings(Frozen):
    ingest_ms: float = 0.0
    evaluate_ms: float = 0.0
    total_ms: float = 0.0


class Summary(Frozen):
    rules: int = 0
    passed: int = 0
    failures: int = 0
    warnings: int = 0
    waived: int = 0
    exceptions: int = 0
    not_assessed: int = Field(default=0, description="rules that had nothing to judge")


class Decision(Frozen):
    schema_: str = Field(default=DECISION_SCHEMA, alias="schema")
    decision_id: str
    created_at: str
    outcome: Outcome
    fail_on: Level = Level.DENY
    release: Release
    summary: Summary
    violations: tuple[Violation, ...] = ()
    waived: tuple[WaivedViolation, ...] = ()
    expired_waivers: tuple[Waiver, ...] = ()
    stale_waivers: tuple[Waiver, ...] = ()
    waiver_coverage: tuple[WaiverCoverage, ...] = Field(
        default=(), description="per waiver that applied: how many violations it waived"
    )
    rules: tuple[RuleResult, ...] = Field(default=(), description="every rule evaluated")
    inputs: tuple[EvidenceRef, ...] = ()
    input_digest: str = Field(description="sha256 of the canonical gate input document")
    policy_bundle: BundleInfo
    engine: EngineInfo
    timings: Timings = Timings()
    errors: tuple[str, ...] = ()
    required_evidence: tuple[str, ...] = Field(
        default=(),
        description="evidence kinds this release's environment required (replay "
        "applies the same requirement)",
    )
    working_directory: str | None = Field(
        default=None, description="where the gate ran; declared_in paths are relative to it"
    )

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
