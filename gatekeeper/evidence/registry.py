"""Evidence readers by kind name, and auto-detection of a document's kind.

Adding a kind is adding a reader module and one line in ``_IN_PRIORITY_ORDER``, registered in
``READERS`` in that order. The registration order is the detection priority: the most specific
shapes first (a standalone CycloneDX VEX is also a CycloneDX document, so VEX is asked before
SBOM), so exactly one reader claims each document.
"""

from __future__ import annotations

from collections.abc import Callable

from gatekeeper.errors import InputError
from gatekeeper.evidence.interface import EvidenceError, EvidenceReader, ParsedDocument
from gatekeeper.evidence.readers.attestation import AttestationReader
from gatekeeper.evidence.readers.cyclonedx import CycloneDxReader
from gatekeeper.evidence.readers.cyclonedx_vex import CycloneDxVexReader
from gatekeeper.evidence.readers.grype import GrypeReader
from gatekeeper.evidence.readers.openvex import OpenVexReader
from gatekeeper.evidence.readers.osv_scanner import OsvScannerReader
from gatekeeper.evidence.readers.pip_audit import PipAuditReader
from gatekeeper.evidence.readers.sarif import SarifReader
from gatekeeper.evidence.readers.semgrep import SemgrepReader
from gatekeeper.evidence.readers.spdx import SpdxReader
from gatekeeper.evidence.readers.trivy import TrivyReader
from gatekeeper.registry import Registry

_IN_PRIORITY_ORDER: tuple[EvidenceReader, ...] = (
    AttestationReader(),
    OpenVexReader(),
    CycloneDxVexReader(),
    CycloneDxReader(),
    SpdxReader(),
    SarifReader(),
    SemgrepReader(),
    GrypeReader(),
    TrivyReader(),
    OsvScannerReader(),
    PipAuditReader(),
)

READERS: Registry[EvidenceReader] = Registry("evidence kind", error=EvidenceError, plural="kinds")


def _shared(reader: EvidenceReader) -> Callable[[], EvidenceReader]:
    # Readers are stateless: every lookup shares one instance.
    return lambda: reader


for _reader in _IN_PRIORITY_ORDER:
    READERS.register(_reader.kind, _shared(_reader))


def known_kinds() -> str:
    return ", ".join(READERS)


def syntaxes_of(reader: EvidenceReader) -> tuple[str, ...]:
    """The syntaxes a reader accepts (a reader may declare several in ``syntaxes``)."""
    declared = getattr(reader, "syntaxes", None)
    return tuple(declared) if declared else (reader.syntax,)


def get_reader(kind: str) -> EvidenceReader:
    """The reader for ``--kind``; an unknown name is a usage error listing the valid ones."""
    return READERS.create(kind)


def detect_kind(doc: ParsedDocument) -> EvidenceReader:
    """The first reader, in priority order, that claims the document."""
    for name in READERS:
        reader = READERS.create(name)
        if doc.syntax in syntaxes_of(reader) and reader.detect(doc):
            return reader
    raise EvidenceError(
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
