"""The evidence-reader axis: one reader per evidence kind, registered by name.

A reader is handed a document that has already been read (size-bounded) and parsed safely
(JSON, or XML without entity expansion). ``detect`` says whether the content is its kind;
``read`` normalizes it into an :class:`EvidencePart`. Readers raise
:class:`gatekeeper.errors.InputError` (with the file and a JSON pointer or line) for content of
their kind with the wrong shape; they never return partial results silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from gatekeeper.errors import InputError
from gatekeeper.model import Attestation, Component, Finding, SbomInfo, VexStatement, Vulnerability


class EvidenceError(InputError):
    """An evidence file is unreadable, malformed or of unknown kind (exit 2). Readers may
    raise any :class:`~gatekeeper.errors.InputError`; this is the axis's own type."""


class EvidenceErrors(EvidenceError):
    """Every per-file error of one ``load_evidence`` call, so a user fixes them all at once."""

    def __init__(self, errors: list[InputError]):
        self.errors = list(errors)
        first = self.errors[0].one_line() if self.errors else "evidence could not be read"
        more = len(self.errors) - 1
        super().__init__(f"{first} (and {more} more)" if more > 0 else first)


@dataclass(frozen=True)
class ParsedDocument:
    path: str
    sha256: str
    syntax: Literal["json", "xml"]
    # JSON: the decoded value. XML: the root xml.etree.ElementTree.Element.
    data: Any
    size: int = 0


@dataclass(frozen=True)
class VexRecord:
    """A VEX statement to apply to matching vulnerabilities after all evidence is read."""

    vulnerability: str  # id or alias
    statement: VexStatement
    # Products the statement is about: purls (with or without version/qualifiers) or bom-refs.
    # Empty means every component.
    products: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvidencePart:
    """What one reader produced from one file."""

    kind: str
    components: tuple[Component, ...] = ()
    vulnerabilities: tuple[Vulnerability, ...] = ()
    findings: tuple[Finding, ...] = ()
    vex: tuple[VexRecord, ...] = ()
    sbom: SbomInfo | None = None
    attestations: tuple[Attestation, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


class EvidenceReader(Protocol):
    kind: ClassVar[str]
    description: ClassVar[str]
    syntax: ClassVar[Literal["json", "xml"]]

    def detect(self, doc: ParsedDocument) -> bool: ...

    def read(self, doc: ParsedDocument) -> EvidencePart: ...
