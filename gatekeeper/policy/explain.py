"""What each policy of a bundle checks: the data behind ``gatekeeper policy list`` and ``explain``.

A *policy* is what a METADATA ``custom.id`` names: usually one package with its deny/violation/
warn rules, or one rule with rule-scoped METADATA of its own. For each policy this gathers the
title, description, severity, controls (with their catalogue titles), remediation, rules and the
*settings* that tune it. Settings are found two ways, both documented in
docs/policy-commands.md:

- by scanning the package's modules for ``object.get(lib.settings, ["area", "key"], default)``
  (also ``data.gatekeeper.lib.settings`` and ``data.settings``), the library's convention;
- from METADATA ``custom.settings``, a mapping of ``area.key`` to a description (optional,
  adds descriptions and settings the scan cannot see).

Rule-scoped METADATA overrides package-scoped METADATA field by field, as the gate does.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gatekeeper.errors import InputError
from gatekeeper.model import PolicyInfo
from gatekeeper.model.gate_input import Severity
from gatekeeper.policy.bundle import PolicyBundle, RegoModule
from gatekeeper.policy.controls import Catalogue
from gatekeeper.policy.conventions import rule_level
from gatekeeper.policy.metadata import Annotation, merge_policy_info, parse_annotations
from gatekeeper.policy.rego_source import scan_rego

_SETTINGS_CALL_RE = re.compile(
    r"object\.get\(\s*(?:data\.gatekeeper\.lib\.settings|lib\.settings|data\.settings)\s*,"
    r"\s*\[(?P<keys>[^\]]*)\]\s*,\s*"
)
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_DEFAULT_CHARS = 400


# --------------------------------------------------------------------------------------------
# Gate rules with the METADATA that applies to them
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleMeta:
    """One deny/violation/warn rule and the METADATA blocks that describe it."""

    module: RegoModule
    name: str
    line: int
    level: str  # "deny" or "warn"
    package_note: Annotation | None  # the package's (or an enclosing package's) block
    rule_note: Annotation | None  # a rule- or document-scoped block on this rule
    info: PolicyInfo  # the two merged, as the gate merges them
    # Where package_note is written: a `subpackages` block sits in a parent package's module.
    package_note_module: RegoModule | None = None

    @property
    def notes(self) -> tuple[Annotation, ...]:
        return tuple(n for n in (self.package_note, self.rule_note) if n is not None)

    def written_in(self, note: Annotation) -> RegoModule:
        """The module whose source holds ``note``."""
        if note is self.package_note and self.package_note_module is not None:
            return self.package_note_module
        return self.module


def merge_info(package: Annotation | None, rule: Annotation | None, fallback: str) -> PolicyInfo:
    """The gate's merge (:func:`merge_policy_info`) applied to raw annotations."""
    return merge_policy_info(
        package.to_policy_info(fallback) if package else None,
        rule.to_policy_info(fallback) if rule else None,
        fallback,
    )


def _package_notes(bundle: PolicyBundle) -> dict[str, tuple[Annotation, RegoModule]]:
    """Package-scoped METADATA by package (with the module holding it), ``subpackages``
    blocks inherited downwards."""
    own: dict[str, tuple[Annotation, RegoModule]] = {}
    inheritable: dict[str, tuple[Annotation, RegoModule]] = {}
    for module in bundle.modules:
        if module.is_test:
            continue
        for note in parse_annotations(module.source, module.path):
            if note.scope in ("package", "subpackages") and (
                note.target_is_package or note.target_line <= module.package_line
            ):
                own[module.package] = (note, module)
                if note.scope == "subpackages":
                    inheritable[module.package] = (note, module)
    result = dict(own)
    for module in bundle.modules:
        if module.package in result or module.is_test:
            continue
        parts = module.package.split(".")
        for n in range(len(parts) - 1, 0, -1):
            parent = inheritable.get(".".join(parts[:n]))
            if parent is not None:
                result[module.package] = parent
                break
    return result


