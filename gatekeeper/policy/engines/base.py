"""What both guarded engines share on the parent side: requests to the worker and results.

An engine module subclasses :class:`GuardedEngine` with its name, description and version,
and provides a ``handle(request, input_text)`` function that the worker calls in the child.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

from gatekeeper.errors import EngineError
from gatekeeper.policy.builtins import builtin_names
from gatekeeper.policy.bundle import PolicyBundle
from gatekeeper.policy.conventions import is_test_rule
from gatekeeper.policy.engines.guard import (
    bundle_payload,
    check_queries,
    evaluation_workers,
    forked_evaluation,
    query_for,
    run_each,
    run_worker,
    run_workers,
)
from gatekeeper.policy.engines.interface import (
    DEFAULT_TIMEOUT_S,
    DocumentBatch,
    EvalResult,
    FileCoverage,
    TestCaseResult,
    TestRunResult,
)
from gatekeeper.policy.engines.tasks import new_claim_file


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
            if is_test_rule(rule.name) and key not in seen:
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


# ``data.<package>.<rule>``: the package part, so one package's rules share a worker (a deny
# and a warn rule built on the same helper rule then compute it once).
_RULE_OF_PACKAGE_RE = re.compile(r"^(?P<package>.+)\.[A-Za-z_][A-Za-z0-9_]*$")
# A crude cost hint: policies that read the collections growing with the release (components,
# vulnerabilities, findings) are the expensive ones. It only orders the groups (most expensive
# first, so no worker is left with a big one at the end); claiming balances the rest, and
# results never depend on it.
_INPUT_REF_RE = re.compile(r"\binput\.(?:components|vulnerabilities|findings)\b")


def query_groups(bundle: PolicyBundle, queries: tuple[str, ...]) -> list[list[str]]:
    """The queries grouped by package, groups ordered by estimated cost (highest first)."""
    groups: dict[str, list[str]] = {}
    for query in queries:
        match = _RULE_OF_PACKAGE_RE.match(query)
        groups.setdefault(match.group("package") if match else query, []).append(query)
    weight: dict[str, int] = {}
    for module in bundle.modules:
        if not module.is_test:
            ref = query_for(module.package)
            weight[ref] = weight.get(ref, 0) + len(_INPUT_REF_RE.findall(module.source))
    ordered = sorted(groups, key=lambda ref: -weight.get(ref, 0))  # stable: ties keep order
    return [groups[ref] for ref in ordered]


class GuardedEngine:
    """Runs every operation in the worker child under a wall-clock timeout."""

    name: ClassVar[str]
    description: ClassVar[str]
    distribution: ClassVar[str]
    supports_coverage: ClassVar[bool] = False
    supports_trace: ClassVar[bool] = False
    # Custom builtins (conftest's parse_config ...) in policy tests.
    supports_builtins: ClassVar[bool] = False

    def version(self) -> str:
        return distribution_version(self.distribution)

    def supports_builtin(self, name: str) -> bool:
        # Vendored per engine (engines/builtins/<name>.txt), checked against it by the tests.
        return name in builtin_names(self.name)

    def check(self, bundle: PolicyBundle, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        run_worker(self.name, "check", bundle_payload(bundle), timeout=timeout)

    def evaluate(
        self,
        bundle: PolicyBundle,
        input_json: str,
        queries: tuple[str, ...],
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        trace: bool = False,
    ) -> EvalResult:
        check_queries(queries)
        if trace and not self.supports_trace:
            raise EngineError(f"--trace needs the opa engine, not {self.name}")
        workers = evaluation_workers(self.name)
        groups = query_groups(bundle, queries) if workers > 1 and not trace else []
        if len(groups) > 1:
            return self._evaluate_shared(bundle, input_json, groups, workers, timeout)
        request = {**bundle_payload(bundle, include_tests=False), "queries": list(queries)}
        if trace:
            request["trace"] = True
        reply = run_worker(self.name, "evaluate", request, input_json=input_json, timeout=timeout)
        values = reply.result.get("values")
        prints = reply.result.get("prints", [])
        if not isinstance(values, dict) or not set(values) <= set(queries):
            raise EngineError(f"{self.name} evaluate returned an unusable result")
        traced = reply.result.get("trace", [])
        return EvalResult(
            values=values,
            prints=tuple(str(p) for p in prints) if isinstance(prints, list) else (),
            elapsed_ms=_as_float(reply.result.get("elapsed_ms")),
            trace=tuple(str(t) for t in traced) if isinstance(traced, list) else (),
        )

    def evaluate_documents(
        self,
        bundle: PolicyBundle,
        batch: DocumentBatch,
        queries: tuple[str, ...],
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        sessions: int = 1,
    ) -> list[EvalResult]:
        """Evaluate every document of ``batch`` in ``sessions`` workers at once (each takes a
        contiguous part): in each, the bundle is compiled once and every document set as the
        input in turn. Each worker is guarded as for ``evaluate`` (one wall-clock ``timeout``
        for its whole session); any failure of any worker is an EngineError."""
        check_queries(queries)
        total = len(batch.inputs)
        if total != len(batch.data_index) or not all(
            0 <= i < len(batch.overrides) for i in batch.data_index
        ):
            raise EngineError("internal error: malformed document batch")
        if any("\n" in text for text in batch.inputs):
            raise EngineError("internal error: a batch document is not one line of JSON")
        if not total:
            return []
        size = -(-total // max(1, min(sessions, total)))
        base = {**bundle_payload(bundle, include_tests=False), "queries": list(queries)}
        parts = [
            (
                {
                    **base,
                    "overrides": list(batch.overrides),
                    "documents": list(batch.data_index[start : start + size]),
                },
                "\n".join(batch.inputs[start : start + size]),
            )
            for start in range(0, total, size)
        ]
        replies = run_each(self.name, "evaluate_documents", parts, timeout=timeout)
        unusable = EngineError(f"{self.name} evaluate returned an unusable result")
        allowed = set(queries)
        results: list[EvalResult] = []
        for (request, _), reply in zip(parts, replies, strict=True):
            found = reply.result.get("results")
            if not isinstance(found, list) or len(found) != len(request["documents"]):
                raise unusable
            for item in found:
                values = item.get("values") if isinstance(item, dict) else None
                if not isinstance(values, dict) or not set(values) <= allowed:
                    raise unusable
                prints = item.get("prints", [])
                results.append(
                    EvalResult(
                        values=values,
                        prints=tuple(str(p) for p in prints) if isinstance(prints, list) else (),
                    )
                )
        return results

    def _evaluate_shared(
        self,
        bundle: PolicyBundle,
        input_json: str,
        groups: list[list[str]],
        workers: int,
        timeout: float,
    ) -> EvalResult:
        """Evaluate in ``workers`` children that claim the groups (see ``tasks.py``).

        Fail closed: every group must be answered by exactly one worker, and a worker may only
        answer the queries of the groups it reports; anything else is an EngineError.
        """
        claim_file = new_claim_file()
        try:
            request = {
                **bundle_payload(bundle, include_tests=False),
                "tasks": groups,
                "claim_file": claim_file,
            }
            if forked_evaluation(self.name):
                # One worker loads the input once and forks the others (worker.ForkedHelper).
                request["fork"] = workers - 1
                workers = 1
            replies = run_workers(
                self.name,
                "evaluate",
                request,
                input_json=input_json,
                timeout=timeout,
                count=workers,
            )
        finally:
            Path(claim_file).unlink(missing_ok=True)
        unusable = EngineError(f"{self.name} evaluate returned an unusable result")
        values: dict[str, Any] = {}
        prints: list[str] = []
        answered: set[int] = set()
        for reply in replies:
            part = reply.result.get("values")
            done = reply.result.get("groups")
            if not isinstance(part, dict) or not isinstance(done, list):
                raise unusable
            allowed: set[str] = set()
            for group in done:
                if not isinstance(group, int) or not 0 <= group < len(groups):
                    raise unusable
                if group in answered:
                    raise EngineError(f"{self.name} evaluate answered a query group twice")
                answered.add(group)
                allowed.update(groups[group])
            if not set(part) <= allowed:
                raise unusable
            values.update(part)
            found = reply.result.get("prints", [])
            if isinstance(found, list):
                prints.extend(str(p) for p in found)
        if len(answered) != len(groups):
            raise EngineError(f"{self.name} evaluate left queries unevaluated")
        return EvalResult(
            values=values,
            prints=tuple(prints),
            elapsed_ms=max(_as_float(r.result.get("elapsed_ms")) for r in replies),
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
        trace: bool = False,
        builtins: dict[str, Any] | None = None,
    ) -> TestRunResult:
        """Run some of the tests ``discover_tests`` found (``policy test --run REGEX``), so
        coverage reflects only the tests that ran. ``builtins`` asks for conftest's custom
        builtins (``{"base_dirs": [...]}``, see gatekeeper.conftest.builtins)."""
        if coverage and not self.supports_coverage:
            raise EngineError(f"coverage needs the regorus engine, not {self.name}")
        if trace and not self.supports_trace:
            raise EngineError(f"--trace needs the opa engine, not {self.name}")
        if builtins is not None and not self.supports_builtins:
            raise EngineError(
                f"conftest's parse_config builtins need the opa engine, not {self.name}"
            )
        if not tests:
            return TestRunResult(cases=())
        request = {**bundle_payload(bundle), "tests": tests, "coverage": coverage}
        if trace:
            request["trace"] = True
        if builtins is not None:
            request["builtins"] = builtins
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
                    prints=tuple(str(p) for p in outcome.get("prints") or ()),
                    trace=tuple(str(t) for t in outcome.get("trace") or ()),
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
