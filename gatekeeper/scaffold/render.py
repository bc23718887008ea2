"""Render a template version with answers into an in-memory file map, and write it safely.

Rendering never touches the destination: ``render_template`` returns ``{path: RenderedFile}``,
which ``scaffold new`` writes, ``--dry-run`` lists and ``scaffold update`` merges. Conventions:

- every path segment is a Jinja template (``src/{{ package }}/app.py``); a segment that renders
  empty drops the file (conditional files);
- files ending in ``.jinja`` are rendered (the suffix is removed), all others are copied byte
  for byte — CI files full of ``${{ ... }}`` stay readable that way;
- a rendered path must stay relative and inside the destination: no ``..``, no absolute path,
  no separators smuggled in through an answer, and no write through a symlink.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from jinja2 import TemplateError

from gatekeeper import __version__
from gatekeeper.errors import InputError
from gatekeeper.scaffold.jinja import render_string
from gatekeeper.scaffold.template import Template

RENDER_SUFFIX = ".jinja"
# A template file is source code, not data: anything this large is a mistake.
MAX_TEMPLATE_FILE_BYTES = 1024 * 1024
MAX_TEMPLATE_FILES = 2_000


@dataclass(frozen=True)
class RenderedFile:
    path: str  # POSIX, relative to the destination
    content: bytes
    executable: bool = False

    @property
    def sha256(self) -> str:
        return sha256_bytes(self.content)


def sha256_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def render_context(
    template: Template, answers: Mapping[str, Any], *, gatekeeper_version: str | None = None
) -> dict[str, Any]:
    """What templates see: the answers plus a few facts about the render. The gatekeeper
    version (pinned in generated CI files) is recorded so an update re-renders the same base."""
    return {
        **answers,
        "template_id": template.id,
        "template_version": template.version,
        "gatekeeper_version": gatekeeper_version or __version__,
    }


def check_relative_path(path: str, *, what: str) -> PurePosixPath:
    """A safe relative POSIX path or an InputError: no absolute, ``..``, ``\\`` or NUL."""
    if not path or "\x00" in path or "\\" in path:
        raise InputError(f"{what}: unsafe path {path!r}")
    pure = PurePosixPath(path)
    if pure.is_absolute() or any(part in ("..", ".") for part in path.split("/")):
        raise InputError(f"{what}: path {path!r} would leave the destination")
    if any(part == "" for part in path.split("/")):
        raise InputError(f"{what}: path {path!r} has an empty segment")
    return pure


def _render_segment(segment: str, context: dict[str, Any], shown: str) -> str:
    if "{" not in segment:
        return segment
    try:
        rendered = render_string(segment, context)
    except TemplateError as exc:
        raise InputError(f"file name does not render: {exc}", path=shown) from None
    if "/" in rendered or "\\" in rendered or "\x00" in rendered or rendered in (".", ".."):
        raise InputError(
            f"file name renders to {rendered!r}, which would leave its directory", path=shown
        )
    return rendered


IGNORED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
IGNORED_SUFFIXES = (".pyc", ".pyo")


def render_template(
    template: Template, answers: Mapping[str, Any], *, gatekeeper_version: str | None = None
) -> dict[str, RenderedFile]:
    """Render every file of ``template``; errors name the template file (exit 2)."""
    context = render_context(template, answers, gatekeeper_version=gatekeeper_version)
    files_dir = template.files_dir
    out: dict[str, RenderedFile] = {}
    count = 0
    for directory, dirnames, filenames in os.walk(files_dir, followlinks=False):
        # Byte-code and tool caches left in a template folder (by a test run, an editor) are
        # not template files: a new service must not start with someone else's .pyc files.
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        filenames = [f for f in filenames if not f.endswith(IGNORED_SUFFIXES)]
        base = Path(directory)
        for name in sorted([*filenames, *dirnames]):
            full = base / name
            if full.is_symlink():
                raise InputError("templates may not contain symlinks", path=str(full))
        for name in sorted(filenames):
            count += 1
            if count > MAX_TEMPLATE_FILES:
                raise InputError(f"more than {MAX_TEMPLATE_FILES} files", path=str(files_dir))
            full = base / name
            relative = full.relative_to(files_dir).as_posix()
            rendered = _render_file(full, relative, context)
            if rendered is not None:
                if rendered.path in out:
                    raise InputError(
                        f"two template files render to {rendered.path}", path=str(full)
                    )
                out[rendered.path] = rendered
    return dict(sorted(out.items()))


def _render_file(full: Path, relative: str, context: dict[str, Any]) -> RenderedFile | None:
    shown = str(full)
    segments = [_render_segment(s, context, shown) for s in relative.split("/")]
    if any(s == "" for s in segments):
        return None  # conditional file or directory
    render = segments[-1].endswith(RENDER_SUFFIX)
    if render:
        segments[-1] = segments[-1][: -len(RENDER_SUFFIX)]
    target = "/".join(segments)
    check_relative_path(target, what=shown)
    info = full.stat()
    if info.st_size > MAX_TEMPLATE_FILE_BYTES:
        raise InputError(f"larger than {MAX_TEMPLATE_FILE_BYTES} bytes", path=shown)
    raw = full.read_bytes()
    if render:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("a .jinja file must be UTF-8 text", path=shown) from None
        try:
            raw = render_string(text, context).encode("utf-8")
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            raise InputError(
                f"does not render: {exc}", path=shown, where=str(line) if line else None
            ) from None
    executable = bool(info.st_mode & stat.S_IXUSR)
    return RenderedFile(path=target, content=raw, executable=executable)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def safe_target(dest: Path, relative: str) -> Path:
    """``dest/relative``, refusing to leave ``dest`` or to go through a symlink inside it."""
    pure = check_relative_path(relative, what=str(dest))
    root = dest.resolve()
    current = root
    for part in pure.parts:
        current = current / part
        if current.is_symlink():
            raise InputError(f"refusing to write through symlink {relative}", path=str(dest))
    if not current.resolve().is_relative_to(root):  # pragma: no cover - caught above
        raise InputError(f"{relative} would leave the destination", path=str(dest))
    return current


def existing_files(dest: Path, paths: list[str]) -> list[str]:
    return [p for p in paths if (dest / p).exists() or (dest / p).is_symlink()]


def write_file(dest: Path, relative: str, content: bytes, *, executable: bool = False) -> None:
    target = safe_target(dest, relative)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write a temporary file next to the target, then rename: a crash never leaves half a
        # file, and the rename replaces a file without following a symlink planted at target.
        temporary = target.with_name(f".{target.name}.gatekeeper-tmp")
        temporary.write_bytes(content)
        if executable:
            temporary.chmod(temporary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        temporary.replace(target)
    except OSError as exc:
        raise InputError(
            f"cannot write {relative}: {exc.strerror or exc}", path=str(dest)
        ) from None


def remove_file(dest: Path, relative: str) -> None:
    target = safe_target(dest, relative)
    try:
        target.unlink(missing_ok=True)
    except OSError as exc:
        raise InputError(
            f"cannot remove {relative}: {exc.strerror or exc}", path=str(dest)
        ) from None
