"""in-toto attestations: a bare Statement (v0.1 / v1), one wrapped in a DSSE envelope, or a
Sigstore bundle wrapping a DSSE envelope (what ``cosign attest`` and ``gh attestation``
emit); also ``.intoto.jsonl`` files, one of these per line.

The statement is read in every case. When a public key is configured
(``GATEKEEPER_ATTESTATION_KEY``, :mod:`gatekeeper.evidence.signatures`), each envelope's
signatures are checked against it and the result recorded in ``signature_verified``; a
policy decides what an unverified attestation means.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, ClassVar, Literal

from gatekeeper.errors import InputError
from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.shape import JsonObject, Shape, pointer
from gatekeeper.evidence.signatures import configured_key, pae, verify
from gatekeeper.loading import check_depth, decode_utf8, parse_json_text
from gatekeeper.model import Attestation

STATEMENT_TYPES = ("https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1")
DSSE_PAYLOAD_TYPE = "application/vnd.in-toto+json"
SIGSTORE_BUNDLE_PREFIX = "application/vnd.dev.sigstore.bundle"


def _is_attestation(data: object) -> bool:
    if not isinstance(data, dict):
        return False
    media_type = data.get("mediaType")
    return (
        data.get("_type") in STATEMENT_TYPES
        or (data.get("payloadType") == DSSE_PAYLOAD_TYPE and "payload" in data)
        or (isinstance(media_type, str) and media_type.startswith(SIGSTORE_BUNDLE_PREFIX))
    )


class AttestationReader:
    kind: ClassVar[str] = "attestation"
    description: ClassVar[str] = (
        "in-toto attestation (Statement, DSSE envelope, Sigstore bundle; .intoto.jsonl "
        "with one per line), e.g. SLSA"
    )
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        if doc.syntax != "json":
            return False
        if isinstance(data, list):  # JSON Lines
            return bool(data) and all(_is_attestation(item) for item in data)
        return _is_attestation(data)

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        key = configured_key()
        items = doc.data if isinstance(doc.data, list) else [doc.data]
        several = isinstance(doc.data, list)
        attestations = []
        for index, item in enumerate(items):
            # A JSON Lines file is pointed into by line (1-based), like an array.
            where = f"/{index + 1}" if several else ""
            attestations.append(self._one(s, s.obj(item, where or "/"), where, doc.path, key))
        return EvidencePart(kind=self.kind, attestations=tuple(attestations))

    def _one(self, s: Shape, data: JsonObject, where: str, source: str, key: Any) -> Attestation:
        media_type = s.get_str(data, "mediaType", where) or ""
        if media_type.startswith(SIGSTORE_BUNDLE_PREFIX):
            envelope = s.get_obj(data, "dsseEnvelope", where)
            if envelope is None:
                s.fail(
                    pointer(where, "dsseEnvelope"),
                    "Sigstore bundle has no dsseEnvelope (a signed blob, not an attestation)",
                )
            return self._enveloped(
                s, envelope, pointer(where, "dsseEnvelope"), source, key, "sigstore-bundle"
            )
        if "payloadType" in data:
            return self._enveloped(s, data, where, source, key, "dsse")
        return self._attestation(s, data, where, source)

    def _enveloped(
        self, s: Shape, envelope: JsonObject, where: str, source: str, key: Any, kind: str
    ) -> Attestation:
        payload_type = s.req_str(envelope, "payloadType", where)
        raw = self._payload_bytes(s, envelope, where, payload_type)
        statement = self._decode_statement(s, raw, pointer(where, "payload"), source)
        signatures: list[bytes] = []
        for sw, item in s.objects(envelope, "signatures", where):
            signatures.append(_b64(s, s.req_str(item, "sig", sw), pointer(sw, "sig")))
        verified: bool | None = None
        if key is not None and signatures:
            message = pae(payload_type, raw)
            verified = any(verify(key, message, sig) for sig in signatures)
        attestation = self._attestation(s, statement, pointer(where, "payload"), source)
        return attestation.model_copy(
            update={"envelope": kind, "signed": bool(signatures), "signature_verified": verified}
        )

    def _payload_bytes(
        self, s: Shape, envelope: JsonObject, where: str, payload_type: str
    ) -> bytes:
        if payload_type != DSSE_PAYLOAD_TYPE:
            s.fail(
                pointer(where, "payloadType"),
                f"DSSE payloadType {payload_type!r} is not {DSSE_PAYLOAD_TYPE}",
            )
        return _b64(s, s.req_str(envelope, "payload", where), pointer(where, "payload"))

    def _decode_statement(self, s: Shape, raw: bytes, where: str, source: str) -> JsonObject:
        try:
            text = decode_utf8(raw, display=source)
            decoded: Any = parse_json_text(text, display=source)
            check_depth(decoded, display=source)
        except InputError as exc:
            s.fail(where, f"payload is not a JSON in-toto statement ({exc.message})")
        return s.obj(decoded, where)

    def _attestation(self, s: Shape, statement: JsonObject, base: str, source: str) -> Attestation:
        statement_type = s.req_str(statement, "_type", base)
        if statement_type not in STATEMENT_TYPES:
            s.fail(pointer(base, "_type"), f"unknown in-toto statement type {statement_type!r}")
        subjects: list[dict[str, Any]] = []
        for sw, subject in s.objects(statement, "subject", base):
            digest = s.get_obj(subject, "digest", sw) or {}
            for alg, value in digest.items():
                if not isinstance(value, str):
                    s.fail(pointer(pointer(sw, "digest"), alg), "digest must be a string")
            subjects.append({"name": s.get_str(subject, "name", sw), "digest": dict(digest)})
        predicate = s.get_obj(statement, "predicate", base) or {}
        pw = pointer(base, "predicate")
        builder_id = build_type = None
        run_details = s.get_obj(predicate, "runDetails", pw)
        if run_details is not None:  # SLSA v1
            rdw = pointer(pw, "runDetails")
            builder = s.get_obj(run_details, "builder", rdw) or {}
            builder_id = s.get_str(builder, "id", pointer(rdw, "builder"))
            definition = s.get_obj(predicate, "buildDefinition", pw) or {}
            build_type = s.get_str(definition, "buildType", pointer(pw, "buildDefinition"))
        else:  # SLSA v0.2
            builder = s.get_obj(predicate, "builder", pw) or {}
            builder_id = s.get_str(builder, "id", pointer(pw, "builder"))
            build_type = s.get_str(predicate, "buildType", pw)
        return Attestation(
            predicate_type=s.req_str(statement, "predicateType", base),
            builder_id=builder_id,
            build_type=build_type,
            subjects=tuple(subjects),
            source=source,
        )


def _b64(s: Shape, encoded: str, where: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        try:  # some producers use the URL-safe alphabet
            return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            s.fail(where, "not valid base64")
