"""``gatekeeper policy lint``: a bundle compiles, and every gate rule is described for auditors.

Checks, each problem reported as ``file:line: message``:

- every module compiles on each engine asked for (a compile error is a PolicyError, exit 3);
- every deny/violation/warn rule has METADATA (package- or rule-scoped, merged field by field
  as the gate merges them) with ``custom.id``, ``title``, ``custom.severity`` and at least one
  control in ``custom.controls``;
- every control id is in the control catalogue (a typo gets the closest id as a suggestion);
- no two METADATA blocks declare the same ``custom.id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gatekeeper.model.gate_input import Severity
from gatekeeper.policy.bundle import PolicyBundle, RegoModule
from gatekeeper.policy.controls import Catalogue
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S, Engine
from gatekeeper.policy.explain import RuleMeta, gate_rules
from gatekeeper.policy.metadata import Annotation


@dataclass(frozen=True)
class LintProblem:
    file: str
    line: int
    code: str  # stable short name, e.g. ``unknown-control``
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class LintResult:
    problems: tuple[LintProblem, ...]
    rules: int  # gate rules checked
    modules: int
    engines: tuple[str, ...]  # engines the bundle compiled on

    @property
    def ok(self) -> bool:
        return not self.problems


def _missing_fields(rule: RuleMeta) -> list[str]:
    info = rule.info
    explicit_id = any(note.id for note in rule.notes)
    missing = []
    if not explicit_id:
        missing.append("custom.id")
    if not info.title:
        missing.append("title")
    if info.severity is Severity.UNKNOWN:
        missing.append("custom.severity")
    if not info.controls:
        missing.append("custom.controls")
    return missing


def _control_line(note: Annotation, source: str, control: str) -> int:
    """The line of ``control`` inside the METADATA block (the block's line if not found)."""
    lines = source.split("\n")
    number = note.line  # 1-based line of `# METADATA`
    while number < len(lines) and lines[number].startswith("#"):
        if control in lines[number]:
            return number + 1
        number += 1
    return note.line


def _check_rule_metadata(rules: Sequence[RuleMeta]) -> list[LintProblem]:
    problems = []
    for rule in rules:
        where = rule.module.path
        if not rule.notes:
            problems.append(
                LintProblem(
                    where,
                    rule.line,
                    "missing-metadata",
                    f"rule {rule.name} has no METADATA: add a `# METADATA` block above the "
                    "package (or the rule) with title, custom.id, custom.severity and "
                    "custom.controls",
                )
            )
            continue
        missing = _missing_fields(rule)
        if missing:
            problems.append(
                LintProblem(
                    where,
                    rule.line,
                    "incomplete-metadata",
                    f"rule {rule.name}: METADATA has no {', '.join(missing)}",
                )
            )
    return problems


def _annotations(rules: Sequence[RuleMeta]) -> list[tuple[RegoModule, Annotation]]:
    """Each METADATA block that applies to a gate rule, once, with the module holding it."""
    seen: set[tuple[str, int]] = set()
    found = []
    for rule in rules:
        for note in rule.notes:
            module = rule.written_in(note)
            if (module.path, note.line) not in seen:
                seen.add((module.path, note.line))
                found.append((module, note))
    return found


def _check_controls(rules: Sequence[RuleMeta], catalogue: Catalogue) -> list[LintProblem]:
    problems = []
    for module, note in _annotations(rules):
        for control in note.controls:
            if control in catalogue:
                continue
            close = catalogue.closest(control)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(
                LintProblem(
                    module.path,
                    _control_line(note, module.source, control),
                    "unknown-control",
                    f"unknown control {control!r} (not in the control catalogue){hint}",
                )
            )
    return problems


def _check_unique_ids(rules: Sequence[RuleMeta]) -> list[LintProblem]:
    first: dict[str, tuple[str, int]] = {}
    problems = []
    for module, note in _annotations(rules):
        if not note.id:
            continue
        here = (module.path, note.line)
        if note.id in first and first[note.id] != here:
            there = first[note.id]
            problems.append(
                LintProblem(
                    here[0],
                    here[1],
                    "duplicate-id",
                    f"policy id {note.id} is already declared at {there[0]}:{there[1]}; "
                    "ids must be unique across the bundle (waivers and reports key on them)",
                )
            )
        first.setdefault(note.id, here)
    return problems


def lint_bundle(
    bundle: PolicyBundle,
    *,
    catalogue: Catalogue,
    engines: Sequence[Engine] = (),
    timeout: float = DEFAULT_TIMEOUT_S,
) -> LintResult:
    """Compile the bundle on each engine, then check METADATA. Compile errors raise PolicyError
    (exit 3) naming file and line; everything else is a problem in the result."""
    for engine in engines:
        engine.check(bundle, timeout=timeout)
    rules = gate_rules(bundle)
    problems = [
        *_check_rule_metadata(rules),
        *_check_controls(rules, catalogue),
        *_check_unique_ids(rules),
    ]
    problems.sort(key=lambda p: (p.file, p.line, p.code))
    return LintResult(
        problems=tuple(problems),
        rules=len(rules),
        modules=sum(1 for m in bundle.modules if not m.is_test),
        engines=tuple(e.name for e in engines),
    )
