"""SPDX 2.x tag-value documents (``SPDXVersion: SPDX-2.3`` …), turned into the SPDX JSON
shape so the SPDX reader judges both the same way.

Tag-value is ``Tag: value`` lines, ``<text>…</text>`` for multi-line values, ``#`` comments.
``PackageName`` starts a package (the tags after it, up to the next ``PackageName`` or
``FileName``/``SnippetSPDXID``, describe it); ``Relationship: A TYPE B`` lines relate elements.
"""

from __future__ import annotations

import re
from typing import Any

from gatekeeper.errors import InputError

_TAG_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9]*)\s*:\s?(.*)$")
_PACKAGE_FIELDS = {
    "PackageVersion": "versionInfo",
    "PackageSupplier": "supplier",
    "PackageOriginator": "originator",
    "PackageDownloadLocation": "downloadLocation",
    "PackageLicenseConcluded": "licenseConcluded",
    "PackageLicenseDeclared": "licenseDeclared",
    "PackageCopyrightText": "copyrightText",
    "PrimaryPackagePurpose": "primaryPackagePurpose",
    "PackageFileName": "packageFileName",
}


def looks_like_tag_value(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.startswith("SPDXVersion:")
    return False


def _pairs(path: str, text: str) -> list[tuple[int, str, str]]:
    pairs: list[tuple[int, str, str]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index]
        index += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _TAG_LINE.match(stripped)
        if match is None:
            raise InputError("SPDX tag-value: expected 'Tag: value'", path=path, where=str(number))
        tag, value = match.group(1), match.group(2).strip()
        if value.startswith("<text>"):
            body = value.removeprefix("<text>")
            while "</text>" not in body:
                if index >= len(lines):
                    raise InputError(
                        f"SPDX tag-value: {tag} <text> is never closed",
                        path=path,
                        where=str(number),
                    )
                body += "\n" + lines[index]
                index += 1
            value = body.split("</text>", 1)[0].strip()
        pairs.append((number, tag, value))
    return pairs


def tag_value_to_json(path: str, text: str) -> dict[str, Any]:
    """The document in the SPDX 2.3 JSON shape; a malformed line is an InputError."""
    document: dict[str, Any] = {"creationInfo": {"creators": []}, "packages": []}
    relationships: list[dict[str, str]] = []
    package: dict[str, Any] | None = None
    in_file = False
    for number, tag, value in _pairs(path, text):
        if tag == "PackageName":
            package = {"name": value, "externalRefs": [], "checksums": []}
            document["packages"].append(package)
            in_file = False
        elif tag in ("FileName", "SnippetSPDXID"):
            in_file = True
        elif tag == "SPDXVersion":
            document["spdxVersion"] = value
        elif tag == "DataLicense":
            document["dataLicense"] = value
        elif tag == "DocumentName":
            document["name"] = value
        elif tag == "DocumentNamespace":
            document["documentNamespace"] = value
        elif tag == "Creator":
            document["creationInfo"]["creators"].append(value)
        elif tag == "Created":
            document["creationInfo"]["created"] = value
        elif tag == "Relationship":
            parts = value.split()
            if len(parts) != 3:
                raise InputError(
                    "SPDX tag-value: Relationship needs 'A TYPE B'", path=path, where=str(number)
                )
            relationships.append(
                {
                    "spdxElementId": parts[0],
                    "relationshipType": parts[1],
                    "relatedSpdxElement": parts[2],
                }
            )
        elif tag == "SPDXID":
            if package is None and not in_file:
                document["SPDXID"] = value
            elif package is not None and not in_file:
                package["SPDXID"] = value
        elif package is not None and not in_file:
            if tag in _PACKAGE_FIELDS:
                package[_PACKAGE_FIELDS[tag]] = value
            elif tag == "ExternalRef":
                parts = value.split(None, 2)
                if len(parts) != 3:
                    raise InputError(
                        "SPDX tag-value: ExternalRef needs 'CATEGORY TYPE LOCATOR'",
                        path=path,
                        where=str(number),
                    )
                package["externalRefs"].append(
                    {
                        "referenceCategory": parts[0],
                        "referenceType": parts[1],
                        "referenceLocator": parts[2],
                    }
                )
            elif tag == "PackageChecksum":
                algorithm, _, digest = value.partition(":")
                if not digest.strip():
                    raise InputError(
                        "SPDX tag-value: PackageChecksum needs 'ALGORITHM: value'",
                        path=path,
                        where=str(number),
                    )
                package["checksums"].append(
                    {"algorithm": algorithm.strip(), "checksumValue": digest.strip()}
                )
    for item in document["packages"]:
        if "SPDXID" not in item:
            raise InputError(f"SPDX tag-value: package {item['name']!r} has no SPDXID", path=path)
    document["relationships"] = relationships
    return document
