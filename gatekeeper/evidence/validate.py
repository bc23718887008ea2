"""``--validate``: check SBOMs against their official schema before reading them.

CycloneDX JSON is validated with the compiled ``jsonschema-rs`` validator against the official
schemas shipped in ``gatekeeper/evidence/schemas`` (the pure-Python validator needs ~15 s on
5,000 components; this takes milliseconds). Their ``$ref``s to the SPDX, JSF and cryptography
schemas are resolved from the same folder; a retriever that refuses every URI keeps it offline.
CycloneDX XML (XSD) validation is not supported and fails closed. SPDX gets a structural check.
Other kinds have no official schema; their readers check the shape they rely on.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema_rs

from gatekeeper.errors import InputError
from gatekeeper.evidence.interface import ParsedDocument
from gatekeeper.evidence.shape import Shape, pointer

CYCLONEDX_VERSIONS = ("1.2", "1.3", "1.4", "1.5", "1.6", "1.7")
_SCHEMA_BASE = "http://cyclonedx.org/schema/"
_SUPPORT_SCHEMAS = ("spdx.schema.json", "jsf-0.82.schema.json", "cryptography-defs.schema.json")
# Counting stops here: a broken 100k-component SBOM should not spend long listing errors.
_MAX_COUNTED_ERRORS = 10_000


def _load_schema(name: str) -> Any:
    text = resources.files("gatekeeper.evidence").joinpath("schemas", name).read_text("utf-8")
    return json.loads(text)


def _refuse_network(uri: str) -> Any:
    raise ValueError(f"schema reference {uri} is not shipped with gatekeeper (offline only)")


@lru_cache(maxsize=len(CYCLONEDX_VERSIONS))
def cyclonedx_validator(spec_version: str) -> Any:
    """A compiled validator for one CycloneDX version (cached: compiling takes ~100 ms)."""
    registry = jsonschema_rs.Registry(
        [(_SCHEMA_BASE + name, _load_schema(name)) for name in _SUPPORT_SCHEMAS],
        retriever=_refuse_network,
    )
    schema = _load_schema(f"bom-{spec_version}.schema.json")
    return jsonschema_rs.validator_for(
        schema, registry=registry, retriever=_refuse_network, validate_formats=True
    )


def _json_pointer(parts: list[str | int]) -> str:
    where = ""
    for part in parts:
        where = pointer(where, part)
    return where or "/"


def validate_document(doc: ParsedDocument, kind: str) -> None:
    """Raise InputError when the document does not conform to its kind's schema."""
    if kind in ("cyclonedx", "cyclonedx-vex"):
        _validate_cyclonedx(doc)
    elif kind == "spdx":
        _validate_spdx(doc)


def _validate_cyclonedx(doc: ParsedDocument) -> None:
    if doc.syntax == "xml":
        raise InputError(
            "--validate does not support CycloneDX XML (no XSD validation offline); "
            "validate the JSON form, or run without --validate",
            path=doc.path,
        )
    data = doc.data
    version = data.get("specVersion") if isinstance(data, dict) else None
    if version not in CYCLONEDX_VERSIONS:
        raise InputError(
            f"cannot validate CycloneDX specVersion {version!r}; "
            f"schemas are shipped for {', '.join(CYCLONEDX_VERSIONS)}",
            path=doc.path,
            where="/specVersion",
        )
    try:
        validator = cyclonedx_validator(version)
    except (jsonschema_rs.ReferencingError, ValueError) as exc:
        raise InputError(
            f"CycloneDX {version} schema could not be compiled: {exc}", path=doc.path
        ) from None
    errors = validator.iter_errors(data)
    first = next(errors, None)
    if first is None:
        return
    count = 1
    for _ in errors:
        count += 1
        if count >= _MAX_COUNTED_ERRORS:
            break
    more = "+" if count >= _MAX_COUNTED_ERRORS else ""
    raise InputError(
        f"does not conform to the CycloneDX {version} schema "
        f"({count}{more} error{'s' if count != 1 else ''}; first: {first.message})",
        path=doc.path,
        where=_json_pointer(list(first.instance_path)),
    )


def _validate_spdx(doc: ParsedDocument) -> None:
    """The fields every SPDX 2.x document and package must have (spec clauses 6 and 7)."""
    s = Shape(doc.path, "spdx")
    data = s.obj(doc.data, "")
    version = s.req_str(data, "spdxVersion", "")
    if not version.startswith("SPDX-2."):
        s.fail("/spdxVersion", f"unsupported SPDX version {version!r} (expected SPDX-2.x)")
    for key in ("SPDXID", "name", "dataLicense", "documentNamespace"):
        s.req_str(data, key, "")
    creation = s.obj(data.get("creationInfo"), "/creationInfo")
    s.req_str(creation, "created", "/creationInfo")
    if not s.str_list(creation, "creators", "/creationInfo"):
        s.fail("/creationInfo/creators", "at least one creator is required")
    for where, package in s.objects(data, "packages", ""):
        for key in ("SPDXID", "name", "downloadLocation"):
            s.req_str(package, key, where)
