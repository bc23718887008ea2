"""Evaluate a bundle's rules against a gate input: conftest rule conventions, fail closed.

Rules named ``deny``/``violation`` (optionally ``_suffix``) fail, ``warn`` rules warn. A rule's
value is a set or array whose items are strings or objects with ``msg`` plus fields
(``subject``, ``evidence``, ``severity``, ``remediation``; any other field lands in evidence),
or a single string, or a boolean. ``exception`` rules exempt rules by name (the name with its
``deny_``/``violation_``/``warn_`` prefix removed), as in conftest.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gatekeeper.errors import PolicyError
from gatekeeper.model import Level, PolicyInfo, RuleLocation, RuleResult, Severity, Violation
from gatekeeper.model.base import checked_builder
from gatekeeper.policy import conventions
from gatekeeper.policy.bundle import PolicyBundle, RegoModule, RuleHead
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S, Engine
from gatekeeper.policy.metadata import merge_policy_info

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KNOWN_FIELDS = {"msg", "subject", "evidence", "severity", "remediation"}


def rule_level(name: str) -> Level | None:
    """The level of a gate rule by its name (conftest's convention, policy/conventions.py),
    or None when the rule is not a gate rule."""
    level = conventions.rule_level(name)
    if level is None:
        return None
    return Level.DENY if level == "deny" else Level.WARN


def exception_name(rule: str) -> str:
    """The name an ``exception`` rule uses for ``rule`` (conftest: prefix removed, "" for a
    bare deny/violation/warn)."""
    return conventions.exception_rule_name(rule)


def data_ref(package: str, rule: str | None = None) -> str:
    parts = [*package.split("."), *([rule] if rule else [])]
    ref = "data"
    for part in parts:
        ref += f".{part}" if _IDENTIFIER.match(part) else f'["{part}"]'
    return ref


@dataclass(frozen=True)
class GateRule:
    """One deny/violation/warn rule to evaluate, with what METADATA says about it."""

    package: str
    name: str
    level: Level
    info: PolicyInfo
    location: RuleLocation

    @property
    def query(self) -> str:
        return data_ref(self.package, self.name)


@dataclass(frozen=True)
class Evaluation:
    violations: tuple[Violation, ...]
    rules: tuple[RuleResult, ...]
    exceptions: int
    elapsed_ms: float


def select_rules(bundle: PolicyBundle, namespaces: Sequence[str] = ()) -> tuple[GateRule, ...]:
    """Every gate rule of the selected packages. Unmatched namespace patterns are an error."""
    modules = [m for m in bundle.modules if not m.is_test]
    packages = sorted({m.package for m in modules})
    if namespaces:
        # The -n glob dialect of `check` too (Go path.Match); a pattern matching nothing fails.
        selected = set(conventions.match_namespaces(packages, namespaces))
    else:
        selected = set(packages)

    package_info: dict[str, PolicyInfo] = {}
    for module in modules:
        if module.package in selected and module.metadata is not None:
            package_info.setdefault(module.package, module.metadata)

    seen: set[tuple[str, str]] = set()
    rules: list[GateRule] = []
    for module in modules:
        if module.package not in selected:
            continue
        for head in module.rules:
            level = rule_level(head.name)
            if level is None or (module.package, head.name) in seen:
                continue
            seen.add((module.package, head.name))
            rules.append(_gate_rule(module, head, level, package_info.get(module.package)))
    if not rules:
        scope = f" in namespaces {', '.join(namespaces)}" if namespaces else ""
        raise PolicyError(f"no deny, violation or warn rules found{scope}")
    return tuple(rules)


def _gate_rule(
    module: RegoModule, head: RuleHead, level: Level, package_info: PolicyInfo | None
) -> GateRule:
    info = merge_policy_info(package_info, head.metadata, fallback=module.package)
    return GateRule(
        package=module.package,
        name=head.name,
        level=level,
        info=info,
        location=RuleLocation(file=module.path, line=head.line),
    )


def evaluate_rules(
    bundle: PolicyBundle,
    engine: Engine,
    rules: Sequence[GateRule],
    input_json: str,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    present_evidence: Sequence[str] | None = None,
) -> Evaluation:
    """Evaluate ``rules``. With ``present_evidence`` (the evidence kinds given), a rule whose
    METADATA requires an absent kind and that found nothing is recorded as not assessed."""
    packages = sorted({r.package for r in rules})
    exception_queries = {p: data_ref(p, "exception") for p in packages}
    queries = tuple(r.query for r in rules) + tuple(exception_queries.values())
    started = time.perf_counter()
    result = engine.evaluate(bundle, input_json, queries, timeout=timeout)
    elapsed_ms = (time.perf_counter() - started) * 1000

    exempted: dict[str, set[str]] = {
        package: conventions.exempted_rule_names(result.values.get(query), query)
        for package, query in exception_queries.items()
    }
    violations: list[Violation] = []
    rule_results: list[RuleResult] = []
    exceptions = 0
    for rule in rules:
        items = _result_items(result.values.get(rule.query), rule)
        is_exempt = exception_name(rule.name) in exempted[rule.package]
        if is_exempt:
            exceptions += max(len(items), 1)
        else:
            violations.extend(items)
        missing = (
            tuple(k for k in rule.info.requires if k not in present_evidence)
            if present_evidence is not None
            else ()
        )
        rule_results.append(
            RuleResult(
                policy=rule.info.id,
                rule=rule.name,
                package=rule.package,
                level=rule.level,
                title=rule.info.title,
                controls=rule.info.controls,
                violations=0 if is_exempt else len(items),
                exempted=is_exempt,
                location=rule.location,
                assessed=not (missing and not items),
                missing_evidence=missing if not items else (),
            )
        )
    return Evaluation(
        violations=tuple(violations),
        rules=tuple(rule_results),
        exceptions=exceptions,
        elapsed_ms=elapsed_ms,
    )


def _result_items(value: Any, rule: GateRule) -> list[Violation]:
    """Turn one rule's value into violations; anything unexpected is a policy error."""
    if value is None or value is False:
        return []
    base = _rule_fields(rule)
    if value is True:
        return [_violation(rule, {"msg": f"{rule.name} is true"}, base)]
    if isinstance(value, str):
        return [_violation(rule, {"msg": value}, base)]
    if isinstance(value, dict):
        return [_violation(rule, value, base)]
    if isinstance(value, list):
        return [
            _violation(rule, item if isinstance(item, dict) else {"msg": item}, base)
            for item in value
        ]
    raise PolicyError(
        f"rule {rule.query} returned {type(value).__name__}; expected a set of messages",
        path=rule.location.file,
        where=str(rule.location.line),
    )


# Violations are built unvalidated (checked_builder): a failing L release has thousands. The
# rule's own fields come validated once per rule (_rule_fields), the item's are checked below.
_checked_violation = checked_builder(Violation)


def _rule_fields(rule: GateRule) -> dict[str, Any]:
    """The fields every violation of ``rule`` shares, as validation makes them."""
    return Violation(
        policy=rule.info.id,
        rule=rule.name,
        package=rule.package,
        level=rule.level,
        severity=rule.info.severity,
        title=rule.info.title,
        message="-",
        remediation=rule.info.remediation,
        controls=rule.info.controls,
        location=rule.location,
    ).__dict__


def _violation(rule: GateRule, item: dict[str, Any], base: dict[str, Any]) -> Violation:
    message = item.get("msg")
    if not isinstance(message, str) or not message:
        raise PolicyError(
            f"rule {rule.query} returned an item without a string 'msg': {_short(item)}",
            path=rule.location.file,
            where=str(rule.location.line),
        )
    evidence = item.get("evidence")
    evidence_map: dict[str, Any] = (
        dict(evidence)
        if isinstance(evidence, dict)
        else ({} if evidence is None else {"value": evidence})
    )
    for key, extra in item.items():
        if key not in _KNOWN_FIELDS:
            evidence_map.setdefault(key, extra)
    subject = item.get("subject")
    severity = Severity.parse(item["severity"]) if "severity" in item else base["severity"]
    remediation = item.get("remediation")
    values = {
        "policy": base["policy"],
        "rule": base["rule"],
        "package": base["package"],
        "level": base["level"],
        "severity": severity,
        "title": base["title"],
        "message": message,
        "subject": None if subject is None else str(subject),
        "evidence": evidence_map,
        "remediation": str(remediation) if remediation else base["remediation"],
        "controls": base["controls"],
        "location": base["location"],
        "declared_in": None,
    }
    if not all(type(key) is str for key in evidence_map):  # JSON keys are; else validate
        return Violation.model_validate(values)
    return _checked_violation(values)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
