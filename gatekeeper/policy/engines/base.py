"""What both guarded engines share on the parent side: requests to the worker and results.

An engine module subclasses :class:`GuardedEngine` with its name, description and version,
and provides a ``handle(request, input_text)`` function that the worker calls in the child.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, ClassVar

from gatekeeper.errors import EngineError
from gatekeeper.policy.bundle import PolicyBundle
from gatekeeper.policy.engines.guard import (
    bundle_payload,
    check_queries,
    query_for,
    run_worker,
)
from gatekeeper.policy.engines.interface import (
    DEFAULT_TIMEOUT_S,
    EvalResult,
    FileCoverage,
    TestCaseResult,
    TestRunResult,
)


def distribution_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        raise EngineError(f"the {name} package is not installed") from None


def discover_tests(bundle: PolicyBundle) -> list[dict[str, Any]]:
    """Every ``test_*`` rule of every module (OPA convention), once per package and name."""
    seen: set[tuple[str, str]] = set()
    tests: list[dict[str, Any]] = []
    for module in bundle.modules:
        for rule in module.rules:
            key = (module.package, rule.name)
            if rule.name.startswith("test_") and key not in seen:
                seen.add(key)
                tests.append(
                    {
                        "package": module.package,
                        "name": rule.name,
                        "file": module.path,
                        "line": rule.line,
                        "query": query_for(module.package, rule.name),
                    }
                )
    return tests


def _as_float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


class GuardedEngine:
    """Runs every operation in the worker child under a wall-clock timeout."""

    name: ClassVar[str]
    description: ClassVar[str]
    distribution: ClassVar[str]
    supports_coverage: ClassVar[bool] = False

    def version(self) -> str:
        return distribution_version(self.distribution)

    def check(self, bundle: PolicyBundle, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        run_worker(self.name, "check", bundle_payload(bundle), timeout=timeout)

    def evaluate(
        self,
        bundle: PolicyBundle,
        input_json: str,
        queries: tuple[str, ...],
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> EvalResult:
        check_queries(queries)
        request = {**bundle_payload(bundle, include_tests=False), "queries": list(queries)}
        reply = run_worker(self.name, "evaluate", request, input_json=input_json, timeout=timeout)
        values = reply.result.get("values")
        prints = reply.result.get("prints", [])
        if not isinstance(values, dict) or not set(values) <= set(queries):
            raise EngineError(f"{self.name} evaluate returned an unusable result")
        return EvalResult(
            values=values,
            prints=tuple(str(p) for p in prints) if isinstance(prints, list) else (),
            elapsed_ms=_as_float(reply.result.get("elapsed_ms")),
        )

    def run_tests(
        self,
        bundle: PolicyBundle,
        *,
        coverage: bool = False,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> TestRunResult:
        return self.run_selected_tests(
            bundle, discover_tests(bundle), coverage=coverage, timeout=timeout
        )

    def run_selected_tests(
        self,
        bundle: PolicyBundle,
        tests: list[dict[str, Any]],
        *,
        coverage: bool = False,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> TestRunResult:
        """Run some of the tests ``discover_tests`` found (``policy test --run REGEX``), so
        coverage reflects only the tests that ran."""
        if coverage and not self.supports_coverage:
            raise EngineError(f"coverage needs the regorus engine, not {self.name}")
        if not tests:
            return TestRunResult(cases=())
        request = {**bundle_payload(bundle), "tests": tests, "coverage": coverage}
        reply = run_worker(self.name, "run_tests", request, timeout=timeout)
        outcomes = reply.result.get("cases")
        if not isinstance(outcomes, list) or len(outcomes) != len(tests):
            raise EngineError(f"{self.name} run_tests returned an unusable result")
        cases = []
        for test, outcome in zip(tests, outcomes, strict=True):
            if not isinstance(outcome, dict):
                raise EngineError(f"{self.name} run_tests returned an unusable result")
            error = outcome.get("error")
            cases.append(
                TestCaseResult(
                    package=test["package"],
                    name=test["name"],
                    passed=outcome.get("passed") is True,
                    file=test["file"],
                    line=test["line"],
                    error=str(error) if error else None,
                    elapsed_ms=_as_float(outcome.get("elapsed_ms")),
                )
            )
        files = reply.result.get("coverage") or []
        report = tuple(
            FileCoverage(
                file=str(f["file"]),
                covered=tuple(int(n) for n in f.get("covered", [])),
                not_covered=tuple(int(n) for n in f.get("not_covered", [])),
            )
            for f in files
            if isinstance(f, dict) and "file" in f
        )
        return TestRunResult(cases=tuple(cases), coverage=report)


def describe_value(value: Any) -> str:
    """How a test's non-true value reads in a failure message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
