"""The engine axis: Rego engines behind one interface, registered by name.

Engines are untrusted in the fail-closed sense: every call into one runs guarded (in a worker
process, bounded in time, catching everything including BaseException from native panics), and
any misbehaviour becomes an :class:`~gatekeeper.errors.EngineError` (exit 3), never a result.
Compile problems become :class:`~gatekeeper.errors.PolicyError` naming file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from gatekeeper.policy.bundle import PolicyBundle

# A CI step should not wait minutes for a hung engine; gatekeeper.yaml/--timeout raise it.
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class EvalResult:
    """Values of the queries that were defined. A query absent from ``values`` was undefined."""

    values: dict[str, Any]
    prints: tuple[str, ...] = ()
    elapsed_ms: float = 0.0
    trace: tuple[str, ...] = ()  # evaluation trace lines, when asked for (opa engine only)


@dataclass(frozen=True)
class DocumentBatch:
    """Many input documents evaluated in one engine session (``check`` on a YAML stream).

    ``inputs`` are compact JSON texts (no raw line breaks: ``json.dumps`` never writes one);
    document ``i`` runs with the bundle's data whose top-level keys are replaced by
    ``overrides[data_index[i]]`` (conftest's ``data.conftest.file`` differs per file).
    """

    inputs: tuple[str, ...]
    data_index: tuple[int, ...]
    overrides: tuple[dict[str, Any], ...] = ({},)


@dataclass(frozen=True)
class TestCaseResult:
    __test__ = False  # not a pytest test class
    package: str
    name: str
    passed: bool
    file: str
    line: int
    error: str | None = None
    elapsed_ms: float = 0.0
    prints: tuple[str, ...] = ()  # print() output of the test (opa engine)
    trace: tuple[str, ...] = ()  # evaluation trace lines, when asked for (opa engine)


@dataclass(frozen=True)
class FileCoverage:
    file: str
    covered: tuple[int, ...]
    not_covered: tuple[int, ...]

    @property
    def percent(self) -> float:
        total = len(self.covered) + len(self.not_covered)
        return 100.0 if total == 0 else 100.0 * len(self.covered) / total


@dataclass(frozen=True)
class TestRunResult:
    __test__ = False  # not a pytest test class
    cases: tuple[TestCaseResult, ...]
    coverage: tuple[FileCoverage, ...] = field(default=())


class Engine(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]

    def version(self) -> str:
        """Version of the engine library, e.g. ``1.5.2`` (the name is ``name``)."""
        ...

    def supports_builtin(self, name: str) -> bool:
        """Whether the engine implements the builtin ``name`` (e.g. ``crypto.sha256``)."""
        ...

    def check(self, bundle: PolicyBundle, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Compile every module; raise PolicyError naming file and line on the first problem."""
        ...

    def evaluate(
        self,
        bundle: PolicyBundle,
        input_json: str,
        queries: tuple[str, ...],
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        trace: bool = False,
    ) -> EvalResult:
        """Evaluate each query (e.g. ``data.pkg.deny``) against the bundle and the input;
        ``trace`` records OPA's evaluation trace (engines that cannot raise EngineError)."""
        ...

    def run_tests(
        self,
        bundle: PolicyBundle,
        *,
        coverage: bool = False,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> TestRunResult:
        """Run every ``test_`` rule of the bundle (the ``opa test`` equivalent)."""
        ...


@runtime_checkable
class BatchEngine(Protocol):
    """An engine that evaluates many documents in one guarded session (optional)."""

    def evaluate_documents(
        self,
        bundle: PolicyBundle,
        batch: DocumentBatch,
        queries: tuple[str, ...],
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        sessions: int = 1,
    ) -> list[EvalResult]:
        """One result per document of ``batch``, in order, evaluated in ``sessions`` guarded
        sessions at once; ``timeout`` bounds each session."""
        ...
