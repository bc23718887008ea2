"""The one evaluation function: a gate input, a bundle and waivers in, a Decision out.

Every path that judges something calls :func:`decide` — ``gate run``, replay and impact of
recorded decisions, ``scaffold check``, the deployer's deploy-time policies (and next the
decision service) — so the steps select rules → evaluate → apply waivers → count → outcome
exist once. Loading files is the caller's business; nothing here reads a file, prints or exits.
Engine and policy errors propagate (exit 3): a decision is never made from a failed evaluation.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gatekeeper.gate.evaluate import evaluate_rules, select_rules
from gatekeeper.gate.input import rfc3339, sha256_text
from gatekeeper.gate.requirements import missing_evidence
from gatekeeper.gate.waivers import apply_waivers
from gatekeeper.model import (
    BundleInfo,
    Decision,
    EngineInfo,
    EvidenceRef,
    GateInput,
    Level,
    Outcome,
    Release,
    Summary,
    Timings,
    Violation,
    Waiver,
)
from gatekeeper.policy.builtins import check_builtins
from gatekeeper.policy.bundle import PolicyBundle
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S
from gatekeeper.policy.engines.registry import DEFAULT_ENGINE, get_engine


@dataclass(frozen=True)
class DecideOptions:
    """How to judge: which engine, which packages, what fails, how long, and at what time
    (waiver expiry and ``created_at``; replay passes the recorded time)."""

    engine: str = DEFAULT_ENGINE
    namespaces: tuple[str, ...] = ()
    fail_on: Level = Level.DENY
    timeout: float = DEFAULT_TIMEOUT_S
    now: datetime | None = None
    allow_network_builtins: bool = False
    # Evidence kinds the release must come with (gatekeeper.gate.requirements); empty: none.
    required_evidence: tuple[str, ...] = ()


def decide(
    gate_input: GateInput | Mapping[str, Any] | str,
    bundle: PolicyBundle,
    waivers: Sequence[Waiver] = (),
    options: DecideOptions | None = None,
    *,
    release: Release | None = None,
    inputs: Sequence[EvidenceRef] = (),
    ingest_ms: float = 0.0,
    started: float | None = None,
    present_evidence: Sequence[str] | None = None,
    input_digest: Callable[[], str] | None = None,
) -> Decision:
    """Judge ``gate_input`` (the document policies see as ``input``: a GateInput, a mapping,
    or its JSON text) with ``bundle``.

    ``release`` defaults to the GateInput's own; ``inputs`` are the evidence files' references
    and ``ingest_ms`` the time spent reading them, both recorded in the decision as given;
    ``started`` (a ``time.perf_counter()`` value) is when the caller began, so ``total_ms``
    counts the whole run, not only this call. ``present_evidence`` are the evidence kinds the
    input holds (default: a GateInput's ``evidence_kinds``; None: unknown, so no rule is
    marked not assessed, and every required kind counts as missing). ``input_digest``, when
    given, answers the input text's digest once the evaluation is done (``gate run`` takes it
    on a thread meanwhile); by default it is taken here.
    """
    if started is None:
        started = time.perf_counter() - ingest_ms / 1000
    options = options or DecideOptions()
    now = options.now or datetime.now(UTC)
    input_json = input_text(gate_input)
    if release is None:
        release = gate_input.release if isinstance(gate_input, GateInput) else Release()

    if present_evidence is None and isinstance(gate_input, GateInput):
        present_evidence = gate_input.evidence_kinds

    engine = get_engine(options.engine)
    # Before the engine sees the bundle: a builtin it lacks would make a rule silently not fire.
    check_builtins(bundle, engine, allow_network=options.allow_network_builtins)
    rules = select_rules(bundle, options.namespaces)
    evaluation = evaluate_rules(
        bundle,
        engine,
        rules,
        input_json,
        timeout=options.timeout,
        present_evidence=present_evidence,
    )
    violations = evaluation.violations
    rule_results = evaluation.rules
    if options.required_evidence:
        missing, requirement = missing_evidence(
            options.required_evidence, present_evidence or (), environment=release.environment
        )
        violations = (*missing, *violations)
        rule_results = (requirement, *rule_results)
    waiver_outcome = apply_waivers(violations, waivers, now=now)

    active = waiver_outcome.active
    failures = sum(1 for v in active if v.level is Level.DENY)
    warnings = sum(1 for v in active if v.level is Level.WARN)
    return Decision(
        decision_id=str(uuid.uuid4()),
        created_at=rfc3339(now),
        outcome=decide_outcome(failures, warnings, options.fail_on),
        fail_on=options.fail_on,
        release=release,
        summary=Summary(
            rules=len(rule_results),
            passed=sum(1 for r in rule_results if r.passed),
            not_assessed=sum(1 for r in rule_results if not r.assessed),
            failures=failures,
            warnings=warnings,
            waived=len(waiver_outcome.waived),
            exceptions=evaluation.exceptions,
        ),
        violations=sorted_violations(active),
        waived=waiver_outcome.waived,
        expired_waivers=waiver_outcome.expired,
        stale_waivers=waiver_outcome.stale,
        waiver_coverage=waiver_outcome.coverage(),
        required_evidence=options.required_evidence,
        rules=rule_results,
        inputs=tuple(inputs),
        input_digest=input_digest() if input_digest else sha256_text(input_json),
        policy_bundle=BundleInfo(
            revision=bundle.revision, digest=bundle.digest, sources=bundle.sources
        ),
        engine=EngineInfo(name=options.engine, version=engine.version()),
        timings=Timings(
            ingest_ms=round(ingest_ms, 2),
            evaluate_ms=round(evaluation.elapsed_ms, 2),
            total_ms=round((time.perf_counter() - started) * 1000, 2),
        ),
    )


def input_text(gate_input: GateInput | Mapping[str, Any] | str) -> str:
    """The JSON text the engine receives (and whose digest the decision records)."""
    if isinstance(gate_input, str):
        return gate_input
    if isinstance(gate_input, GateInput):
        return gate_input.to_json()
    return json.dumps(gate_input)


def decide_outcome(failures: int, warnings: int, fail_on: Level) -> Outcome:
    if failures or (warnings and fail_on is Level.WARN):
        return Outcome.FAIL
    if warnings:
        return Outcome.WARN
    return Outcome.PASS


def sorted_violations(violations: Sequence[Violation]) -> tuple[Violation, ...]:
    """Failures first, most severe first: what a developer should fix first."""
    return tuple(
        sorted(
            violations,
            key=lambda v: (v.level is not Level.DENY, -v.severity.rank, v.policy, v.subject or ""),
        )
    )


def error_decision(
    message: str,
    *,
    release: Release | None = None,
    engine: str = DEFAULT_ENGINE,
    inputs: Sequence[EvidenceRef] = (),
    now: datetime | None = None,
) -> Decision:
    """A void decision: the gate could not judge (bad input, policy or engine error). Reports
    of it say what went wrong, so CI's upload step and test widget show the error instead of
    failing a second time on a missing file; the exit code stays 2/3."""
    return Decision(
        decision_id=str(uuid.uuid4()),
        created_at=rfc3339(now or datetime.now(UTC)),
        outcome=Outcome.ERROR,
        release=release or Release(),
        summary=Summary(),
        inputs=tuple(inputs),
        input_digest="",
        policy_bundle=BundleInfo(revision="", digest=""),
        engine=EngineInfo(name=engine, version=""),
        errors=(message,),
    )


def void_decision(decision: Decision, reason: str) -> Decision:
    """``decision`` made void (outcome ``error``) because of ``reason``, e.g. it could not be
    recorded in the ledger: what it found is kept, but it must not read as a pass."""
    return decision.model_copy(
        update={"outcome": Outcome.ERROR, "errors": (*decision.errors, reason)}
    )
