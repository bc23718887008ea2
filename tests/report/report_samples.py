"""Decisions the report tests render: pass, warn, fail (with waivers of every kind) and error.

Texts deliberately carry what each format must escape: '|', '<', '&', '%', ':', ',', newlines
and non-ASCII.
"""

from __future__ import annotations

from gatekeeper.model import (
    BundleInfo,
    Decision,
    EngineInfo,
    EvidenceRef,
    Level,
    Outcome,
    Release,
    RuleLocation,
    RuleResult,
    Severity,
    Summary,
    Timings,
    Violation,
    WaivedViolation,
    Waiver,
    WaiverCoverage,
)

RELEASE = Release(
    service="payments-api",
    version="1.4.2",
    commit="3f2a9c1d0e4b5a6978877665544332211aabbccd",
    artifact_digest="sha256:" + "ab" * 32,
    environment="prod",
)
BUNDLE = BundleInfo(revision="r42", digest="sha256:" + "cd" * 32, sources=("policies/vulns.rego",))
ENGINE = EngineInfo(name="regorus", version="0.9.1")
INPUTS = (
    EvidenceRef(path="sbom.cdx.json", kind="cyclonedx", sha256="01" * 32),
    EvidenceRef(path="scans/grype.json", kind="grype", sha256="02" * 32),
    EvidenceRef(path="sast/semgrep.sarif", kind="sarif", sha256="03" * 32),
)

CRITICAL_VULN = Violation(
    policy="GK-VULN-001",
    rule="deny",
    package="gatekeeper.vulns",
    level=Level.DENY,
    severity=Severity.CRITICAL,
    title="No critical vulnerabilities with a fix",
    message="CVE-2021-23337 in lodash@4.17.20: command injection via template <script> & co",
    subject="pkg:npm/lodash@4.17.20",
    evidence={"vulnerability": "CVE-2021-23337", "sources": ["scans/grype.json"]},
    remediation="Upgrade lodash to 4.17.21 or later",
    controls=("SSDF PW.4", "SLSA"),
    location=RuleLocation(file="policies/vulns.rego", line=12),
)
SAST_FINDING = Violation(
    policy="GK-SAST-002",
    rule="deny",
    package="gatekeeper.sast",
    level=Level.DENY,
    severity=Severity.HIGH,
    title="No high-severity SAST findings",
    message="SQL built with string formatting | user input reaches cursor.execute\nsecond line",
    subject="src/db/query.py:42",
    remediation="Use query parameters: cursor.execute(sql, (value,))",
    controls=("CWE-89",),
    location=RuleLocation(file="policies/sast.rego", line=7),
)
NO_REMEDIATION = Violation(
    policy="GK-META-003",
    rule="deny",
    package="gatekeeper.release",
    level=Level.DENY,
    severity=Severity.MEDIUM,
    message="release has no change reference",
    location=RuleLocation(file="policies/release.rego", line=3),
)
UNPINNED = Violation(
    policy="GK-PIN-004",
    rule="warn_unpinned",
    package="gatekeeper.pinning",
    level=Level.WARN,
    severity=Severity.LOW,
    title="Dependencies are pinned",
    message="Ünïcödé-Paket 'grüße' has a version range: ^2.0, not a pin",
    subject="pkg:npm/gr%C3%BC%C3%9Fe@%5E2.0",
    evidence={"source": "sbom.cdx.json"},
    remediation="Pin an exact version, e.g. 2.0.3",
    location=RuleLocation(file="policies/pinning.rego", line=20),
)
WAIVED_LICENSE = Violation(
    policy="GK-LIC-005",
    rule="deny",
    package="gatekeeper.licenses",
    level=Level.DENY,
    severity=Severity.HIGH,
    title="No copyleft licences",
    message="GPL-3.0-only licence on libfoo & libbar",
    subject="pkg:generic/libfoo@1.0",
    remediation="Replace libfoo with an MIT-licensed alternative",
    controls=("LIC-1",),
    location=RuleLocation(file="policies/licenses.rego", line=30),
)
LICENSE_WAIVER = Waiver(
    id="W-12",
    policy="GK-LIC-005",
    reason="Legal approved: linked at arm's length, <see LEGAL-7>",
    approved_by="legal@example.com",
    expires="2027-01-31",
    subject="pkg:generic/libfoo@1.0",
)
EXPIRED_WAIVER = Waiver(
    id="W-9",
    policy="GK-VULN-001",
    reason="no fix available at the time",
    approved_by="sec@example.com",
    expires="2026-01-01",
)
STALE_WAIVER = Waiver(
    id="W-3",
    policy="GK-OLD-099",
    reason="legacy, component since removed",
    approved_by="sec@example.com",
    expires="2027-06-30",
)


