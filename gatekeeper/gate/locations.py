"""Where in the repository a violation belongs: the manifest that declares the package.

Code scanning can only show a result against a file committed to the repository. Evidence
files usually are not (they are build outputs, e.g. under ``.gatekeeper/out/``), and the
built-in policies live inside the installed wheel. So after the decision is made, each
violation about a component or vulnerability is given ``declared_in``: the manifest or lockfile
under the working directory that names the package (requirements*.txt, poetry.lock,
package-lock.json, go.mod, ...), else the release file; other violations get the release file.
Paths are relative to the working directory, which the decision records.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from gatekeeper.model import Decision, RuleLocation, Violation

# Manifest file names by purl type; the scan is bounded (files, bytes, depth).
MANIFESTS: dict[str, tuple[str, ...]] = {
    "pypi": (
        "requirements.txt",
        "requirements*.txt",
        "poetry.lock",
        "Pipfile.lock",
        "pyproject.toml",
        "uv.lock",
        "setup.cfg",
    ),
    "npm": ("package-lock.json", "package.json", "yarn.lock", "pnpm-lock.yaml"),
    "golang": ("go.mod", "go.sum"),
    "cargo": ("Cargo.lock", "Cargo.toml"),
    "maven": ("pom.xml", "build.gradle", "build.gradle.kts", "gradle.lockfile"),
    "gem": ("Gemfile.lock", "Gemfile"),
    "nuget": ("packages.lock.json", "*.csproj"),
    "composer": ("composer.lock", "composer.json"),
}
_SKIP_DIRS = frozenset(
    {
        ".git",
        ".gatekeeper",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".tox",
        "dist",
        "build",
        "site-packages",
    }
)
_MAX_FILES = 200
_MAX_BYTES = 4 * 1024 * 1024
_MAX_DEPTH = 4
# Directory entries looked at, at most: a gate run from the root of a large checkout (or a
# home directory) must not spend seconds on this annotation; what lies beyond is not searched.
_MAX_ENTRIES = 20_000


def attach_declarations(decision: Decision, *, cwd: Path, release_file: Path | None) -> Decision:
    """``decision`` with ``declared_in`` on its violations and ``working_directory`` set."""
    root = cwd.resolve()
    release = _relative(release_file, root) if release_file else None
    # Searched only when a violation is about a package (a clean run walks nothing).
    manifests = functools.cache(lambda: _find_manifests(root))
    texts: dict[Path, list[str]] = {}

    def place(violation: Violation) -> Violation:
        found = _declaring_manifest(violation, manifests, texts, root)
        where = found or (RuleLocation(file=release, line=1) if release else None)
        return violation.model_copy(update={"declared_in": where}) if where else violation

    return decision.model_copy(
        update={
            "working_directory": root.as_posix(),
            "violations": tuple(place(v) for v in decision.violations),
            "waived": tuple(
                w.model_copy(update={"violation": place(w.violation)}) for w in decision.waived
            ),
        }
    )


def _relative(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root).as_posix()
    except (ValueError, OSError):
        return None  # outside the repository: GitHub could not show it


def _manifest_kind() -> Callable[[str], str | None]:
    """The purl type whose manifest a file name is (exact names by lookup, globs by one
    pattern; case-sensitive, as ``Path.match`` on POSIX), or None."""
    exact: dict[str, str] = {}
    globs: list[tuple[re.Pattern[str], str]] = []
    for kind, names in MANIFESTS.items():
        for name in names:
            if any(c in name for c in "*?["):
                globs.append((re.compile(fnmatch.translate(name)), kind))
            else:
                exact.setdefault(name, kind)

    def kind_of(name: str) -> str | None:
        found = exact.get(name)
        if found is not None:
            return found
        for pattern, kind in globs:
            if pattern.match(name):
                return kind
        return None

    return kind_of


_KIND_OF = _manifest_kind()


def _find_manifests(root: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    count = entries = 0
    for current, dirs, files in os.walk(root):
        depth = len(Path(current).relative_to(root).parts)
        entries += len(dirs) + len(files)
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and depth < _MAX_DEPTH)
        for name in sorted(files):
            kind = _KIND_OF(name)
            if kind is not None:
                found.setdefault(kind, []).append(Path(current) / name)
                count += 1
                if count >= _MAX_FILES:
                    return found
        if entries >= _MAX_ENTRIES:
            break
    return found


def _package(violation: Violation) -> tuple[str, str] | None:
    """(purl type, package name) of what the violation is about."""
    for candidate in (violation.evidence.get("purl"), violation.subject):
        if isinstance(candidate, str) and candidate.startswith("pkg:"):
            core = candidate[4:].split("?", 1)[0].split("#", 1)[0]
            kind, _, rest = core.partition("/")
            name_part = rest.rsplit("@", 1)[0] if "@" in rest.lstrip("@") else rest
            name = unquote(name_part.rsplit("/", 1)[-1] if kind != "golang" else name_part)
            if kind and name:
                return kind.lower(), name
    return None


@functools.lru_cache(maxsize=4096)
def _name_pattern(kind: str, name: str) -> re.Pattern[str]:
    """How a manifest line names the package (a release has many violations per package)."""
    if kind == "pypi":
        spelled = r"[-_.]+".join(re.escape(part) for part in re.split(r"[-_.]+", name))
        return re.compile(rf"(?<![\w.-])[\"']?{spelled}[\"']?(?![\w.-])", re.IGNORECASE)
    return re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])")


def _declaring_manifest(
    violation: Violation,
    manifests: Callable[[], dict[str, list[Path]]],
    texts: dict[Path, list[str]],
    root: Path,
) -> RuleLocation | None:
    package = _package(violation)
    if package is None:
        return None
    kind, name = package
    candidates = manifests().get(kind, ())
    if not candidates:
        return None  # no manifest of this ecosystem: nothing to search (and no pattern to build)
    pattern = _name_pattern(kind, name)
    for manifest in candidates:
        lines = texts.get(manifest)
        if lines is None:
            try:
                with manifest.open("rb") as handle:
                    lines = handle.read(_MAX_BYTES).decode("utf-8", "replace").splitlines()
            except OSError:
                lines = []
            texts[manifest] = lines
        for number, line in enumerate(lines, start=1):
            if pattern.search(line):
                relative = _relative(manifest, root)
                if relative:
                    return RuleLocation(file=relative, line=number)
    return None
