"""One gate run: evidence + policies in, a Decision out. No printing, no exiting."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gatekeeper.errors import InputError
from gatekeeper.evidence import gc_paused, load_evidence
from gatekeeper.gate.evaluate import evaluate_rules, select_rules
from gatekeeper.gate.input import (
    build_gate_input,
    load_release,
    rfc3339,
    sha256_text,
)
from gatekeeper.gate.waivers import apply_waivers, load_waivers
from gatekeeper.model import (
    BundleInfo,
    Decision,
    EngineInfo,
    GateInput,
    Level,
    Outcome,
    Release,
    Summary,
    Timings,
    Violation,
)
from gatekeeper.policy.bundle import PolicyBundle, builtin_policy_dir, load_bundle
from gatekeeper.policy.engines.guard import discard_spare, prestart_worker
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S
from gatekeeper.policy.engines.registry import DEFAULT_ENGINE, get_engine

DEFAULT_WAIVERS_FILE = Path(".gatekeeper/waivers.yaml")


@dataclass(frozen=True)
class GateRequest:
    evidence: tuple[str, ...]
    policies: tuple[str, ...] = ()  # empty: the built-in library
    data: tuple[str, ...] = ()
    release_file: str | None = None
    waivers_file: str | None = None  # None: .gatekeeper/waivers.yaml when it exists
    engine: str = DEFAULT_ENGINE
    namespaces: tuple[str, ...] = ()
    fail_on: Level = Level.DENY
    kind: str | None = None
    validate: bool = False
    max_waiver_days: int = 90
    timeout: float = DEFAULT_TIMEOUT_S
    now: datetime | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = field(default_factory=Path.cwd)


@dataclass(frozen=True)
class GateResult:
    decision: Decision
    gate_input: GateInput
    input_json: str
    bundle: PolicyBundle


def run_gate(request: GateRequest) -> GateResult:
    if not request.evidence and not request.release_file:
        raise InputError("no evidence given: pass evidence files (SBOM, scan results, ...)")
    # Start the engine worker now: its interpreter start-up and imports then run on the other
    # core while this process reads the evidence, instead of after it. Nothing is sent to it
    # until the input is complete, so a bad input still fails as bad input.
    prestart_worker(request.engine)
    try:
        # The run builds large acyclic structures (evidence, input, violations): see gc_paused.
        with gc_paused():
            return _run_gate(request)
    finally:
        discard_spare()  # unused when the gate failed before evaluating


def _run_gate(request: GateRequest) -> GateResult:
    started = time.perf_counter()
    now = request.now or datetime.now(UTC)

    # Load everything that can be wrong with the input before touching the engine, so a bad
    # file is reported as bad input (exit 2) rather than masked by a policy problem.
    release = load_release(Path(request.release_file)) if request.release_file else Release()
    waivers_path = _waivers_path(request)
    waivers = (
        load_waivers(waivers_path, max_days=request.max_waiver_days, now=now)
        if waivers_path
        else ()
    )
    evidence = load_evidence(request.evidence, kind=request.kind, validate=request.validate)
    gate_input = build_gate_input(evidence, release=release, now=now, env=request.env)
    input_json = gate_input.to_json()
    ingest_ms = (time.perf_counter() - started) * 1000

    engine = get_engine(request.engine)
    policy_paths = request.policies or (str(builtin_policy_dir()),)
    bundle = load_bundle(policy_paths, data_paths=request.data)
    rules = select_rules(bundle, request.namespaces)
    evaluation = evaluate_rules(bundle, engine, rules, input_json, timeout=request.timeout)
    waiver_outcome = apply_waivers(evaluation.violations, waivers, now=now)

    active = waiver_outcome.active
    failures = sum(1 for v in active if v.level is Level.DENY)
    warnings = sum(1 for v in active if v.level is Level.WARN)
    decision = Decision(
        decision_id=str(uuid.uuid4()),
        created_at=rfc3339(now),
        outcome=decide_outcome(failures, warnings, request.fail_on),
        fail_on=request.fail_on,
        release=release,
        summary=Summary(
            rules=len(evaluation.rules),
            passed=sum(1 for r in evaluation.rules if r.passed),
            failures=failures,
            warnings=warnings,
            waived=len(waiver_outcome.waived),
            exceptions=evaluation.exceptions,
        ),
        violations=_sorted_violations(active),
        waived=waiver_outcome.waived,
        expired_waivers=waiver_outcome.expired,
        stale_waivers=waiver_outcome.stale,
        rules=evaluation.rules,
        inputs=evidence.refs,
        input_digest=sha256_text(input_json),
        policy_bundle=BundleInfo(
            revision=bundle.revision, digest=bundle.digest, sources=bundle.sources
        ),
        engine=EngineInfo(name=request.engine, version=engine.version()),
        timings=Timings(
            ingest_ms=round(ingest_ms, 2),
            evaluate_ms=round(evaluation.elapsed_ms, 2),
            total_ms=round((time.perf_counter() - started) * 1000, 2),
        ),
    )
    return GateResult(
        decision=decision, gate_input=gate_input, input_json=input_json, bundle=bundle
    )


def decide_outcome(failures: int, warnings: int, fail_on: Level) -> Outcome:
    if failures or (warnings and fail_on is Level.WARN):
        return Outcome.FAIL
    if warnings:
        return Outcome.WARN
    return Outcome.PASS


def _sorted_violations(violations: Sequence[Violation]) -> tuple[Violation, ...]:
    """Failures first, most severe first: what a developer should fix first."""
    return tuple(
        sorted(
            violations,
            key=lambda v: (v.level is not Level.DENY, -v.severity.rank, v.policy, v.subject or ""),
        )
    )


def _waivers_path(request: GateRequest) -> Path | None:
    if request.waivers_file:
        return Path(request.waivers_file)
    default = request.cwd / DEFAULT_WAIVERS_FILE
    return default if default.is_file() else None
