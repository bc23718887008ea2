"""The control catalogue: which compliance control ids policies may name, and their titles.

Policies name controls in METADATA ``custom.controls`` (``PW.4.4``, ``CC7.1``, ``SCVS-2.1``,
``SLSA-BUILD-L2``). A typo there would silently drop a policy from an auditor's control matrix,
so ``gatekeeper policy lint`` checks every id against this catalogue and suggests the closest
one; the audit report reads the titles from it. The shipped catalogue is package data
(``controls.yaml`` next to this module); an organization can pass its own file.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from gatekeeper.errors import InputError

BUILTIN_CATALOGUE = Path(__file__).resolve().parent / "controls.yaml"
MAX_CATALOGUE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Framework:
    id: str  # short key, e.g. ``ssdf``
    name: str  # e.g. ``NIST SP 800-218 Secure Software Development Framework (SSDF) 1.1``
    url: str = ""


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    framework: Framework


@dataclass(frozen=True)
class Catalogue:
    """Controls by id, in catalogue order."""

    frameworks: tuple[Framework, ...]
    controls: tuple[Control, ...]
    source: str = ""
    _by_id: dict[str, Control] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {c.id: c for c in self.controls})

    def get(self, control_id: str) -> Control | None:
        """The control with exactly this id, else None (ids are case-sensitive, as written)."""
        return self._by_id.get(control_id)

    def __contains__(self, control_id: object) -> bool:
        return isinstance(control_id, str) and self.get(control_id) is not None

    def closest(self, control_id: str, n: int = 1) -> tuple[str, ...]:
        """Up to ``n`` known ids most like ``control_id`` (for "did you mean" messages).

        Compared case-insensitively and without separators first (``pw44`` finds ``PW.4.4``),
        then by similarity of the whole id.
        """
        wanted = control_id.strip()
        squashed = _squash(wanted)
        exact_shape = [c.id for c in self.controls if _squash(c.id) == squashed]
        ids = [c.id for c in self.controls]
        by_upper = {i.upper(): i for i in ids}
        similar = [
            by_upper[m]
            for m in difflib.get_close_matches(wanted.upper(), list(by_upper), n=n + 2, cutoff=0.5)
        ]
        result: list[str] = []
        for candidate in [*exact_shape, *similar]:
            if candidate not in result:
                result.append(candidate)
        return tuple(result[:n])


def _squash(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def _fail(source: str, message: str) -> InputError:
    return InputError(f"control catalogue: {message}", path=source)


def _parse(doc: Any, source: str) -> Catalogue:
    if not isinstance(doc, dict) or not isinstance(doc.get("frameworks"), list):
        raise _fail(source, "expected a mapping with a `frameworks` list")
    frameworks: list[Framework] = []
    controls: list[Control] = []
    seen: dict[str, str] = {}
    for index, item in enumerate(doc["frameworks"]):
        if not isinstance(item, dict):
            raise _fail(source, f"frameworks[{index}] must be a mapping")
        key, name, url = item.get("id"), item.get("name"), item.get("url", "")
        entries = item.get("controls")
        if not isinstance(key, str) or not isinstance(name, str) or not isinstance(url, str):
            raise _fail(source, f"frameworks[{index}] needs string `id` and `name`")
        if not isinstance(entries, dict) or not entries:
            raise _fail(source, f"framework {key}: `controls` must be a non-empty mapping")
        framework = Framework(id=key, name=name, url=url)
        frameworks.append(framework)
        for control_id, title in entries.items():
            if not isinstance(control_id, str) or not isinstance(title, str) or not title:
                raise _fail(source, f"framework {key}: control {control_id!r} needs a title")
            if control_id in seen:
                raise _fail(
                    source, f"control {control_id} is listed by both {seen[control_id]} and {key}"
                )
            seen[control_id] = key
            controls.append(Control(id=control_id, title=title, framework=framework))
    return Catalogue(frameworks=tuple(frameworks), controls=tuple(controls), source=source)


def _read(path: Path) -> Catalogue:
    shown = str(path)
    try:
        if path.stat().st_size > MAX_CATALOGUE_BYTES:
            raise _fail(shown, f"larger than {MAX_CATALOGUE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such control catalogue file", path=shown) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(shown, f"cannot read: {exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = str(mark.line + 1) if mark is not None else None
        raise InputError("control catalogue is not valid YAML", path=shown, where=where) from None
    return _parse(doc, shown)


@lru_cache(maxsize=1)
def _builtin() -> Catalogue:
    return _read(BUILTIN_CATALOGUE)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The shipped catalogue (SSDF 1.1, SLSA build levels, SOC 2 CC, OWASP SCVS), or ``path``.

    A missing or malformed file is an InputError (exit 2) naming it.
    """
    return _builtin() if path is None else _read(path)
