"""Waivers: reviewed, expiring exemptions from policy violations.

A waiver names a policy (glob allowed) and at least one subject matcher; it applies to a
violation only when the policy and *every* matcher it gives match (AND semantics), and only
until it expires. Expired waivers never apply and are reported; unexpired waivers that matched
nothing are reported as stale so that they get cleaned up.

Loading is strict because a waiver turns a failing gate into a passing one: unknown keys,
duplicate ids, missing approvals, waivers broader than one policy family and one concrete
subject (see :func:`waiver_scope_problem`) and expiry dates beyond the allowed maximum
are all a :class:`~gatekeeper.errors.WaiverError` (exit 2) naming the file, the waiver and the
field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError, field_validator

from gatekeeper.config import (
    DEFAULT_MAX_WAIVER_DAYS,
    YamlDocument,
    describe_validation_error,
    format_loc,
    read_yaml_file,
    unknown_key_message,
)
from gatekeeper.errors import InputError
from gatekeeper.model import Violation, WaivedViolation, Waiver, WaiverCoverage


class WaiverError(InputError):
    """The waivers file is malformed (exit 2)."""


DEFAULT_WAIVERS_FILE = Path(".gatekeeper/waivers.yaml")
MAX_WAIVERS_BYTES = 1024 * 1024
MATCHERS = ("subject", "vulnerability", "fingerprint", "path")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class WaiverOutcome:
    """Violations split by the waivers: what still counts, what was waived, and waiver hygiene."""

    active: tuple[Violation, ...]
    waived: tuple[WaivedViolation, ...]
    expired: tuple[Waiver, ...]  # expired waivers, matched or not: they never apply
    stale: tuple[Waiver, ...]  # unexpired waivers that matched no violation

    def coverage(self) -> tuple[WaiverCoverage, ...]:
        """How many violations each waiver waived, in first-waived order."""
        counts: dict[str, int] = {}
        by_id: dict[str, Waiver] = {}
        for item in self.waived:
            counts[item.waiver.id] = counts.get(item.waiver.id, 0) + 1
            by_id[item.waiver.id] = item.waiver
        return tuple(
            WaiverCoverage(id=wid, policy=by_id[wid].policy, violations=n)
            for wid, n in counts.items()
        )


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


_WHEN_EXPECTED = "must be a date (2026-12-31) or an RFC 3339 time (2026-12-31T18:00:00Z)"


def _when(value: object) -> date | datetime:
    """A YAML date/timestamp or an ISO string -> a date, or a timezone-aware datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return value
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(_WHEN_EXPECTED) from None
    else:
        raise ValueError(_WHEN_EXPECTED)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a time needs a timezone, e.g. {moment.isoformat()}Z")
    return moment


def _iso(value: date | datetime) -> str:
    if isinstance(value, datetime):
        text = value.isoformat()
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
    return value.isoformat()


def _utc_day(value: date | datetime) -> date:
    return value.astimezone(UTC).date() if isinstance(value, datetime) else value


