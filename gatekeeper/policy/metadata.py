"""OPA ``# METADATA`` annotations: where a policy's identity, severity and controls come from.

A block starts with a ``# METADATA`` comment line and continues while lines start with ``#``;
the text after each ``#`` is YAML. Like OPA, a block applies to what follows it directly:
to the package when above ``package`` (scope ``package``), else to the rule below it (scope
``rule``). ``scope: document`` applies to every definition of that rule name and
``scope: subpackages`` to the package and the packages below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from gatekeeper.errors import PolicyError
from gatekeeper.model import EVIDENCE_KINDS, PolicyInfo
from gatekeeper.model.gate_input import Severity

_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SCOPES = ("package", "rule", "document", "subpackages")
_KNOWN_SEVERITY_WORDS = frozenset({"unknown", ""})


@dataclass(frozen=True)
class Annotation:
    """One ``# METADATA`` block, validated."""

    line: int  # line of the ``# METADATA`` comment
    target_line: int  # first non-blank line after the block (0 if none)
    target_is_package: bool
    scope: str
    title: str | None = None
    description: str | None = None
    id: str | None = None
    severity: Severity = Severity.UNKNOWN
    controls: tuple[str, ...] = ()
    remediation: str | None = None
    requires: tuple[str, ...] = ()
    # The whole annotation as written, for fields beyond the ones modelled (custom.*, authors…).
    raw: dict[str, Any] = field(default_factory=dict)

    def to_policy_info(self, default_id: str) -> PolicyInfo:
        return PolicyInfo(
            id=self.id or default_id,
            title=self.title,
            description=self.description,
            severity=self.severity,
            controls=self.controls,
            remediation=self.remediation,
            requires=self.requires,
        )


def merge_policy_info(
    package: PolicyInfo | None, rule: PolicyInfo | None, fallback: str
) -> PolicyInfo:
    """What a rule's METADATA says once merged: rule-scoped fields override package-scoped ones
    field by field, and the id falls back to the package path (``fallback``)."""
    base = package or PolicyInfo(id=fallback)
    if rule is None:
        return base
    return PolicyInfo(
        id=rule.id if rule.id and rule.id != fallback else base.id,
        title=rule.title or base.title,
        description=rule.description or base.description,
        severity=rule.severity if rule.severity is not Severity.UNKNOWN else base.severity,
        controls=rule.controls or base.controls,
        remediation=rule.remediation or base.remediation,
        requires=rule.requires or base.requires,
    )


def _optional_str(value: object, key: str, path: str, line: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PolicyError(f"METADATA `{key}` must be a string", path=path, where=str(line))
    return str(value)


def _parse_severity(value: object, path: str, line: int) -> Severity:
    if value is None:
        return Severity.UNKNOWN
    if not isinstance(value, str):
        raise PolicyError("METADATA `custom.severity` must be a string", path=path, where=str(line))
    severity = Severity.parse(value)
    if severity is Severity.UNKNOWN and value.strip().lower() not in _KNOWN_SEVERITY_WORDS:
        raise PolicyError(
            f"METADATA `custom.severity` {value!r} is not one of "
            "critical, high, medium, low, info, unknown",
            path=path,
            where=str(line),
        )
    return severity


def _parse_requires(value: object, path: str, line: int) -> tuple[str, ...]:
    kinds = _parse_controls(value, path, line, key="custom.requires")
    unknown = [k for k in kinds if k not in EVIDENCE_KINDS]
    if unknown:
        raise PolicyError(
            f"METADATA `custom.requires` {unknown[0]!r} is not one of {', '.join(EVIDENCE_KINDS)}",
            path=path,
            where=str(line),
        )
    return kinds


def _parse_controls(
    value: object, path: str, line: int, *, key: str = "custom.controls"
) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"METADATA `{key}` must be a list of strings", path=path, where=str(line))
    return tuple(value)


def _build(doc: object, line: int, target_line: int, is_package: bool, path: str) -> Annotation:
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise PolicyError("METADATA block must be a YAML mapping", path=path, where=str(line))
    scope = doc.get("scope", "package" if is_package else "rule")
    if scope not in SCOPES:
        raise PolicyError(
            f"METADATA scope {scope!r} is not one of {', '.join(SCOPES)}",
            path=path,
            where=str(line),
        )
    custom = doc.get("custom") or {}
    if not isinstance(custom, dict):
        raise PolicyError("METADATA `custom` must be a mapping", path=path, where=str(line))
    return Annotation(
        line=line,
        target_line=target_line,
        target_is_package=is_package,
        scope=scope,
        title=_optional_str(doc.get("title"), "title", path, line),
        description=_optional_str(doc.get("description"), "description", path, line),
        id=_optional_str(custom.get("id"), "custom.id", path, line),
        severity=_parse_severity(custom.get("severity"), path, line),
        controls=_parse_controls(custom.get("controls"), path, line),
        remediation=_optional_str(custom.get("remediation"), "custom.remediation", path, line),
        requires=_parse_requires(custom.get("requires"), path, line),
        raw=doc,
    )


def parse_annotations(source: str, path: str) -> tuple[Annotation, ...]:
    """Every ``# METADATA`` block of a module, in source order."""
    lines = source.split("\n")
    found: list[Annotation] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "# METADATA" or lines[i][:1] != "#":
            i += 1
            continue
        start = i + 1  # 1-based line of the `# METADATA` comment
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].startswith("#"):
            if lines[i].strip() == "# METADATA":
                break  # a new block starts; this one ended
            body.append(lines[i][1:])
            i += 1
        j = i
        while j < len(lines) and not lines[j].strip():
            j += 1
        target_line = j + 1 if j < len(lines) else 0
        is_package = j < len(lines) and lines[j].startswith("package ")
        try:
            # The safe loader's constructors, parsed by libyaml when PyYAML has it (a bundle
            # has one METADATA block per rule: the pure-Python parser cost ~3 ms each).
            doc = yaml.load("\n".join(body), Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = start + 1 + mark.line if mark is not None else start
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise PolicyError(
                f"malformed METADATA YAML (block at line {start}): {problem}",
                path=path,
                where=str(where),
            ) from None
        found.append(_build(doc, start, target_line, is_package, path))
    return tuple(found)
