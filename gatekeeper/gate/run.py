"""One gate run: evidence + policies in, a Decision out. No printing, no exiting."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gatekeeper.config import DEFAULT_EVIDENCE_REQUIREMENTS
from gatekeeper.errors import InputError
from gatekeeper.evidence import gc_paused, load_evidence
from gatekeeper.gate.decide import DecideOptions, decide
from gatekeeper.gate.input import build_gate_input, load_release, sha256_text
from gatekeeper.gate.locations import attach_declarations
from gatekeeper.gate.requirements import required_evidence
from gatekeeper.gate.waivers import default_waivers_path, load_waivers
from gatekeeper.model import Decision, GateInput, Level, Release, Waiver
from gatekeeper.policy.bundle import PolicyBundle, builtin_policy_dir, load_bundle
from gatekeeper.policy.engines.guard import discard_spare, prestart_worker
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S
from gatekeeper.policy.engines.registry import DEFAULT_ENGINE, get_engine


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
    allow_network_builtins: bool = False
    evidence_requirements: Mapping[str, Sequence[str]] = field(
        default_factory=lambda: dict(DEFAULT_EVIDENCE_REQUIREMENTS)
    )
    now: datetime | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = field(default_factory=Path.cwd)
    # Given the input's UTF-8, returns its digest (sha256:<hex>) and may prepare more: the
    # CLI passes the ledger's compress_ahead when the decision will be recorded. Runs on a
    # thread while the engine evaluates. None: the digest only.
    prepare_input: Callable[[bytes], str] | None = None


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
    waivers = load_gate_waivers(
        request.waivers_file, cwd=request.cwd, max_days=request.max_waiver_days, now=now
    )
    evidence = load_evidence(request.evidence, kind=request.kind, validate=request.validate)
    gate_input = build_gate_input(evidence, release=release, now=now, env=request.env)
    input_json = gate_input.to_json()
    ingest_ms = (time.perf_counter() - started) * 1000
    # The input's digest (and, to be recorded, its compressed blob) on a thread: hashing and
    # zlib release the GIL, and this process only waits while the engine evaluates.
    digest = InputDigest(input_json, request.prepare_input)

    get_engine(request.engine)  # an unknown engine is a usage error before any bundle error
    bundle = load_gate_bundle(request.policies, request.data)
    decision = decide(
        input_json,
        bundle,
        waivers,
        DecideOptions(
            engine=request.engine,
            namespaces=request.namespaces,
            fail_on=request.fail_on,
            timeout=request.timeout,
            now=now,
            allow_network_builtins=request.allow_network_builtins,
            required_evidence=required_evidence(release.environment, request.evidence_requirements),
        ),
        release=release,
        inputs=evidence.refs,
        ingest_ms=ingest_ms,
        started=started,
        present_evidence=gate_input.evidence_kinds,
        input_digest=digest.result,
    )
    decision = attach_declarations(
        decision,
        cwd=request.cwd,
        release_file=Path(request.release_file) if request.release_file else None,
    )
    return GateResult(
        decision=decision, gate_input=gate_input, input_json=input_json, bundle=bundle
    )


class InputDigest:
    """``sha256:<hex>`` of the input text's UTF-8, taken on a thread (by ``prepare`` when
    given, which may also compress the bytes for the ledger). :meth:`result` waits for it;
    if the thread failed, the digest is taken again here (the ledger then compresses when it
    stores the blob), so nothing done there can change the decision."""

    def __init__(self, text: str, prepare: Callable[[bytes], str] | None) -> None:
        self._text = text
        self._prepare = prepare
        self._digest: str | None = None
        self._thread = threading.Thread(target=self._run, name="input-digest", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            data = self._text.encode("utf-8")
            if self._prepare is not None:
                self._digest = self._prepare(data)
            else:
                self._digest = "sha256:" + hashlib.sha256(data).hexdigest()
        except Exception:  # noqa: S110 - result() takes the digest itself (no traceback)
            pass

    def result(self) -> str:
        self._thread.join()
        return self._digest or sha256_text(self._text)


def release_gate_input(release: Release, *, now: datetime, env: Mapping[str, str]) -> GateInput:
    """The gate input of a release judged on its metadata alone (no evidence files): what the
    deployer's deploy-time policies see."""
    return build_gate_input(load_evidence(()), release=release, now=now, env=env)


def load_gate_bundle(policies: Sequence[str], data: Sequence[str]) -> PolicyBundle:
    """The bundle a gate judges with: ``policies`` (paths), or the built-in library."""
    return load_bundle(policies or (str(builtin_policy_dir()),), data_paths=data)


def load_gate_waivers(
    waivers_file: str | Path | None, *, cwd: Path, max_days: int, now: datetime
) -> tuple[Waiver, ...]:
    """The waivers a gate applies: ``waivers_file``, else ``.gatekeeper/waivers.yaml`` under
    ``cwd`` when it exists, else none."""
    path = Path(waivers_file) if waivers_file else default_waivers_path(cwd)
    return load_waivers(path, max_days=max_days, now=now) if path else ()