class _WaiverEntry(BaseModel):
    """One entry of the waivers file as written (the file's schema)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id: StrictStr
    policy: StrictStr
    subject: StrictStr | None = None
    vulnerability: StrictStr | None = None
    fingerprint: StrictStr | None = None
    path: StrictStr | None = None
    reason: StrictStr
    approved_by: StrictStr
    expires: date | datetime
    created: date | datetime | None = None

    @field_validator(
        "id", "policy", "subject", "vulnerability", "fingerprint", "path", "reason", "approved_by"
    )
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("expires", "created", mode="before")
    @classmethod
    def _parse_when(cls, value: object) -> object:
        return None if value is None else _when(value)

    def to_waiver(self) -> Waiver:
        return Waiver(
            id=self.id,
            policy=self.policy,
            reason=self.reason,
            approved_by=self.approved_by,
            expires=_iso(self.expires),
            subject=self.subject,
            vulnerability=self.vulnerability,
            fingerprint=self.fingerprint,
            path=self.path,
        )


_ENTRY_KEYS = tuple(_WaiverEntry.model_fields)


def default_waivers_path(cwd: Path) -> Path | None:
    """``.gatekeeper/waivers.yaml`` under ``cwd`` when it exists (a missing default is fine;
    a missing file named with --waivers is not: :func:`load_waivers` raises)."""
    candidate = cwd / DEFAULT_WAIVERS_FILE
    return candidate if candidate.is_file() else None


def load_waivers(
    path: Path, *, max_days: int = DEFAULT_MAX_WAIVER_DAYS, now: datetime
) -> tuple[Waiver, ...]:
    """Read and validate a waivers file. Expired waivers load fine (they are reported later);
    malformed ones raise :class:`WaiverError`."""
    display = str(path)
    document = read_yaml_file(path, display=display, error=WaiverError, max_bytes=MAX_WAIVERS_BYTES)
    raw = document.data
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise WaiverError("expected a mapping with a 'waivers' list", path=display, where="1")
    for key in raw:
        if key != "waivers":
            raise _error(document, display, (str(key),), unknown_key_message(key, ["waivers"]))
    entries = raw.get("waivers")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise _error(document, display, ("waivers",), "'waivers' must be a list")

    today = _utc_day(_aware(now))
    seen: dict[str, int] = {}
    waivers: list[Waiver] = []
    for index, item in enumerate(entries):
        entry = _parse_entry(document, display, index, item)
        label = f"waivers[{index}] (id '{entry.id}')"
        if entry.id in seen:
            raise _error(
                document,
                display,
                ("waivers", index, "id"),
                f"{label}: id: duplicate id, already used by waivers[{seen[entry.id]}]",
            )
        seen[entry.id] = index
        _check_matchers(document, display, index, label, entry)
        _check_dates(document, display, index, label, entry, today=today, max_days=max_days)
        waivers.append(entry.to_waiver())
    return tuple(waivers)


def _parse_entry(document: YamlDocument, display: str, index: int, item: object) -> _WaiverEntry:
    label = f"waivers[{index}]"
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        label += f" (id '{item['id'].strip()}')"
    if not isinstance(item, dict):
        raise _error(document, display, ("waivers", index), f"{label}: expected a mapping")
    for key in item:
        if key not in _ENTRY_KEYS:
            raise _error(
                document,
                display,
                ("waivers", index, str(key)),
                f"{label}: {unknown_key_message(key, _ENTRY_KEYS)}",
            )
    try:
        return _WaiverEntry.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])[:1]  # the field; deeper parts are pydantic's union branches
        field = format_loc(loc)
        if first["type"] == "missing":
            message = f"{label}: {field}: required field is missing"
        else:
            message = f"{label}: {field}: {describe_validation_error(first)}"
            if isinstance(first.get("input"), int | float | bool) and first["type"].startswith(
                "string"
            ):
                message += "; quote it in YAML to make it a string"
        raise _error(document, display, ("waivers", index, *loc), message) from None


def _check_matchers(
    document: YamlDocument, display: str, index: int, label: str, entry: _WaiverEntry
) -> None:
    given = {name: getattr(entry, name) for name in MATCHERS if getattr(entry, name) is not None}
    if not given:
        raise _error(
            document,
            display,
            ("waivers", index),
            f"{label}: needs at least one of {', '.join(MATCHERS)} to say what it waives",
        )
    # A waiver turns a failing gate into a passing one, so it must say narrowly what it waives:
    # a glob that could match everything (or a whole library) is refused, not interpreted.
    for name, value in (("policy", entry.policy), *given.items()):
        problem = waiver_scope_problem(name, value)
        if problem:
            raise _error(document, display, ("waivers", index, name), f"{label}: {name}: {problem}")


# A policy family: a literal prefix of at least two segments (GK-VULN-), then one trailing '*'.
_POLICY_FAMILY = re.compile(r"[A-Za-z0-9_]+(?:[-./][A-Za-z0-9_]+)+[-./]\*")


def waiver_scope_problem(matcher: str, pattern: str) -> str | None:
    """Why ``pattern`` is too broad for the waiver key ``matcher``, or None when it is narrow
    enough. The rules (docs/waivers.md): ``policy`` is an exact id or a family such as
    ``GK-VULN-*``; ``subject`` is a concrete subject or a purl (a purl without ``@version``
    covers every version of that one package); ``vulnerability`` and ``fingerprint`` are exact;
    ``path`` may glob, below a literal first directory."""
    globbed = not _GLOB_CHARS.isdisjoint(pattern)
    if matcher == "policy":
        if not globbed or _POLICY_FAMILY.fullmatch(pattern):
            return None
        return (
            f"{pattern!r} is too broad: give an exact policy id (GK-VULN-001) or a family "
            "with a literal prefix of two segments (GK-VULN-*)"
        )
    if matcher == "subject":
        if globbed:
            return (
                f"{pattern!r} is a glob: give a concrete subject, or a purl without @version "
                "to cover every version of one package (pkg:pypi/requests)"
            )
        if pattern.startswith("pkg:") and not _purl_has_name(pattern):
            return f"{pattern!r} names no package: a purl needs a type and a name"
        return None
    if matcher == "path":
        first = _normalize_path(pattern).split("/", 1)[0]
        if not first or not _GLOB_CHARS.isdisjoint(first) or first in {".", ".."}:
            return (
                f"{pattern!r} is too broad: start with a literal directory or file (src/legacy/**)"
            )
        return None
    if globbed:
        return f"{pattern!r}: {matcher} is compared exactly; glob characters are not allowed"
    return None


def _purl_has_name(purl: str) -> bool:
    key, _version = _purl_key(purl)
    purl_type, _, name = key.partition("/")
    return purl_type != "pkg:" and bool(name.strip("/"))


def _check_dates(
    document: YamlDocument,
    display: str,
    index: int,
    label: str,
    entry: _WaiverEntry,
    *,
    today: date,
    max_days: int,
) -> None:
    expires_day = _utc_day(entry.expires)
    if entry.created is not None:
        created_day = _utc_day(entry.created)
        if created_day > today:
            # Otherwise a future 'created' would stretch the maximum indefinitely.
            raise _error(
                document,
                display,
                ("waivers", index, "created"),
                f"{label}: created: {_iso(entry.created)} is in the future",
            )
        if expires_day < created_day:
            raise _error(
                document,
                display,
                ("waivers", index, "expires"),
                f"{label}: expires: {_iso(entry.expires)} is before created {_iso(entry.created)}",
            )
        start, start_name = created_day, f"created {_iso(entry.created)}"
    else:
        start, start_name = today, f"today ({today.isoformat()})"
    days = (expires_day - start).days
    if days > max_days:
        raise _error(
            document,
            display,
            ("waivers", index, "expires"),
            f"{label}: expires: {_iso(entry.expires)} is {days} days after {start_name}; "
            f"waivers may last at most {max_days} days",
        )


def _error(
    document: YamlDocument, display: str, loc: tuple[str | int, ...], message: str
) -> WaiverError:
    line = document.line_of(loc)
    return WaiverError(message, path=display, where=str(line) if line else None)


# ---------------------------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------------------------


def apply_waivers(
    violations: Sequence[Violation], waivers: Sequence[Waiver], *, now: datetime
) -> WaiverOutcome:
    """Split ``violations`` into active and waived. The first unexpired waiver (in file order)
    that matches a violation waives it; every waiver that matched anything is not stale."""
    moment = _aware(now)
    expired = tuple(w for w in waivers if is_expired(w, moment))
    live = [w for w in waivers if not is_expired(w, moment)]
    matched: set[int] = set()
    active: list[Violation] = []
    waived: list[WaivedViolation] = []
    for violation in violations:
        applying = [i for i, waiver in enumerate(live) if waiver_matches(waiver, violation)]
        matched.update(applying)
        if applying:
            waived.append(WaivedViolation(violation=violation, waiver=live[applying[0]]))
        else:
            active.append(violation)
    stale = tuple(w for i, w in enumerate(live) if i not in matched)
    return WaiverOutcome(active=tuple(active), waived=tuple(waived), expired=expired, stale=stale)


def expires_at(waiver: Waiver) -> datetime:
    """The first instant at which ``waiver`` no longer applies. A date means the end of that
    day in UTC, so a waiver expiring today still applies today."""
    try:
        when = _when(waiver.expires)
    except ValueError as exc:
        raise WaiverError(
            f"waiver '{waiver.id}': expires: {exc} (got {waiver.expires!r})"
        ) from None
    if isinstance(when, datetime):
        # A time is inclusive: the waiver still applies at exactly that instant.
        return when + timedelta(microseconds=1)
    return datetime(when.year, when.month, when.day, tzinfo=UTC) + timedelta(days=1)


def is_expired(waiver: Waiver, now: datetime) -> bool:
    return _aware(now) >= expires_at(waiver)


def waiver_matches(waiver: Waiver, violation: Violation) -> bool:
    """The policy and every matcher the waiver gives must match the violation."""
    if not fnmatchcase(violation.policy, waiver.policy):
        return False
    if waiver.subject is not None and not _subject_matches(waiver.subject, violation):
        return False
    if waiver.vulnerability is not None and not _vulnerability_matches(
        waiver.vulnerability, violation
    ):
        return False
    if waiver.fingerprint is not None and not _fingerprint_matches(waiver.fingerprint, violation):
        return False
    return waiver.path is None or _path_matches(waiver.path, violation)


def _subject_matches(pattern: str, violation: Violation) -> bool:
    # What a violation is about: its subject, and the component purl its evidence names (so a
    # vulnerability violation whose subject is the CVE can be waived for one package).
    candidates = [violation.subject, violation.evidence.get("purl")]
    texts = [c for c in candidates if isinstance(c, str) and c]
    if _GLOB_CHARS.isdisjoint(pattern) and pattern.startswith("pkg:"):
        wanted = _purl_key(pattern)
        for text in texts:
            if not text.startswith("pkg:"):
                continue
            found = _purl_key(text)
            if found[0] == wanted[0] and (wanted[1] is None or wanted[1] == found[1]):
                return True
        return False
    return pattern in texts


def _purl_key(purl: str) -> tuple[str, str | None]:
    """('pkg:type/namespace/name', version or None): qualifiers and subpath ignored, percent-
    encoding undone, type lowercased, PyPI names normalized as pip does (PEP 503)."""
    core = purl.split("#", 1)[0].split("?", 1)[0]
    slash = core.rfind("/")
    at = core.rfind("@")
    version: str | None = None
    if at > slash:  # '@' after the last '/' is the version; earlier ones are npm scopes
        core, version = core[:at], unquote(core[at + 1 :])
    scheme_type, _, rest = core.partition("/")
    purl_type = scheme_type.lower()
    rest = unquote(rest)
    if purl_type == "pkg:pypi":
        rest = re.sub(r"[-_.]+", "-", rest).lower()
    return f"{purl_type}/{rest}", version


def _vulnerability_matches(wanted: str, violation: Violation) -> bool:
    ids: list[object] = [violation.subject]
    evidence = violation.evidence
    vulnerability = evidence.get("vulnerability")
    if isinstance(vulnerability, dict):  # a policy may hand over the whole vulnerability
        ids.append(vulnerability.get("id"))
        ids.extend(_as_list(vulnerability.get("aliases")))
    else:
        ids.append(vulnerability)
    ids.extend(_as_list(evidence.get("aliases")))
    folded = wanted.casefold()
    return any(isinstance(i, str) and i.strip().casefold() == folded for i in ids)


def _fingerprint_matches(wanted: str, violation: Violation) -> bool:
    return violation.evidence.get("fingerprint") == wanted


def _path_matches(pattern: str, violation: Violation) -> bool:
    candidates: list[str] = []
    path = violation.evidence.get("path")
    if isinstance(path, str) and path:
        candidates.append(path)
    if violation.subject:
        file_part = _file_of_location(violation.subject)
        if file_part:
            candidates.append(file_part)
    regex = _glob_regex(_normalize_path(pattern))
    return any(regex.fullmatch(_normalize_path(c)) for c in candidates)


def _file_of_location(subject: str) -> str | None:
    """'src/app.py:12' or 'src/app.py:12:5' -> 'src/app.py'; anything else -> None."""
    parts = subject.split(":")
    numbers = 0
    while len(parts) - numbers > 1 and parts[-1 - numbers].isdigit() and numbers < 2:
        numbers += 1
    return ":".join(parts[: len(parts) - numbers]) if numbers else None


def _normalize_path(text: str) -> str:
    text = text.replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    return text


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Path glob: '*' and '?' stay within one directory, '**' spans any number of them."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def _as_list(value: Any) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def _aware(moment: datetime) -> datetime:
    # A naive 'now' is taken as UTC rather than crashing on comparison with aware times.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
