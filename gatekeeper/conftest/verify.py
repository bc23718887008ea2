"""``conftest verify``: the policies' ``test_`` rules, counted and reported as conftest does.

Each test is one conftest result: a success, or a failure whose message is the test's name,
under the test's file and package. ``parse_config``, ``parse_config_file`` and
``parse_combined_config_files`` are available to tests on the opa engine. Unlike conftest, a
``-n`` pattern that matches no package is an error (a verify that runs no test never passes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gatekeeper.conftest.check import CheckReport, CheckResult, Message, conftest_policy_files
from gatekeeper.errors import PolicyError
from gatekeeper.policy.bundle import load_bundle
from gatekeeper.policy.conventions import select_namespaces
from gatekeeper.policy.engines.base import discover_tests
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S, TestCaseResult
from gatekeeper.policy.engines.registry import get_engine


@dataclass(frozen=True)
class VerifyRequest:
    policies: tuple[str, ...]
    data: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()  # empty: every package
    engine: str = "opa"
    trace: bool = False
    timeout: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class VerifyResult:
    cases: tuple[TestCaseResult, ...]
    engine: str

    @property
    def failures(self) -> int:
        return sum(1 for c in self.cases if not c.passed)

    def as_check_report(self) -> CheckReport:
        """conftest's verify output is its test output: one result per test."""
        results = []
        for case in self.cases:
            query = f"data.{case.package}.{case.name}"
            failures = () if case.passed else (Message(msg=query, metadata={"query": query}),)
            results.append(
                CheckResult(
                    filename=case.file,
                    namespace=case.package,
                    successes=1 if case.passed else 0,
                    failures=failures,
                )
            )
        return CheckReport(results=tuple(results), namespaces=(), engine=self.engine)


def _base_dirs(policies: tuple[str, ...]) -> list[str]:
    dirs: list[str] = []
    for given in policies:
        path = Path(given)
        base = path if path.is_dir() else path.parent
        dirs.append(str(base))
        if path.is_dir():
            dirs.extend(str(d) for d in sorted(path.rglob("*")) if d.is_dir())
    return dirs


# conftest's parse_config* builtins, registered by the opa worker (it does not import conftest).
BUILTINS_HOOK = "gatekeeper.conftest.builtins:register_builtins"


def run_verify(request: VerifyRequest) -> VerifyResult:
    bundle = load_bundle(conftest_policy_files(request.policies), data_paths=list(request.data))
    tests = discover_tests(bundle)
    if request.namespaces:
        packages = sorted({t["package"] for t in tests} | {m.package for m in bundle.modules})
        selected = set(select_namespaces(packages, request.namespaces, all_namespaces=False))
        tests = [t for t in tests if t["package"] in selected]
    if not tests:
        raise PolicyError(
            f"no test_ rules in {', '.join(request.policies)} (conftest would pass with 0 tests)"
        )
    engine = get_engine(request.engine)
    builtins = (
        {"hook": BUILTINS_HOOK, "base_dirs": _base_dirs(request.policies)}
        if request.engine == "opa"
        else None
    )
    if request.trace:
        run = engine.run_selected_tests(bundle, tests, trace=True, builtins=builtins)  # type: ignore[attr-defined]
    else:
        run = engine.run_selected_tests(bundle, tests, builtins=builtins)  # type: ignore[attr-defined]
    return VerifyResult(cases=run.cases, engine=request.engine)


def render_report(result: VerifyResult, mode: str) -> str:
    """OPA's pretty test report, as ``conftest verify --report`` prints it (``fails``: trace
    of failing tests; ``notes``: their ``trace()`` notes; ``full``: the whole trace)."""
    lines: list[str] = []
    failed = [c for c in result.cases if not c.passed]
    if failed:
        lines += ["FAILURES", "-" * 80]
        for case in failed:
            lines.append(f"data.{case.package}.{case.name}: FAIL ({case.elapsed_ms:.3f}ms)")
            lines.append("")
            for event in case.trace:
                if (
                    mode == "full"
                    or (mode == "notes" and event.lstrip("| ").startswith("Note"))
                    or (mode == "fails" and event.lstrip("| ").startswith("Fail"))
                ):
                    lines.append(f"  {event}")
            lines.append("")
    lines += ["SUMMARY", "-" * 80]
    for case in result.cases:
        for printed in case.prints:
            lines.append(printed)
        verdict = "PASS" if case.passed else "FAIL"
        lines.append(f"data.{case.package}.{case.name}: {verdict} ({case.elapsed_ms:.3f}ms)")
    lines.append("-" * 80)
    passed = len(result.cases) - len(failed)
    if passed:
        lines.append(f"PASS: {passed}/{len(result.cases)}")
    if failed:
        lines.append(f"FAIL: {len(failed)}/{len(result.cases)}")
    return "\n".join(lines) + "\n"
