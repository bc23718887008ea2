"""Evidence layer: read SBOMs, scan reports, SAST results, VEX and attestations into one view.

``load_evidence`` reads every file (size-bounded, safely parsed), detects or forces its kind,
optionally validates it against its schema, normalizes it with the kind's reader, and merges the
results (vulnerabilities deduplicated across scanners, VEX applied). Every per-file problem is
collected before anything is raised, so a user sees all of them at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from gatekeeper.errors import InputError
from gatekeeper.evidence.interface import (
    EvidenceError,
    EvidenceErrors,
    EvidencePart,
    EvidenceReader,
    ParsedDocument,
    VexRecord,
)
from gatekeeper.evidence.loading import (
    DEFAULT_MAX_BYTES,
    gc_paused,
    read_document,
)
from gatekeeper.evidence.merge import MergedEvidence, merge_evidence
from gatekeeper.evidence.registry import READERS, detect_kind, get_reader, reader_for
from gatekeeper.evidence.validate import validate_document
from gatekeeper.model import EvidenceRef

__all__ = [
    "DEFAULT_MAX_BYTES",
    "READERS",
    "EvidenceError",
    "EvidenceErrors",
    "EvidencePart",
    "EvidenceReader",
    "MergedEvidence",
    "ParsedDocument",
    "VexRecord",
    "detect_kind",
    "gc_paused",
    "get_reader",
    "load_evidence",
    "read_evidence_file",
]


def read_evidence_file(
    path: str,
    *,
    kind: str | None = None,
    validate: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[EvidenceRef, EvidencePart]:
    """Read one file into its reader's output. Raises InputError naming the file."""
    doc = read_document(path, max_bytes=max_bytes)
    reader = reader_for(doc, kind)
    try:
        if validate:
            validate_document(doc, reader.kind)
        part = reader.read(doc)
    except InputError:
        raise
    except RecursionError:
        raise InputError(f"{reader.kind}: document is nested too deeply", path=path) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # A reader bug must not become a traceback or a silently passing gate.
        raise InputError(
            f"{reader.kind}: unexpected content ({type(exc).__name__}: {exc})", path=path
        ) from None
    return EvidenceRef(path=path, kind=reader.kind, sha256=doc.sha256), part


def load_evidence(
    paths: Sequence[str],
    *,
    kind: str | None = None,
    validate: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> MergedEvidence:
    """Read and merge every evidence file; raise EvidenceErrors listing every file's problem."""
    if kind is not None:
        get_reader(kind)  # an unknown --kind is one usage error, not one per file
    refs: list[EvidenceRef] = []
    parts: list[EvidencePart] = []
    errors: list[InputError] = []
    with gc_paused():
        for path in paths:
            try:
                ref, part = read_evidence_file(
                    path, kind=kind, validate=validate, max_bytes=max_bytes
                )
            except InputError as exc:
                errors.append(exc)
                continue
            refs.append(ref)
            parts.append(part)
        if errors:
            raise EvidenceErrors(errors)
        return merge_evidence(refs, parts)