def gate_rules(bundle: PolicyBundle) -> tuple[RuleMeta, ...]:
    """Every gate rule of the bundle's non-test modules, once per package and name."""
    packages = _package_notes(bundle)
    seen: set[tuple[str, str]] = set()
    found: list[RuleMeta] = []
    for module in bundle.modules:
        if module.is_test:
            continue
        notes = parse_annotations(module.source, module.path)
        definitions = scan_rego(module.source, module.path).definitions
        for head in module.rules:
            level = rule_level(head.name)
            if level is None or (module.package, head.name) in seen:
                continue
            seen.add((module.package, head.name))
            lines = {d.line for d in definitions if d.name == head.name}
            rule_note = next(
                (n for n in notes if n.scope in ("rule", "document") and n.target_line in lines),
                None,
            )
            package_note, note_module = packages.get(module.package, (None, None))
            found.append(
                RuleMeta(
                    module=module,
                    name=head.name,
                    line=head.line,
                    level=level,
                    package_note=package_note,
                    rule_note=rule_note,
                    info=merge_info(package_note, rule_note, module.package),
                    package_note_module=note_module,
                )
            )
    return tuple(found)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    key: str  # "area.key", under data.settings
    default: str | None  # Rego source of the default value, as written
    description: str | None
    file: str
    line: int


def _expression_end(source: str, start: int, *, stop: str) -> int:
    """Index where the expression starting at ``start`` ends: the first top-level character in
    ``stop`` (outside brackets, strings and comments)."""
    depth = 0
    i = start
    while i < len(source):
        ch = source[i]
        if ch == '"':
            i += 1
            while i < len(source) and source[i] != '"':
                i += 2 if source[i] == "\\" else 1
        elif ch == "`":
            i = source.find("`", i + 1)
            if i < 0:
                return len(source)
        elif ch == "#":
            newline = source.find("\n", i)
            if depth == 0 and "\n" in stop:
                return len(source) if newline < 0 else newline
            i = len(source) if newline < 0 else newline
            continue
        elif ch in "([{":
            depth += 1
        elif depth == 0 and ch in stop:
            return i
        elif ch in ")]}":
            depth -= 1
        i += 1
    return len(source)


def _squeeze(text: str) -> str:
    """One line: whitespace runs collapsed, trailing commas before a closer removed."""
    text = " ".join(text.split())
    text = re.sub(r",\s*([\]})])", r"\1", text)
    text = re.sub(r"([\[{(])\s+", r"\1", text)
    if len(text) > _MAX_DEFAULT_CHARS:
        text = text[: _MAX_DEFAULT_CHARS - 3] + "..."
    return text


def _value_of(source: str, name: str) -> str | None:
    """The Rego source of a top-level ``name := value`` of the module, if there is one."""
    m = re.search(rf"^{re.escape(name)}\s*:?=\s*", source, re.MULTILINE)
    if m is None:
        return None
    return source[m.end() : _expression_end(source, m.end(), stop="\n")].strip()


def _scan_settings(module: RegoModule) -> Iterator[Setting]:
    source = module.source
    for m in _SETTINGS_CALL_RE.finditer(source):
        line_start = source.rfind("\n", 0, m.start()) + 1
        if source[line_start : m.start()].lstrip().startswith("#"):
            continue  # inside a comment (the library documents the pattern in comments)
        try:
            keys = json.loads("[" + m.group("keys") + "]")
        except json.JSONDecodeError:
            continue  # computed keys: not a fixed setting
        if not keys or not all(isinstance(k, str) for k in keys):
            continue
        end = _expression_end(source, m.end(), stop=")")
        default = source[m.end() : end].strip()
        if _IDENT_RE.match(default):
            default = _value_of(source, default) or default
        yield Setting(
            key=".".join(keys),
            default=_squeeze(default) if default else None,
            description=None,
            file=module.path,
            line=source.count("\n", 0, m.start()) + 1,
        )


