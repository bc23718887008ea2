"""``--validate``: check SBOMs against their official schema before reading them.

CycloneDX JSON is validated with the compiled ``jsonschema-rs`` validator against the official
schemas shipped in ``gatekeeper/evidence/schemas`` (the pure-Python validator needs ~15 s on
5,000 components; this takes milliseconds). Their ``$ref``s to the SPDX, JSF and cryptography
schemas are resolved from the same folder; a retriever that refuses every URI keeps it offline.

CycloneDX XML is validated with ``xmlschema`` against the official XSDs shipped in the same
folder. Offline and defused: schemas load only from that folder (``allow="sandbox"``), the
document is the tree ``loading`` already parsed with defusedxml (no DTD, no entities), and its
``xsi:schemaLocation`` hints are ignored. The XSDs' one identity constraint (``xs:unique`` of
``@bom-ref`` over ``.//*``) is checked here in one pass instead: xmlschema evaluates its XPath
once per element, which took 9 of 14 s on a 903-component SBOM. SPDX gets a structural check.
Other kinds have no official schema; their readers check the shape they rely on.

The validators are imported on first use: only ``--validate`` needs them.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from gatekeeper.errors import InputError
from gatekeeper.evidence.interface import ParsedDocument
from gatekeeper.evidence.shape import Shape, pointer

CYCLONEDX_VERSIONS = ("1.2", "1.3", "1.4", "1.5", "1.6", "1.7")
CYCLONEDX_XML_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7")
_CDX_XML_NAMESPACE = "http://cyclonedx.org/schema/bom/"
_SCHEMA_DIR = Path(__file__).resolve().with_name("schemas")
_UNIQUE_BOM_REF = re.compile(r'<xs:unique name="bom-ref">.*?</xs:unique>', re.DOTALL)
_QNAME_NAMESPACE = re.compile(r"\{[^}]*\}")
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
    import jsonschema_rs

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
        _validate_cyclonedx_xml(doc)
        return
    import jsonschema_rs

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


@lru_cache(maxsize=len(CYCLONEDX_XML_VERSIONS))
def cyclonedx_xsd(spec_version: str) -> Any:
    """The compiled XSD of one CycloneDX version, without its bom-ref xs:unique (checked by
    :func:`_unique_bom_refs`). Cached: compiling takes 0.3-2 s, more for newer versions."""
    import xmlschema

    source = (_SCHEMA_DIR / f"bom-{spec_version}.xsd").read_text("utf-8")
    source = _UNIQUE_BOM_REF.sub("", source)
    return xmlschema.XMLSchema(source, base_url=str(_SCHEMA_DIR), allow="sandbox", defuse="always")


def _validate_cyclonedx_xml(doc: ParsedDocument) -> None:
    import xmlschema

    root: Element = doc.data
    tag = str(root.tag)
    namespace = tag[1 : tag.index("}")] if tag.startswith("{") else ""
    version = namespace.removeprefix(_CDX_XML_NAMESPACE)
    if not namespace.startswith(_CDX_XML_NAMESPACE) or version not in CYCLONEDX_XML_VERSIONS:
        raise InputError(
            f"cannot validate CycloneDX XML namespace {namespace!r}; "
            f"schemas are shipped for {', '.join(CYCLONEDX_XML_VERSIONS)}",
            path=doc.path,
        )
    try:
        schema = cyclonedx_xsd(version)
    except (xmlschema.XMLSchemaException, OSError) as exc:
        raise InputError(
            f"CycloneDX {version} XSD could not be compiled: {_one_line(str(exc))}",
            path=doc.path,
        ) from None
    # The tree parsed by loading (defused) is validated as is; the resource may open nothing.
    resource = xmlschema.XMLResource(root, allow="none", defuse="always")
    errors = schema.iter_errors(resource, use_location_hints=False)
    first = next(errors, None)
    duplicate = _unique_bom_refs(root)
    if first is None and duplicate is None:
        return
    count = (1 if first is not None else 0) + (1 if duplicate is not None else 0)
    for _ in errors:
        count += 1
        if count >= _MAX_COUNTED_ERRORS:
            break
    more = "+" if count >= _MAX_COUNTED_ERRORS else ""
    element: Element | None = None
    if first is not None:
        element = first.elem if isinstance(first.elem, Element) else None
        message = _one_line(_QNAME_NAMESPACE.sub("", str(first.reason or first.message)))
        where = _QNAME_NAMESPACE.sub("", first.path or "") or "/"
    elif duplicate is not None:
        element, ref = duplicate
        message = f"bom-ref {ref!r} is not unique (xs:unique bom-ref)"
        where = _element_path(root, element)
    line = _line_of(doc, root, element) if element is not None else None
    raise InputError(
        f"does not conform to the CycloneDX {version} XML schema "
        f"({count}{more} error{'s' if count != 1 else ''}; first: {message} at {where})",
        path=doc.path,
        where=str(line) if line else None,
    )


def _unique_bom_refs(root: Element) -> tuple[Element, str] | None:
    """The first element whose bom-ref attribute repeats an earlier one (the XSDs' xs:unique)."""
    seen: set[str] = set()
    for element in root.iter():
        ref = element.get("bom-ref")
        if ref is None:
            continue
        if ref in seen:
            return element, ref
        seen.add(ref)
    return None


def _element_path(root: Element, target: Element) -> str:
    """``/bom/components/component[3]`` (1-based among same-named siblings, as XPath)."""
    parents = {child: parent for parent in root.iter() for child in parent}
    steps: list[str] = []
    element = target
    while element is not root:
        parent = parents[element]
        same = [c for c in parent if c.tag == element.tag]
        name = _QNAME_NAMESPACE.sub("", str(element.tag))
        steps.append(f"{name}[{same.index(element) + 1}]" if len(same) > 1 else name)
        element = parent
    steps.append(_QNAME_NAMESPACE.sub("", str(root.tag)))
    return "/" + "/".join(reversed(steps))


def _line_of(doc: ParsedDocument, root: Element, target: Element) -> int | None:
    """The line where ``target`` starts, from a second, line-tracking parse of the same file.

    ElementTree keeps no line numbers, so this runs only when there is an error to locate:
    elements start in the same order in both parses, so the target's position in document
    order picks its line. None when the file changed since it was read.
    """
    from gatekeeper.evidence.loading import element_start_lines

    ordinal = next((i for i, e in enumerate(root.iter()) if e is target), None)
    if ordinal is None:
        return None
    lines = element_start_lines(doc)
    return lines[ordinal] if lines is not None and ordinal < len(lines) else None


def _one_line(text: str) -> str:
    words = " ".join(text.split())
    return words if len(words) <= 300 else words[:297] + "..."


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
