"""``scaffold update``: bring a generated service to a newer template version, three-way.

For every file: base = the OLD template version rendered with the recorded answers, theirs =
the NEW version rendered with the same answers (plus defaults for new parameters), ours = the
file in the service now. Rules, copier-like, that never lose a local change:

- base == theirs: the template did not change the file; ours stays as it is (even deleted);
- ours == base: not edited locally; take theirs (add, update or remove);
- ours == theirs: nothing to do;
- ours deleted locally while the template changed it: stays deleted (reported);
- removed from the template but edited locally: kept (reported);
- otherwise a real three-way merge with ``git merge-file``; overlapping edits become standard
  conflict markers (``<<<<<<<``, ``=======``, ``>>>>>>>``), and the update exits 1.

The record (``.gatekeeper/template.json``) then names the new version, so the next update
uses it as the base.
"""

from __future__ import annotations

import difflib
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from gatekeeper.errors import InputError
from gatekeeper.scaffold.answers import Asker, resolve_answers
from gatekeeper.scaffold.new import record_for
from gatekeeper.scaffold.record import RECORD_PATH, read_record
from gatekeeper.scaffold.render import (
    RenderedFile,
    remove_file,
    render_template,
    safe_target,
    write_file,
)
from gatekeeper.scaffold.template import TemplateStore, parse_semver

CONFLICT_START = b"<<<<<<< "
MAX_MERGE_FILE_BYTES = 4 * 1024 * 1024
GIT_TIMEOUT_S = 60