def _declared_settings(note: Annotation | None, file: str) -> dict[str, str]:
    """METADATA ``custom.settings``: ``{"area.key": "description"}``; other shapes ignored."""
    if note is None:
        return {}
    custom = note.raw.get("custom")
    declared = custom.get("settings") if isinstance(custom, dict) else None
    if not isinstance(declared, dict):
        return {}
    result: dict[str, str] = {}
    for key, value in declared.items():
        if isinstance(value, dict):
            value = value.get("description")
        result[str(key)] = str(value) if value is not None else ""
    return result


# --------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ControlRef:
    id: str
    title: str | None  # None: not in the catalogue
    framework: str | None


@dataclass(frozen=True)
class PolicyDescription:
    id: str
    title: str | None
    description: str | None
    severity: Severity
    controls: tuple[ControlRef, ...]
    remediation: str | None
    package: str
    file: str
    line: int
    rules: tuple[tuple[str, str], ...]  # (rule name, level)
    settings: tuple[Setting, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "severity": self.severity.value,
            "controls": [
                {"id": c.id, "title": c.title, "framework": c.framework} for c in self.controls
            ],
            "remediation": self.remediation,
            "package": self.package,
            "location": {"file": self.file, "line": self.line},
            "rules": [{"name": name, "level": level} for name, level in self.rules],
            "settings": [
                {
                    "key": s.key,
                    "default": s.default,
                    "description": s.description,
                    "location": {"file": s.file, "line": s.line},
                }
                for s in self.settings
            ],
        }


def _settings_for(bundle: PolicyBundle, package: str, notes: list[Annotation]) -> list[Setting]:
    scanned: dict[str, Setting] = {}
    for module in bundle.modules:
        if module.package == package and not module.is_test:
            for setting in _scan_settings(module):
                scanned.setdefault(setting.key, setting)
    declared: dict[str, str] = {}
    file = next((m.path for m in bundle.modules if m.package == package), "")
    for note in notes:
        declared.update(_declared_settings(note, file))
    settings = []
    for key in sorted(set(scanned) | set(declared)):
        found = scanned.get(key)
        description = declared.get(key) or None
        if found is None:
            line = next((n.line for n in notes), 0)
            settings.append(Setting(key, None, description, file, line))
        else:
            settings.append(Setting(found.key, found.default, description, found.file, found.line))
    return settings


def describe_policies(bundle: PolicyBundle, catalogue: Catalogue) -> tuple[PolicyDescription, ...]:
    """One description per policy id, in bundle order (modules sorted by path)."""
    grouped: dict[str, list[RuleMeta]] = {}
    for rule in gate_rules(bundle):
        grouped.setdefault(rule.info.id, []).append(rule)
    policies = []
    for policy_id, rules in grouped.items():
        first = rules[0]
        info = first.info
        notes = [n for r in rules for n in r.notes]
        controls = []
        for control_id in info.controls:
            known = catalogue.get(control_id)
            controls.append(
                ControlRef(
                    control_id,
                    known.title if known else None,
                    known.framework.name if known else None,
                )
            )
        policies.append(
            PolicyDescription(
                id=policy_id,
                title=info.title,
                description=info.description,
                severity=info.severity,
                controls=tuple(controls),
                remediation=info.remediation,
                package=first.module.package,
                file=first.module.path,
                line=first.line if first.rule_note else first.module.package_line,
                rules=tuple((r.name, r.level) for r in rules),
                settings=tuple(_settings_for(bundle, first.module.package, notes)),
            )
        )
    return tuple(policies)


