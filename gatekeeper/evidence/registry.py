"""Evidence readers by kind name, and auto-detection of a document's kind.

Adding a kind is adding a reader module and one line in ``READERS``. The dict order is the
detection priority: the most specific shapes first (a standalone CycloneDX VEX is also a
CycloneDX document, so VEX is asked before SBOM), so exactly one reader claims each document.
"""

from __future__ import annotations

from gatekeeper.errors import InputError
from gatekeeper.evidence.interface import EvidenceReader, ParsedDocument
from gatekeeper.evidence.readers.attestation import AttestationReader
from gatekeeper.evidence.readers.csaf import CsafVexReader
from gatekeeper.evidence.readers.cyclonedx import CycloneDxReader
from gatekeeper.evidence.readers.cyclonedx_vex import CycloneDxVexReader
from gatekeeper.evidence.readers.grype import GrypeReader
from gatekeeper.evidence.readers.openvex import OpenVexReader
from gatekeeper.evidence.readers.osv_scanner import OsvScannerReader
from gatekeeper.evidence.readers.pip_audit import PipAuditReader
from gatekeeper.evidence.readers.sarif import SarifReader
from gatekeeper.evidence.readers.semgrep import SemgrepReader
from gatekeeper.evidence.readers.spdx import SpdxReader
from gatekeeper.evidence.readers.spdx3 import Spdx3Reader
from gatekeeper.evidence.readers.syft import SyftReader
from gatekeeper.evidence.readers.trivy import TrivyReader

_IN_PRIORITY_ORDER: tuple[EvidenceReader, ...] = (
    AttestationReader(),
    OpenVexReader(),
    CsafVexReader(),
    CycloneDxVexReader(),
    CycloneDxReader(),
    SpdxReader(),
    Spdx3Reader(),
    SyftReader(),
    SarifReader(),
    SemgrepReader(),
    GrypeReader(),
    TrivyReader(),
    OsvScannerReader(),
    PipAuditReader(),
)

READERS: dict[str, EvidenceReader] = {reader.kind: reader for reader in _IN_PRIORITY_ORDER}


def known_kinds() -> str:
    return ", ".join(READERS)


def syntaxes_of(reader: EvidenceReader) -> tuple[str, ...]:
    """The syntaxes a reader accepts (a reader may declare several in ``syntaxes``)."""
    declared = getattr(reader, "syntaxes", None)
    return tuple(declared) if declared else (reader.syntax,)


def get_reader(kind: str) -> EvidenceReader:
    """The reader for ``--kind``; an unknown name is a usage error listing the valid ones."""
    reader = READERS.get(kind)
    if reader is None:
        raise InputError(f"unknown evidence kind {kind!r}; known kinds: {known_kinds()}")
    return reader


def detect_kind(doc: ParsedDocument) -> EvidenceReader:
    """The first reader, in priority order, that claims the document."""
    for reader in _IN_PRIORITY_ORDER:
        if doc.syntax in syntaxes_of(reader) and reader.detect(doc):
            return reader
    raise InputError(
        f"unknown evidence kind ({doc.syntax.upper()} document matches no reader); "
        f"known kinds: {known_kinds()}; pass --kind to force one",
        path=doc.path,
    )


def reader_for(doc: ParsedDocument, kind: str | None) -> EvidenceReader:
    """``--kind`` when given (checked against the document's syntax), else detection."""
    if kind is None:
        return detect_kind(doc)
    reader = get_reader(kind)
    if doc.syntax not in syntaxes_of(reader):
        accepted = " or ".join(s.upper() for s in syntaxes_of(reader))
        raise InputError(
            f"--kind {kind} expects {accepted} but the file is {doc.syntax.upper()}",
            path=doc.path,
        )
    return reader
