"""Evidence requirements: which kinds of evidence a gate must see, and what was given.

A gate that is not shown a vulnerability scan cannot find a vulnerability, and a provenance
policy shown no provenance has nothing to judge. Both used to pass vacuously. Now:

- per environment (``release.environment``), gatekeeper.yaml's ``evidence_requirements``
  names the kinds that must be present; each missing one is a deny violation of
  ``GK-EVIDENCE-001`` (so the gate fails and says what to add);
- a rule whose METADATA ``custom.requires`` names a kind that is absent, and which found
  nothing, is recorded as *not assessed*, never *passed* (see :mod:`gatekeeper.gate.evaluate`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gatekeeper.config import DEFAULT_ENVIRONMENT
from gatekeeper.model import (
    EVIDENCE_KINDS,
    GateInput,
    Level,
    RuleResult,
    Severity,
    Violation,
)

MISSING_EVIDENCE_POLICY = "GK-EVIDENCE-001"
MISSING_EVIDENCE_PACKAGE = "gatekeeper.evidence"
MISSING_EVIDENCE_RULE = "deny_missing_evidence"

# Reader kind (``gatekeeper evidence kinds``) -> the evidence kinds a file of it provides. A
# reader not listed provides nothing: an unknown tool never satisfies a requirement.
READER_PROVIDES: dict[str, tuple[str, ...]] = {
    "cyclonedx": ("sbom",),
    "spdx": ("sbom",),
    "spdx3": ("sbom",),
    "syft": ("sbom",),
    "grype": ("vulnerability-scan",),
    "trivy": ("vulnerability-scan",),
    "osv-scanner": ("vulnerability-scan",),
    "pip-audit": ("vulnerability-scan",),
    "sarif": ("sast",),
    "semgrep": ("sast",),
    "openvex": ("vex",),
    "cyclonedx-vex": ("vex",),
    "csaf-vex": ("vex",),
}
_SLSA_PREFIX = "https://slsa.dev/provenance/"


def present_evidence_kinds(gate_input: GateInput) -> tuple[str, ...]:
    """The evidence kinds ``gate_input`` holds, in EVIDENCE_KINDS order."""
    present: set[str] = set()
    for ref in gate_input.evidence:
        present.update(READER_PROVIDES.get(ref.kind, ()))
    if gate_input.sbom.present:
        present.add("sbom")
    if any(a.predicate_type.startswith(_SLSA_PREFIX) for a in gate_input.attestations):
        present.add("provenance")
    return tuple(k for k in EVIDENCE_KINDS if k in present)


def required_evidence(
    environment: str | None, requirements: Mapping[str, Sequence[str]]
) -> tuple[str, ...]:
    """The kinds ``environment`` needs: its own entry, else the ``default`` entry."""
    if environment and environment in requirements:
        return tuple(requirements[environment])
    return tuple(requirements.get(DEFAULT_ENVIRONMENT, ()))


def missing_evidence(
    required: Sequence[str], present: Sequence[str], *, environment: str | None
) -> tuple[tuple[Violation, ...], RuleResult]:
    """One deny violation per required kind that is absent, and the rule result recording that
    the requirement was checked."""
    where = f"environment '{environment}'" if environment else "this release"
    violations = tuple(
        Violation(
            policy=MISSING_EVIDENCE_POLICY,
            rule=MISSING_EVIDENCE_RULE,
            package=MISSING_EVIDENCE_PACKAGE,
            level=Level.DENY,
            severity=Severity.HIGH,
            title="Required evidence is present",
            message=f"no {kind} evidence was given, and {where} requires it",
            subject=kind,
            evidence={"required": list(required), "present": list(present)},
            remediation=(
                f"Pass the {kind} file produced by the pipeline to the gate, or change "
                "evidence_requirements in gatekeeper.yaml"
            ),
        )
        for kind in required
        if kind not in present
    )
    result = RuleResult(
        policy=MISSING_EVIDENCE_POLICY,
        rule=MISSING_EVIDENCE_RULE,
        package=MISSING_EVIDENCE_PACKAGE,
        level=Level.DENY,
        title="Required evidence is present",
        violations=len(violations),
    )
    return violations, result