def find_policy(policies: tuple[PolicyDescription, ...], wanted: str) -> PolicyDescription:
    """The policy with this id (or package path); case-insensitive when unambiguous.

    Unknown ids are an InputError (exit 2) suggesting the closest ids.
    """
    for policy in policies:
        if wanted in (policy.id, policy.package):
            return policy
    folded = [p for p in policies if wanted.casefold() in (p.id.casefold(), p.package.casefold())]
    if len(folded) == 1:
        return folded[0]
    import difflib

    ids = [p.id for p in policies]
    by_fold = {i.casefold(): i for i in ids}
    close = [by_fold[c] for c in difflib.get_close_matches(wanted.casefold(), list(by_fold), n=3)]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    known = ", ".join(sorted(ids)) if not close else ""
    tail = hint or (f"; known ids: {known}" if known else "")
    raise InputError(f"unknown policy id {wanted!r}{tail}")


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _control_line(control: ControlRef) -> str:
    if control.title is None:
        return f"{control.id} (not in the control catalogue)"
    return f"{control.id}: {control.title} [{control.framework}]"


def _setting_line(setting: Setting) -> str:
    default = setting.default if setting.default is not None else "(no default found)"
    text = f"settings.{setting.key} (default: {default})"
    return f"{text}: {setting.description}" if setting.description else text


def render_list_text(policies: tuple[PolicyDescription, ...]) -> str:
    rows = [
        (p.id, p.severity.value, ", ".join(c.id for c in p.controls) or "-", p.title or "-")
        for p in policies
    ]
    header = ("ID", "SEVERITY", "CONTROLS", "TITLE")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row))
        for row in [header, *rows]
    ]
    lines.append(f"\n{len(policies)} policies")
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_list_markdown(policies: tuple[PolicyDescription, ...]) -> str:
    lines = ["| id | severity | controls | title |", "|---|---|---|---|"]
    for p in policies:
        controls = ", ".join(c.id for c in p.controls) or "—"
        lines.append(
            f"| `{p.id}` | {p.severity.value} | {_md_cell(controls)} | {_md_cell(p.title or '—')} |"
        )
    return "\n".join(lines)


def _wrapped(text: str) -> str:
    return textwrap.fill(
        " ".join(text.split()), width=96, initial_indent="  ", subsequent_indent="  "
    )


def render_explain_text(policy: PolicyDescription) -> str:
    lines = [f"{policy.id}: {policy.title or '(no title)'}", ""]
    lines.append(f"  severity     {policy.severity.value}")
    lines.append(f"  package      {policy.package} ({policy.file}:{policy.line})")
    rules = ", ".join(f"{name} ({level})" for name, level in policy.rules)
    lines.append(f"  rules        {rules}")
    if policy.description:
        lines += ["", "What it checks:", _wrapped(policy.description)]
    lines += ["", "Controls:"]
    lines += [f"  {_control_line(c)}" for c in policy.controls] or ["  (none)"]
    lines += ["", "Settings (pass with --data, under `settings:`):"]
    lines += [f"  {_setting_line(s)}" for s in policy.settings] or ["  (none)"]
    lines += ["", "Remediation:", _wrapped(policy.remediation or "(none)")]
    return "\n".join(lines)


def render_explain_markdown(policy: PolicyDescription) -> str:
    lines = [f"## {policy.id}: {_md_cell(policy.title or '(no title)')}", ""]
    lines.append(
        f"Severity **{policy.severity.value}** · package `{policy.package}` "
        f"(`{policy.file}:{policy.line}`) · rules "
        + ", ".join(f"`{name}` ({level})" for name, level in policy.rules)
    )
    if policy.description:
        lines += ["", " ".join(policy.description.split())]
    lines += ["", "### Controls", ""]
    lines += [f"- {_control_line(c)}" for c in policy.controls] or ["- none"]
    lines += ["", "### Settings", ""]
    if policy.settings:
        lines += ["| key | default | description |", "|---|---|---|"]
        for s in policy.settings:
            default = f"`{_md_cell(s.default)}`" if s.default is not None else "—"
            lines.append(f"| `settings.{s.key}` | {default} | {_md_cell(s.description or '')} |")
    else:
        lines.append("None.")
    lines += ["", "### Remediation", "", " ".join((policy.remediation or "None given.").split())]
    return "\n".join(lines)
