"""A seeded history for the dashboard: >= 1,000 decisions of 4 services over 12 weeks and
>= 50 production deployments with canary rollbacks, rollbacks after promotion and incidents,
signed with the service's key and appended behind it (it accepts records its key signed).

Two real gate runs (the shipped example, failing with a waiver applied; a clean release)
give real decision documents: violations with remediation, controls, waivers, evidence
digests. Each seeded decision is a copy with its own id, release and time.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gatekeeper.audit.recorder import record_gate_result
from gatekeeper.gate.run import GateRequest, GateResult, run_gate
from gatekeeper.ledger.deployments import record_deploy_event
from gatekeeper.ledger.incidents import open_incident, resolve_incident
from gatekeeper.ledger.signing import Signer
from gatekeeper.ledger.store import LedgerStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SERVICES = ("checkout-web", "orders-api", "search-ui", "billing-worker")


@dataclasses.dataclass
class Seeded:
    decisions: int = 0
    deployments: int = 0
    rollbacks: int = 0
    incidents: int = 0


def _base_results(workdir: Path, now: datetime) -> tuple[GateResult, GateResult]:
    waivers = workdir / "waivers.yaml"
    expires = (now + timedelta(days=10)).date().isoformat()
    waivers.write_text(
        "waivers:\n  - id: W-2026-017\n    policy: GK-LIC-001\n"
        '    subject: "pkg:pypi/pdfgen"\n    reason: "Legal approved GPL use (LEGAL-311)"\n'
        f"    approved_by: maria.gonzalez\n    expires: {expires}\n"
        "  - id: W-2026-020\n    policy: GK-VULN-001\n    subject: pkg:pypi/never-used\n"
        '    reason: "no longer needed"\n    approved_by: sam.lee\n'
        f"    expires: {expires}\n",
        encoding="utf-8",
    )
    evidence = EXAMPLES / "evidence"
    failing = run_gate(
        GateRequest(
            evidence=tuple(str(evidence / n) for n in ("sbom.cdx.json", "grype.json")),
            release_file=str(EXAMPLES / "release.yaml"),
            waivers_file=str(waivers),
            now=now,
            cwd=workdir,
        )
    )
    clean = EXAMPLES / "releases" / "clean"
    passing = run_gate(
        GateRequest(
            evidence=tuple(str(clean / n) for n in ("sbom.cdx.json", "grype.json", "semgrep.json")),
            release_file=str(clean / "release.yaml"),
            now=now,
            cwd=workdir,
        )
    )
    return failing, passing


def _copy(base: GateResult, service: str, version: str, digest: str, commit: str) -> GateResult:
    decision = base.decision
    release = decision.release.model_copy(
        update={
            "service": service,
            "version": version,
            "artifact_digest": digest,
            "environment": "production",
            "commit_time": commit,
        }
    )
    copied = decision.model_copy(
        update={"decision_id": str(uuid.uuid4()), "release": release, "working_directory": None}
    )
    return dataclasses.replace(base, decision=copied)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seed(
    store: LedgerStore,
    signer: Signer,
    workdir: Path,
    *,
    now: datetime,
    decisions: int = 1000,
    seed_value: int = 14,
) -> Seeded:
    rng = random.Random(seed_value)  # noqa: S311 - reproducible test data, not secrets
    failing, passing = _base_results(workdir, now)
    counts = Seeded()
    start = now - timedelta(weeks=12)
    step = (now - start - timedelta(hours=2)) / decisions
    versions = {name: 0 for name in SERVICES}
    for i in range(decisions):
        when = start + step * i
        service = SERVICES[i % len(SERVICES)]
        passed = rng.random() < 0.7
        versions[service] += 1
        version = f"1.{versions[service]}.0"
        digest = "sha256:" + uuid.UUID(int=rng.getrandbits(128)).hex * 2
        commit = _text(when - timedelta(hours=rng.uniform(1, 60)))
        result = _copy(passing if passed else failing, service, version, digest, commit)
        record = record_gate_result(store, result, signer=signer, now=when)
        counts.decisions += 1
        # Every 18th decision (a passing one) is deployed to production.
        if not passed or i % 18 >= 4:
            continue
        deployment_id = str(uuid.uuid4())
        release = {
            "service": service,
            "version": version,
            "artifact_digest": digest,
            "environment": "production",
        }
        started = when + timedelta(minutes=20)
        base = {
            "deployment_id": deployment_id,
            "target": "local",
            "strategy": "canary",
            "gate_decision_id": result.decision.decision_id,
            "started_at": _text(started),
        }
        record_deploy_event(
            store,
            kind="deploy.started",
            release=release,
            outcome="started",
            details=base,
            signer=signer,
            now=started,
        )
        ended = started + timedelta(minutes=rng.randint(8, 40))
        counts.deployments += 1
        failed = rng.random() < 0.15
        judged = ended - timedelta(minutes=2)
        record_deploy_event(
            store,
            kind="deploy.verdict",
            release=release,
            outcome="fail" if failed else "pass",
            details={
                **base,
                "verdict": {
                    "result": "fail" if failed else "pass",
                    "reason": "error-rate: canary 4.2 % vs baseline 0.3 %, p 0.004 (fail)"
                    if failed
                    else "judge pass score 100 - 3 passing analyses",
                },
            },
            signer=signer,
            now=judged,
        )
        if failed:
            record_deploy_event(
                store,
                kind="deploy.rolled_back",
                release=release,
                outcome="rolled_back",
                details={
                    **base,
                    "reason": "canary error rate 4.2 % above the baseline's 0.3 % "
                    "(Mann-Whitney p < 0.02)",
                    "finished_at": _text(ended),
                    "rolled_back_at": _text(ended),
                    "restored_at": _text(ended),
                },
                signer=signer,
                now=ended,
            )
            counts.rollbacks += 1
            continue
        record_deploy_event(
            store,
            kind="deploy.promoted",
            release=release,
            outcome="promoted",
            details={
                **base,
                "reason": "every analysis passed",
                "finished_at": _text(ended),
                "promoted_at": _text(ended),
            },
            signer=signer,
            now=ended,
        )
        if rng.random() < 0.12:
            opened_at = ended + timedelta(hours=rng.uniform(0.5, 6))
            incident = open_incident(
                store,
                service=service,
                deployment_id=deployment_id,
                summary="checkout latency p99 above 2 s",
                at=_text(opened_at),
                source="seed",
                signer=signer,
                now=opened_at,
            )
            resolved_at = opened_at + timedelta(minutes=rng.randint(15, 300))
            resolve_incident(
                store,
                incident_id=incident.incident_id,
                at=_text(resolved_at),
                summary="rolled forward with a fix",
                source="seed",
                signer=signer,
                now=resolved_at,
            )
            counts.incidents += 1
        del record
    return counts
