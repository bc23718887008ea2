"""Exports for other tools: an in-toto / SLSA Verification Summary Attestation for one decision,
and an OSCAL assessment-results document for a report period.

The VSA is an unsigned in-toto Statement v1 (sign or wrap it in a DSSE envelope with your
attestation tooling); its policy digest, input digests and result come from the ledger record.
"""

from __future__ import annotations

import uuid
from typing import Any

from gatekeeper import __version__
from gatekeeper.ledger.decisions import StoredDecision
from gatekeeper.ledger.report import ComplianceReport
from gatekeeper.model import Outcome

INTOTO_STATEMENT = "https://in-toto.io/Statement/v1"
VSA_PREDICATE = "https://slsa.dev/verification_summary/v1"
VERIFIER_ID = "https://github.com/gatekeeper/gatekeeper"
OSCAL_VERSION = "1.1.2"
# Fixed namespace so that the same report period yields the same OSCAL uuids (reproducible).
_UUID_NAMESPACE = uuid.UUID("7a0c3f52-2d56-4c1b-9d9e-6f2b1f6c9a10")


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


def vsa_statement(stored: StoredDecision) -> dict[str, Any]:
    decision = stored.decision
    release = decision.release
    doc = stored.document
    name = release.service or "release"
    if release.version:
        name = f"{name}@{release.version}"
    subject: dict[str, Any] = {"name": name}
    if release.artifact_digest and release.artifact_digest.startswith("sha256:"):
        subject["digest"] = {"sha256": _hex(release.artifact_digest)}
    else:
        # No artifact digest recorded: the subject is the normalized gate input instead.
        subject["digest"] = {"sha256": _hex(decision.input_digest)}
    passed = decision.outcome in (Outcome.PASS, Outcome.WARN)
    signer = doc.get("signer") or {}
    verifier_id = VERIFIER_ID
    if isinstance(signer, dict) and signer.get("key_id"):
        verifier_id = f"{VERIFIER_ID}#{signer['key_id']}"
    resource = (
        f"gatekeeper:release/{release.service}@{release.version or ''}"
        if release.service
        else f"gatekeeper:decision/{decision.decision_id}"
    )
    return {
        "_type": INTOTO_STATEMENT,
        "subject": [subject],
        "predicateType": VSA_PREDICATE,
        "predicate": {
            "verifier": {
                "id": verifier_id,
                "version": {
                    "gatekeeper": __version__,
                    decision.engine.name: decision.engine.version,
                },
            },
            "timeVerified": decision.created_at,
            "resourceUri": resource,
            "policy": {
                "uri": f"gatekeeper:bundle/{decision.policy_bundle.revision}",
                "digest": {"sha256": _hex(decision.policy_bundle.digest)},
            },
            "inputAttestations": [
                {"uri": ref.path, "digest": {"sha256": _hex(ref.sha256)}} for ref in decision.inputs
            ],
            "verificationResult": "PASSED" if passed else "FAILED",
            # Gatekeeper verifies policies, not SLSA build tracks: no level is claimed.
            "verifiedLevels": [] if passed else ["FAILED"],
            "slsaVersion": "1.0",
        },
    }


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_UUID_NAMESPACE, "\x1f".join(parts)))


def oscal_assessment_results(report: ComplianceReport) -> dict[str, Any]:
    period = f"{report.period_from or ''}..{report.period_to or ''}|{report.service or ''}"
    start = report.period_from or (
        report.releases[0].recorded_at if report.releases else report.generated_at
    )
    observations = []
    for r in report.releases:
        observations.append(
            {
                "uuid": _uuid("observation", r.decision_id),
                "title": f"Gate decision for {r.service or 'release'} {r.version}".strip(),
                "description": f"Gate outcome {r.outcome}: {r.failures} failures, "
                f"{r.warnings} warnings, {r.waived} waived, {r.rules} rules evaluated.",
                "methods": ["TEST"],
                "types": ["finding" if r.outcome not in ("pass", "warn") else "control-objective"],
                "subjects": [
                    {
                        "subject-uuid": _uuid("subject", r.service, r.version, r.environment),
                        "type": "component",
                        "title": f"{r.service} {r.version} {r.environment}".strip(),
                    }
                ],
                "relevant-evidence": [
                    {
                        "href": f"gatekeeper:decision/{r.decision_id}",
                        "description": f"ledger record #{r.seq}, input {r.input_digest}",
                    }
                ],
                "collected": r.recorded_at,
            }
        )
    findings: list[dict[str, Any]] = []
    for control in report.controls:
        failed = control.count("fail")
        unassessed = control.count("not assessed")
        # OSCAL has no "unknown" state: a control whose policies judged nothing on some release
        # is not shown as satisfied.
        state = "not-satisfied" if failed or unassessed else "satisfied"
        related = [
            {"observation-uuid": _uuid("observation", r.decision_id)}
            for r, result in zip(report.releases, control.results, strict=True)
            if result != "n/a"
        ]
        if not related:
            continue
        findings.append(
            {
                "uuid": _uuid("finding", period, control.control),
                "title": f"{control.control}{': ' + control.title if control.title else ''}",
                "description": (
                    f"Checked by {', '.join(control.policies)} on "
                    f"{len(related)} releases: {control.count('pass')} pass, {failed} fail, "
                    f"{control.count('warn')} warn, {control.count('waived')} waived, "
                    f"{unassessed} not assessed (evidence missing)."
                ),
                "target": {
                    "type": "objective-id",
                    "target-id": control.control,
                    "status": {"state": state},
                },
                "related-observations": related,
            }
        )
    return {
        "assessment-results": {
            "uuid": _uuid("assessment-results", period, report.generated_at),
            "metadata": {
                "title": "Gatekeeper release gate assessment results",
                "last-modified": report.generated_at,
                "version": __version__,
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {"href": "gatekeeper:assessment-plan/release-gate"},
            "results": [
                {
                    "uuid": _uuid("result", period),
                    "title": "Release gate decisions"
                    + (f" for {report.service}" if report.service else ""),
                    "description": (
                        f"{len(report.releases)} gate decisions from the gatekeeper ledger "
                        f"({'chain intact' if report.chain.intact else 'CHAIN TAMPERED'}, "
                        f"head {report.chain.head})."
                    ),
                    "start": start,
                    "end": report.period_to or report.generated_at,
                    "reviewed-controls": {
                        "control-selections": [
                            {
                                "include-controls": [
                                    {"control-id": c.control} for c in report.controls
                                ]
                            }
                            if report.controls
                            else {"include-all": {}}
                        ]
                    },
                    **({"observations": observations} if observations else {}),
                    **({"findings": findings} if findings else {}),
                }
            ],
        }
    }
