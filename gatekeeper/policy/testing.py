"""``gatekeeper policy test``: run a bundle's ``test_`` rules, optionally with line coverage.

Coverage comes from regorus, the only embedded engine that records it. When the tests run on
another engine (regopy), they run there for pass/fail, and the *same selected tests* run a
second time on regorus to measure coverage; the report says so (``coverage.engine`` and
``coverage.note``), and names tests whose outcome differs between the two engines, because
coverage from a run where tests fail is not the coverage of the passing suite.

Coverage counts policy modules only: ``_test.rego`` files are always fully "covered" by their
own run and would inflate the total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gatekeeper.errors import ConfigError
from gatekeeper.policy.bundle import PolicyBundle
from gatekeeper.policy.engines.base import GuardedEngine, discover_tests
from gatekeeper.policy.engines.interface import (
    DEFAULT_TIMEOUT_S,
    Engine,
    FileCoverage,
    TestCaseResult,
    TestRunResult,
)
from gatekeeper.policy.engines.registry import get_engine

COVERAGE_ENGINE = "regorus"
TEST_REPORT_SCHEMA = "gatekeeper.policy-test/v1"


@dataclass(frozen=True)
class CoverageReport:
    engine: str  # the engine that measured it
    files: tuple[FileCoverage, ...]  # policy modules only, sorted by file
    note: str | None = None  # e.g. "measured with regorus: regopy has no coverage"

    @property
    def covered_lines(self) -> int:
        return sum(len(f.covered) for f in self.files)

    @property
    def total_lines(self) -> int:
        return sum(len(f.covered) + len(f.not_covered) for f in self.files)

    @property
    def percent(self) -> float:
        total = self.total_lines
        return 100.0 if total == 0 else 100.0 * self.covered_lines / total


@dataclass(frozen=True)
class PolicyTestReport:
    __test__ = False  # not a pytest test class
    engine: str
    engine_version: str
    cases: tuple[TestCaseResult, ...]
    coverage: CoverageReport | None = None
    threshold: float | None = None
    run_filter: str | None = None

    @property
    def passed(self) -> int:
        return sum(1 for c in self.cases if c.passed)

    @property
    def failed(self) -> int:
        return len(self.cases) - self.passed

    @property
    def below_threshold(self) -> bool:
        return (
            self.threshold is not None
            and self.coverage is not None
            and round(self.coverage.percent, 2) < self.threshold
        )

    @property
    def ok(self) -> bool:
        """All tests passed, at least one ran, and coverage is not below the threshold."""
        return bool(self.cases) and self.failed == 0 and not self.below_threshold

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schema": TEST_REPORT_SCHEMA,
            "ok": self.ok,
            "engine": {"name": self.engine, "version": self.engine_version},
            "run": self.run_filter,
            "summary": {"total": len(self.cases), "passed": self.passed, "failed": self.failed},
            "cases": [
                {
                    "name": f"{c.package}.{c.name}",
                    "package": c.package,
                    "rule": c.name,
                    "passed": c.passed,
                    "error": c.error,
                    "location": {"file": c.file, "line": c.line},
                    "elapsed_ms": round(c.elapsed_ms, 3),
                }
                for c in self.cases
            ],
            "coverage": None,
        }
        if self.coverage is not None:
            doc["coverage"] = {
                "engine": self.coverage.engine,
                "note": self.coverage.note,
                "percent": round(self.coverage.percent, 2),
                "threshold": self.threshold,
                "below_threshold": self.below_threshold,
                "covered_lines": self.coverage.covered_lines,
                "total_lines": self.coverage.total_lines,
                "files": [
                    {
                        "file": f.file,
                        "percent": round(f.percent, 2),
                        "covered": list(f.covered),
                        "not_covered": list(f.not_covered),
                    }
                    for f in self.coverage.files
                ],
            }
        return doc


def _selected(bundle: PolicyBundle, run: str | None) -> list[dict[str, Any]]:
    tests = discover_tests(bundle)
    if run is None:
        return tests
    try:
        pattern = re.compile(run)
    except re.error as exc:
        raise ConfigError(f"--run: not a valid regular expression: {exc}") from None
    return [t for t in tests if pattern.search(f"{t['package']}.{t['name']}")]


def _run(
    engine: Engine,
    bundle: PolicyBundle,
    tests: list[dict[str, Any]],
    *,
    coverage: bool,
    timeout: float,
) -> TestRunResult:
    if isinstance(engine, GuardedEngine):
        return engine.run_selected_tests(bundle, tests, coverage=coverage, timeout=timeout)
    # An engine outside the guarded family runs everything; keep the selected cases.
    wanted = {(t["package"], t["name"]) for t in tests}
    result = engine.run_tests(bundle, coverage=coverage, timeout=timeout)
    return TestRunResult(
        cases=tuple(c for c in result.cases if (c.package, c.name) in wanted),
        coverage=result.coverage,
    )


def _policy_files(
    bundle: PolicyBundle, files: tuple[FileCoverage, ...]
) -> tuple[FileCoverage, ...]:
    policy_paths = {m.path for m in bundle.modules if not m.is_test}
    return tuple(sorted((f for f in files if f.file in policy_paths), key=lambda f: f.file))


def _disagreement(mine: TestRunResult, theirs: TestRunResult, engine: str) -> str | None:
    outcome = {(c.package, c.name): c.passed for c in mine.cases}
    differ = [
        f"{c.package}.{c.name}"
        for c in theirs.cases
        if outcome.get((c.package, c.name)) is not None and outcome[(c.package, c.name)] != c.passed
    ]
    if not differ:
        return None
    shown = ", ".join(differ[:5]) + (" ..." if len(differ) > 5 else "")
    return f"{len(differ)} test(s) pass on one engine and fail on the other ({engine}): {shown}"


def run_policy_tests(
    bundle: PolicyBundle,
    *,
    engine: str,
    coverage: bool = False,
    threshold: float | None = None,
    run: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> PolicyTestReport:
    """Run the bundle's tests (those whose ``package.rule`` matches ``run``) on ``engine``.

    A compile error raises PolicyError (exit 3); a test that fails or errors is a failed case.
    ``threshold`` implies coverage.
    """
    coverage = coverage or threshold is not None
    if threshold is not None and not 0 <= threshold <= 100:
        raise ConfigError(f"--threshold must be between 0 and 100, got {threshold:g}")
    runner = get_engine(engine)
    tests = _selected(bundle, run)
    if not tests:
        # Nothing to run: still compile, so a broken bundle is exit 3, not "no tests".
        runner.check(bundle, timeout=timeout)
        return PolicyTestReport(
            engine=engine, engine_version=runner.version(), cases=(), run_filter=run
        )
    measures = bool(getattr(runner, "supports_coverage", False))
    result = _run(runner, bundle, tests, coverage=coverage and measures, timeout=timeout)
    report: CoverageReport | None = None
    if coverage and measures:
        report = CoverageReport(engine=engine, files=_policy_files(bundle, result.coverage))
    elif coverage:
        measured = _run(get_engine(COVERAGE_ENGINE), bundle, tests, coverage=True, timeout=timeout)
        note = (
            f"coverage measured with {COVERAGE_ENGINE} by running the same tests there: "
            f"{engine} records no coverage"
        )
        differ = _disagreement(result, measured, f"{engine} vs {COVERAGE_ENGINE}")
        report = CoverageReport(
            engine=COVERAGE_ENGINE,
            files=_policy_files(bundle, measured.coverage),
            note=f"{note}; {differ}" if differ else note,
        )
    return PolicyTestReport(
        engine=engine,
        engine_version=runner.version(),
        cases=result.cases,
        coverage=report,
        threshold=threshold,
        run_filter=run,
    )


# --------------------------------------------------------------------------------------------
# Text output
# --------------------------------------------------------------------------------------------


def line_ranges(lines: tuple[int, ...]) -> str:
    """``(3, 4, 5, 9)`` -> ``3-5, 9``."""
    parts: list[str] = []
    start = prev = None
    for n in sorted(lines):
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            parts.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = n
    if start is not None:
        parts.append(f"{start}-{prev}" if prev != start else str(start))
    return ", ".join(parts)


def render_text(report: PolicyTestReport, *, verbose: bool = False) -> str:
    lines: list[str] = []
    for case in report.cases:
        where = f"{case.file}:{case.line}"
        name = f"{case.package}.{case.name}"
        if not case.passed:
            lines.append(f"FAIL {where}: {name}: {case.error or 'failed'}")
        elif verbose:
            lines.append(f"PASS {where}: {name} ({case.elapsed_ms:.1f} ms)")
    if report.coverage is not None:
        cov = report.coverage
        if lines:
            lines.append("")
        lines.append(f"Coverage (measured with {cov.engine}):")
        if cov.note:
            lines.append(f"  note: {cov.note}")
        width = max([len("total"), *(len(f.file) for f in cov.files)])
        lines.append(f"  {'file'.ljust(width)}  {'lines':>5}  {'covered':>7}  {'%':>6}")
        for f in cov.files:
            total = len(f.covered) + len(f.not_covered)
            lines.append(
                f"  {f.file.ljust(width)}  {total:>5}  {len(f.covered):>7}  {f.percent:>5.1f}%"
            )
        lines.append(
            f"  {'total'.ljust(width)}  {cov.total_lines:>5}  {cov.covered_lines:>7}  "
            f"{cov.percent:>5.1f}%"
        )
        for f in cov.files:
            if f.not_covered:
                lines.append(f"  not covered: {f.file}: lines {line_ranges(f.not_covered)}")
    if lines:
        lines.append("")
    matching = f" matching {report.run_filter!r}" if report.run_filter is not None else ""
    engine = f"on {report.engine} {report.engine_version}"
    if report.cases:
        which = f" (tests{matching})" if matching else ""
        lines.append(f"{report.passed} passed, {report.failed} failed{which} {engine}")
    else:
        lines.append(f"no tests ran: no test_ rules found{matching} ({engine})")
    if report.coverage is not None:
        verdict = f"coverage {report.coverage.percent:.1f}%"
        if report.threshold is not None:
            relation = "below" if report.below_threshold else "meets"
            verdict += f" {relation} the threshold of {report.threshold:g}%"
        lines.append(verdict)
    lines.append("PASS" if report.ok else "FAIL")
    return "\n".join(lines)