def _rule(v: Violation, violations: int) -> RuleResult:
    return RuleResult(
        policy=v.policy,
        rule=v.rule,
        package=v.package,
        level=v.level,
        title=v.title,
        controls=v.controls,
        violations=violations,
        location=v.location,
    )


PASSING_RULE = RuleResult(
    policy="GK-SBOM-006",
    rule="deny",
    package="gatekeeper.sbom",
    level=Level.DENY,
    title="SBOM has a supplier",
    controls=("NTIA",),
)
EXEMPTED_RULE = RuleResult(
    policy="GK-DUP-007",
    rule="deny",
    package="gatekeeper.duplicates",
    level=Level.DENY,
    title="No duplicate components",
    exempted=True,
)


def _decision(**fields: object) -> Decision:
    base: dict[str, object] = {
        "decision_id": "01HZX3Q9K7ABCDEF",
        "created_at": "2026-11-26T12:00:00Z",
        "release": RELEASE,
        "inputs": INPUTS,
        "input_digest": "sha256:" + "ef" * 32,
        "policy_bundle": BUNDLE,
        "engine": ENGINE,
        "timings": Timings(ingest_ms=10.0, evaluate_ms=20.0, total_ms=1234.0),
    }
    base.update(fields)
    return Decision.model_validate(base)


def passing() -> Decision:
    return _decision(
        outcome=Outcome.PASS,
        summary=Summary(rules=2, passed=2),
        rules=(PASSING_RULE, _rule(UNPINNED, 0)),
    )


def warning() -> Decision:
    return _decision(
        outcome=Outcome.WARN,
        summary=Summary(rules=2, passed=1, warnings=1),
        violations=(UNPINNED,),
        rules=(PASSING_RULE, _rule(UNPINNED, 1)),
    )


def failing() -> Decision:
    """Two deny failures, one without remediation, a warning, a waiver, an expired and a stale
    waiver, a passing rule and an exempted rule."""
    return _decision(
        outcome=Outcome.FAIL,
        summary=Summary(rules=7, passed=1, failures=3, warnings=1, waived=1, exceptions=1),
        violations=(UNPINNED, SAST_FINDING, NO_REMEDIATION, CRITICAL_VULN),
        waived=(WaivedViolation(violation=WAIVED_LICENSE, waiver=LICENSE_WAIVER),),
        waiver_coverage=(
            WaiverCoverage(id=LICENSE_WAIVER.id, policy=LICENSE_WAIVER.policy, violations=1),
        ),
        expired_waivers=(EXPIRED_WAIVER,),
        stale_waivers=(STALE_WAIVER,),
        rules=(
            _rule(CRITICAL_VULN, 1),
            _rule(SAST_FINDING, 1),
            _rule(NO_REMEDIATION, 1),
            _rule(UNPINNED, 1),
            _rule(WAIVED_LICENSE, 1),
            PASSING_RULE,
            EXEMPTED_RULE,
        ),
    )


def erroring() -> Decision:
    return _decision(
        outcome=Outcome.ERROR,
        summary=Summary(),
        errors=("policies/vulns.rego:12: engine crashed: PanicException in strings.count",),
    )


def warn_fails() -> Decision:
    """fail_on: warn turns the warning into a failure."""
    return _decision(
        outcome=Outcome.FAIL,
        fail_on=Level.WARN,
        summary=Summary(rules=1, failures=1),
        violations=(UNPINNED,),
        rules=(_rule(UNPINNED, 1),),
    )


ALL = {
    "pass": passing,
    "warn": warning,
    "fail": failing,
    "error": erroring,
    "warn-fails": warn_fails,
}
