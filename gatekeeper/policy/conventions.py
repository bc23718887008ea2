"""conftest's policy conventions, defined once for every command (``gate run``, ``check``,
``policy list``, ``policy test``, ``conftest verify``).

- **Rule names** (conftest policy/engine.go): ``deny``/``violation`` rules fail and ``warn``
  rules warn, each optionally followed by ``_suffix`` parts of letters and digits
  (``^(deny|violation)(_[a-zA-Z0-9]+)*$``); so ``deny_`` alone or ``deny__x`` is not a rule.
- **Exceptions**: ``exception contains rules if { rules := ["run_as_root"] }`` exempts
  ``deny_run_as_root``, ``violation_run_as_root`` and ``warn_run_as_root``; ``""`` exempts
  the bare ``deny``/``violation``/``warn`` (:func:`exception_rule_name`).
- **Namespaces**: ``-n`` values with ``*``, ``?`` or ``[...]`` are globs in Go's
  ``path.Match`` dialect (``*`` does not cross ``/``, so ``k8s.*`` matches ``k8s.pods`` and
  ``k8s.pods.v1``); without those characters the names are taken literally. Unlike
  conftest, a name or pattern that matches no package is an error (fail closed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from gatekeeper.errors import ConfigError, PolicyError

FAILURE_RULE_RE = re.compile(r"^(deny|violation)(_[a-zA-Z0-9]+)*$")
WARNING_RULE_RE = re.compile(r"^warn(_[a-zA-Z0-9]+)*$")


def is_failure_rule(name: str) -> bool:
    return FAILURE_RULE_RE.match(name) is not None


def is_warning_rule(name: str) -> bool:
    return WARNING_RULE_RE.match(name) is not None


def is_test_rule(name: str) -> bool:
    """A unit test of the policies (OPA's and conftest's convention): ``policy test``,
    ``conftest verify`` and ``check`` run these and never judge with them."""
    return name.startswith("test_")


def is_deciding_rule(name: str) -> bool:
    """A rule conftest evaluates: a failure or a warning rule."""
    return is_failure_rule(name) or is_warning_rule(name)


def rule_level(name: str) -> str | None:
    """``"deny"`` for failure rules, ``"warn"`` for warning rules, None for others."""
    if is_failure_rule(name):
        return "deny"
    if is_warning_rule(name):
        return "warn"
    return None


def exception_rule_name(rule: str) -> str:
    """The name conftest looks up in ``exception`` for ``rule`` (policy/engine.go
    removeRulePrefix): "" for bare deny/violation/warn, prefixes trimmed in turn otherwise.
    gatekeeper.gate.evaluate.exception_name differs on both points, hence this function."""
    if rule in ("deny", "violation", "warn"):
        return ""
    for prefix in ("violation_", "deny_", "warn_"):
        rule = rule.removeprefix(prefix)
    return rule


def exception_matches(value: Any, name: str) -> int:
    """How many solutions conftest's ``data.<ns>.exception[_][_] == "<name>"`` query has."""
    if isinstance(value, dict):
        outer: list[Any] = list(value.values())
    elif isinstance(value, list):
        outer = value
    else:
        return 0
    count = 0
    for entry in outer:
        # `[_]` iterates an array's items or an object's values; on anything else it is
        # undefined, so a set of plain strings exempts nothing (as in conftest).
        inner = list(entry.values()) if isinstance(entry, dict) else entry
        if isinstance(inner, list):
            count += sum(1 for v in inner if v == name)
    return count


def exempted_rule_names(value: Any, query: str) -> set[str]:
    """The names an ``exception`` rule's value exempts (those :func:`exception_matches`
    finds), for ``gate run``, which also refuses shapes conftest would silently ignore: a
    value that is not a set, or items that are not lists of strings."""
    if value is None:
        return set()
    if not isinstance(value, list):
        raise PolicyError(f"{query} must be a set of rule-name lists, got {type(value).__name__}")
    names: set[str] = set()
    for item in value:
        if not isinstance(item, list) or not all(isinstance(e, str) for e in item):
            raise PolicyError(
                f"{query} must contain lists of rule names "
                f'(`exception contains ["run_as_root"]`), got {item!r}'
            )
        names.update(item)
    return {name for name in names if exception_matches(value, name)}


def _has_wildcard(patterns: Sequence[str]) -> bool:
    return any(ch in p for p in patterns for ch in "*?[")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Go's path.Match syntax (``*``, ``?``, ``[...]``/``[^...]``, ``\\`` escapes) as a regex."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("^", "]") else i + 1)
            if end < 0:
                raise ConfigError(f"namespace pattern {pattern!r}: unterminated '['")
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            if not body:
                raise ConfigError(f"namespace pattern {pattern!r}: empty character class")
            escaped = "".join("\\" + c if c in "\\]^[" else c for c in body)
            out.append(f"[{'^' if negate else ''}{escaped}]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"\Z")


def select_namespaces(
    packages: Sequence[str], patterns: Sequence[str], all_namespaces: bool
) -> tuple[str, ...]:
    """conftest runner/test.go: all packages, or the glob matches, or the literal list.

    Unlike conftest, a namespace (or pattern) that names no package is an error: conftest
    would report "0 tests" for it and exit 0, a gate that passes without checking anything.
    """
    if all_namespaces:
        return tuple(packages)
    if not patterns:
        raise ConfigError("no namespace given")
    if not _has_wildcard(patterns):
        for name in patterns:
            if name not in packages:
                raise PolicyError(
                    f"namespace '{name}' matches no package in the policies "
                    f"(packages: {', '.join(packages) or 'none'}); "
                    "use -n/--namespace or --all-namespaces"
                )
        return tuple(patterns)
    return match_namespaces(packages, patterns)


def match_namespaces(packages: Sequence[str], patterns: Sequence[str]) -> tuple[str, ...]:
    """The packages (sorted) that any pattern matches; a pattern matching none is an error
    (conftest would silently ignore it: a typo would switch a policy off)."""
    selected: set[str] = set()
    for pattern in patterns:
        regex = glob_regex(pattern)
        matched = {p for p in packages if regex.match(p)}
        if not matched:
            raise PolicyError(
                f"namespace '{pattern}' matches no package in the policies "
                f"(packages: {', '.join(packages) or 'none'})"
            )
        selected |= matched
    return tuple(sorted(selected))
