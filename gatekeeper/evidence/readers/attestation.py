"""in-toto attestations: a bare Statement (v0.1 / v1) or one wrapped in a DSSE envelope.

Signatures are not verified here: this reads what the attestation claims. Verifying who signed
it is a separate concern (and a policy can require a signed source).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, ClassVar, Literal

from gatekeeper.evidence.interface import EvidencePart, ParsedDocument
from gatekeeper.evidence.shape import JsonObject, Shape, pointer
from gatekeeper.model import Attestation

STATEMENT_TYPES = ("https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1")
DSSE_PAYLOAD_TYPE = "application/vnd.in-toto+json"


class AttestationReader:
    kind: ClassVar[str] = "attestation"
    description: ClassVar[str] = "in-toto attestation (Statement or DSSE envelope), e.g. SLSA"
    syntax: ClassVar[Literal["json", "xml"]] = "json"

    def detect(self, doc: ParsedDocument) -> bool:
        data = doc.data
        if doc.syntax != "json" or not isinstance(data, dict):
            return False
        return data.get("_type") in STATEMENT_TYPES or (
            data.get("payloadType") == DSSE_PAYLOAD_TYPE and "payload" in data
        )

    def read(self, doc: ParsedDocument) -> EvidencePart:
        s = Shape(doc.path, self.kind)
        data = s.obj(doc.data, "")
        base = ""
        if "payloadType" in data:
            statement, base = self._unwrap(s, data), "/payload"
        else:
            statement = data
        return EvidencePart(
            kind=self.kind, attestations=(self._attestation(s, statement, base, doc.path),)
        )

    def _unwrap(self, s: Shape, envelope: JsonObject) -> JsonObject:
        payload_type = s.req_str(envelope, "payloadType", "")
        if payload_type != DSSE_PAYLOAD_TYPE:
            s.fail("/payloadType", f"DSSE payloadType {payload_type!r} is not {DSSE_PAYLOAD_TYPE}")
        encoded = s.req_str(envelope, "payload", "")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            try:  # some producers use the URL-safe alphabet
                raw = base64.urlsafe_b64decode(encoded)
            except (binascii.Error, ValueError):
                s.fail("/payload", "payload is not valid base64")
        try:
            decoded: Any = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            s.fail("/payload", "payload is not a JSON in-toto statement")
        return s.obj(decoded, "/payload")

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
