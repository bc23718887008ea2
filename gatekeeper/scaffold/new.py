"""``scaffold new``: answers -> render -> check everything -> write (or list, for --dry-run).

All checks (answers, rendering, path safety, existing files) happen before the first byte is
written, so a refused run leaves the destination exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatekeeper import __version__
from gatekeeper.errors import InputError
from gatekeeper.scaffold.answers import Asker, resolve_answers
from gatekeeper.scaffold.record import RECORD_PATH, TemplateRecord
from gatekeeper.scaffold.render import (
    RenderedFile,
    existing_files,
    render_template,
    safe_target,
    write_file,
)
from gatekeeper.scaffold.template import Template, TemplateStore


@dataclass(frozen=True)
class NewResult:
    template: Template
    answers: dict[str, Any]
    files: tuple[str, ...]  # every path written (or that would be), the record included
    overwritten: tuple[str, ...]
    dry_run: bool


def record_for(
    template: Template, answers: Mapping[str, Any], files: Mapping[str, RenderedFile]
) -> TemplateRecord:
    return TemplateRecord(
        template=template.id,
        version=template.version,
        answers=dict(answers),
        gatekeeper_version=__version__,
        files={path: f.sha256 for path, f in files.items()},
    )


def scaffold_new(
    store: TemplateStore,
    template_id: str,
    dest: Path,
    given: Mapping[str, Any],
    *,
    ask: Asker | None = None,
    force: bool = False,
    dry_run: bool = False,
    version: str | None = None,
) -> NewResult:
    template = store.load(template_id, version)
    if dest.exists() and not dest.is_dir():
        raise InputError("destination exists and is not a directory", path=str(dest))
    answers = resolve_answers(template.manifest, given, ask=ask)
    files = render_template(template, answers)
    if RECORD_PATH in files:
        raise InputError(f"templates may not ship {RECORD_PATH}", path=str(template.root))
    record = record_for(template, answers, files)
    paths = [*files, RECORD_PATH]
    for path in paths:
        safe_target(dest, path)  # raises on symlinks inside dest
    clashes = existing_files(dest, paths)
    if clashes and not force:
        more = f" and {len(clashes) - 1} more" if len(clashes) > 1 else ""
        raise InputError(
            f"would overwrite {clashes[0]}{more}; use --force to overwrite", path=str(dest)
        )
    if not dry_run:
        for path, file in files.items():
            write_file(dest, path, file.content, executable=file.executable)
        write_file(dest, RECORD_PATH, record.to_json().encode("utf-8"))
    return NewResult(
        template=template,
        answers=answers,
        files=tuple(paths),
        overwritten=tuple(clashes),
        dry_run=dry_run,
    )