class Action(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    MERGED = "merged"
    CONFLICT = "conflict"
    REMOVED = "removed"
    KEPT_DELETED = "kept deleted"  # template changed it, but it was deleted locally
    KEPT_MODIFIED = "kept"  # template removed it, but it was edited locally


@dataclass(frozen=True)
class FileChange:
    path: str
    action: Action
    before: bytes | None  # the service's file now
    after: bytes | None  # what it becomes (None: removed / left deleted)
    note: str = ""

    @property
    def writes(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        before = _text_lines(self.before)
        after = _text_lines(self.after)
        return "".join(
            difflib.unified_diff(before, after, fromfile=f"a/{self.path}", tofile=f"b/{self.path}")
        )


@dataclass(frozen=True)
class UpdateResult:
    template: str
    from_version: str
    to_version: str
    changes: tuple[FileChange, ...]
    dry_run: bool
    # Files whose re-rendered base differs from the hash recorded at generation: the shipped
    # old version was altered, so their merge base is approximate.
    base_mismatches: tuple[str, ...] = ()

    @property
    def conflicts(self) -> tuple[FileChange, ...]:
        return tuple(c for c in self.changes if c.action is Action.CONFLICT)


def _text_lines(content: bytes | None) -> list[str]:
    if content is None:
        return []
    return content.decode("utf-8", errors="replace").splitlines(keepends=True)


def _read_current(dest: Path, path: str) -> bytes | None:
    target = safe_target(dest, path)
    if not target.exists():
        return None
    if not target.is_file():
        raise InputError(f"{path} is not a regular file", path=str(dest))
    if target.stat().st_size > MAX_MERGE_FILE_BYTES:
        raise InputError(f"{path} is larger than {MAX_MERGE_FILE_BYTES} bytes", path=str(dest))
    return target.read_bytes()


def merge3(
    ours: bytes, base: bytes, theirs: bytes, *, labels: tuple[str, str, str]
) -> tuple[bytes, int]:
    """(merged content, number of conflicts) via ``git merge-file``; conflicts carry markers."""
    with tempfile.TemporaryDirectory(prefix="gatekeeper-merge-") as tmp:
        paths = []
        for name, content in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp) / name
            path.write_bytes(content)
            paths.append(str(path))
        try:
            proc = subprocess.run(
                [
                    "git",
                    "merge-file",
                    "-p",
                    "-L",
                    labels[0],
                    "-L",
                    labels[1],
                    "-L",
                    labels[2],
                    *paths,
                ],
                capture_output=True,
                timeout=GIT_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError:
            raise InputError("`git` is needed for three-way merges and was not found") from None
        except subprocess.TimeoutExpired:
            raise InputError("git merge-file timed out") from None
    # Exit status: the number of conflicts (capped at 127), or negative (255) on error.
    if proc.returncode > 127:
        message = proc.stderr.decode("utf-8", errors="replace").strip() or "unknown error"
        raise InputError(f"git merge-file failed: {message}")
    return proc.stdout, proc.returncode


def _has_conflict_markers(content: bytes | None) -> bool:
    return content is not None and any(
        line.startswith(CONFLICT_START) for line in content.splitlines()
    )


def plan_file(
    path: str,
    base: RenderedFile | None,
    theirs: RenderedFile | None,
    ours: bytes | None,
    *,
    labels: tuple[str, str, str],
) -> FileChange | None:
    """What happens to one file; None when nothing does."""
    b = base.content if base else None
    t = theirs.content if theirs else None
    if b == t or ours == t:
        return None
    if ours == b:  # untouched locally (or absent on both sides): take the template's
        if t is None:
            return FileChange(path, Action.REMOVED, ours, None)
        return FileChange(path, Action.ADDED if ours is None else Action.UPDATED, ours, t)
    if ours is None:
        return FileChange(
            path, Action.KEPT_DELETED, None, None, "changed in the template, deleted locally"
        )
    if t is None:
        return FileChange(
            path, Action.KEPT_MODIFIED, ours, ours, "removed from the template, edited locally"
        )
    merged, conflicts = merge3(ours, b or b"", t, labels=labels)
    if conflicts:
        return FileChange(path, Action.CONFLICT, ours, merged, f"{conflicts} conflict(s)")
    return FileChange(path, Action.MERGED, ours, merged)


def scaffold_update(
    store: TemplateStore,
    dest: Path,
    *,
    to_version: str | None = None,
    given: Mapping[str, Any] | None = None,
    ask: Asker | None = None,
    dry_run: bool = False,
) -> UpdateResult:
    record = read_record(dest)
    old = store.load(record.template, record.version)
    target_version = to_version or store.latest(record.template)
    try:
        if parse_semver(target_version) < parse_semver(record.version):
            raise InputError(
                f"--to {target_version} is older than the service's template version "
                f"{record.version}; downgrades are not supported"
            )
    except ValueError as exc:
        raise InputError(f"--to: {exc}") from None
    new = store.load(record.template, target_version)

    base_answers = resolve_answers(old.manifest, record.answers, source=RECORD_PATH)
    known = {p.name for p in new.manifest.parameters}
    carried = {k: v for k, v in record.answers.items() if k in known}
    new_answers = resolve_answers(new.manifest, {**carried, **(given or {})}, ask=ask)

    base_files = render_template(old, base_answers, gatekeeper_version=record.gatekeeper_version)
    new_files = render_template(new, new_answers)
    mismatches = tuple(
        path
        for path, file in base_files.items()
        if path in record.files and record.files[path] != file.sha256
    )
    labels = ("local", f"{record.template} {record.version}", f"{record.template} {new.version}")

    changes: list[FileChange] = []
    for path in sorted(set(base_files) | set(new_files)):
        ours = _read_current(dest, path)
        if _has_conflict_markers(ours) and path in new_files:
            raise InputError(
                f"{path} still has conflict markers from an earlier update: resolve them first",
                path=str(dest),
            )
        change = plan_file(path, base_files.get(path), new_files.get(path), ours, labels=labels)
        if change is not None:
            changes.append(change)

    if not dry_run:
        for change in changes:
            if not change.writes:
                continue
            if change.after is None:
                remove_file(dest, change.path)
            else:
                theirs = new_files.get(change.path)
                write_file(
                    dest, change.path, change.after, executable=bool(theirs and theirs.executable)
                )
        record_new = record_for(new, new_answers, new_files)
        write_file(dest, RECORD_PATH, record_new.to_json().encode("utf-8"))
    return UpdateResult(
        template=record.template,
        from_version=record.version,
        to_version=new.version,
        changes=tuple(changes),
        dry_run=dry_run,
        base_mismatches=mismatches,
    )
