"""Parsers backed by a maintained library (or the standard library), one class per format.

Each converts the library's result to the shape conftest's Go library produces; the comment
on each class names the conftest parser and the Go library it mirrors.
"""

from __future__ import annotations

import configparser
import io
import json
import re
import tomllib
from typing import Any, ClassVar

from gatekeeper.conftest.parsers import Source
from gatekeeper.conftest.parsers.edn import parse_edn
from gatekeeper.errors import InputError


def _fail(source: Source, message: str, where: str | None = None) -> InputError:
    return InputError(" ".join(message.split())[:300], path=source.shown, where=where)


class JsonParser:
    """parser/json: encoding/json (NaN and Infinity refused, as in Go)."""

    def parse(self, text: str, source: Source) -> Any:
        from gatekeeper.evidence.loading import parse_json

        return parse_json(source.shown, text)


class YamlParser:
    """parser/yaml: documents split on ``---`` lines as conftest does; several make a list."""

    def parse(self, text: str, source: Source) -> Any:
        from gatekeeper.conftest.yaml_documents import parse_yaml

        return parse_yaml(text, source.shown)


class TomlParser:
    """parser/toml: BurntSushi/toml; dates become RFC 3339 text (as Go's time.Time JSON)."""

    def parse(self, text: str, source: Source) -> Any:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            where = f"{found.group(1)}:{found.group(2)}" if found else None
            return _raise(_fail(source, f"invalid TOML: {str(exc).split(' (at')[0]}", where))


def _raise(error: InputError) -> Any:
    raise error


def _number_or_bool(value: str) -> Any:
    """go-ini / go-akka keys as conftest converts them: a float if strconv.ParseFloat
    accepts it, else a bool if strconv.ParseBool does, else the string."""
    text = value.strip()
    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", text, re.I):
        number = float(text)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return value


_TOP = "\x00top-level"


class IniParser:
    """parser/ini: go-ini; the DEFAULT section (keys before any section) is left out, values
    that parse as numbers are floats and booleans are bools."""

    def parse(self, text: str, source: Source) -> Any:
        config = configparser.ConfigParser(
            interpolation=None,
            strict=False,
            allow_no_value=True,
            default_section="\x00unused-default",  # configparser would copy it everywhere
            delimiters=("=", ":"),
            comment_prefixes=("#", ";"),
            inline_comment_prefixes=None,
        )
        config.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep case
        try:
            config.read_string(f"[{_TOP}]\n" + text, source=source.shown)
        except configparser.Error as exc:
            line = getattr(exc, "lineno", None)
            where = str(int(line) - 1) if isinstance(line, int) else None
            raise _fail(source, f"invalid INI: {exc.message}", where) from None
        result: dict[str, Any] = {}
        for section in config.sections():
            if section == _TOP:
                continue  # go-ini's DEFAULT section: keys before any section, left out
            values: dict[str, Any] = {}
            for key, value in config.items(section, raw=True):
                text_value = _unquote(value or "")
                values[key] = _number_or_bool(text_value)
            result[section] = values
        return result


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'`":
        return value[1:-1]
    return value


class DotenvParser:
    """parser/dotenv: gotenv.StrictParse; ``${VAR}`` references to earlier keys expanded."""

    def parse(self, text: str, source: Source) -> Any:
        from dotenv import dotenv_values

        values = dotenv_values(stream=io.StringIO(text), interpolate=True)
        missing = [k for k, v in values.items() if v is None]
        if missing:
            raise _fail(source, f"invalid .env: line without '=' for {missing[0]!r}")
        return dict(values)


class PropertiesParser:
    """parser/properties: magiconair/properties, a map of strings."""

    def parse(self, text: str, source: Source) -> Any:
        import javaproperties

        try:
            return dict(javaproperties.loads(text))
        except Exception as exc:
            raise _fail(source, f"invalid properties file: {exc}") from None


class XmlParser:
    """parser/xml: goxml2json. Attributes are ``-name``, text beside children ``#content``,
    repeated elements a list, every leaf a string. Parsed with defusedxml first, which refuses
    DTD entities (billion laughs) and external references."""

    def parse(self, text: str, source: Source) -> Any:
        import defusedxml.ElementTree as SafeTree
        import xmltodict

        try:
            SafeTree.fromstring(text.encode("utf-8"), forbid_dtd=False)
            return xmltodict.parse(
                text, attr_prefix="-", cdata_key="#content", disable_entities=True
            )
        except SyntaxError as exc:
            position = getattr(exc, "position", None)
            where = f"{position[0]}:{position[1] + 1}" if position else None
            raise _fail(source, f"invalid XML: {exc.msg}", where) from None
        except Exception as exc:  # defusedxml's refusals (entities, DTD) and expat's errors
            raise _fail(source, f"invalid XML: {type(exc).__name__}: {exc}") from None


class Hcl1Parser:
    """parser/hcl1: hashicorp/hcl v1 decoding into ``interface{}``, where every object
    (a block or a ``{}`` value) becomes a list of maps: ``provider[0].google[0].project``."""

    def parse(self, text: str, source: Source) -> Any:
        import hcl  # pyhcl

        try:
            value = hcl.loads(text)
        except Exception as exc:
            found = re.search(r"[Ll]ine (\d+), column (\d+)", str(exc))
            where = f"{found.group(1)}:{found.group(2)}" if found else None
            raise _fail(source, f"invalid HCL: {str(exc).splitlines()[0]}", where) from None
        return {k: _hcl1_value(v) for k, v in value.items()}


def _hcl1_value(value: Any) -> Any:
    if isinstance(value, dict):
        return [{k: _hcl1_value(v) for k, v in value.items()}]
    if isinstance(value, list):
        return [_hcl1_value(v) for v in value]
    return value


class Hcl2Parser:
    """parser/hcl2: tmccombs/hcl2json. Blocks nest by label (``resource.aws_s3_bucket.name``)
    down to a list of bodies; expressions that are not literals are ``${...}`` strings."""

    def parse(self, text: str, source: Source) -> Any:
        import hcl2
        from hcl2.utils import SerializationOptions

        options = SerializationOptions(
            with_comments=False,
            explicit_blocks=True,
            preserve_heredocs=False,
            strip_string_quotes=True,
        )
        try:
            value = hcl2.loads(text, serialization_options=options)
        except Exception as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            found = re.search(r"line (\d+)(?:, column|:)\s*(\d+)?", str(exc))
            where = None
            if found:
                where = found.group(1) + (f":{found.group(2)}" if found.group(2) else "")
            raise _fail(source, f"invalid HCL: {message}", where) from None
        return _hcl2_body(value)


_BLOCK = "__is_block__"


def _hcl2_body(body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("__") and key.endswith("__"):
            continue
        if isinstance(value, list) and value and all(_is_block_tree(v) for v in value):
            for block in value:
                _merge_block(result, key, block)
        else:
            result[key] = _hcl2_value(value)
    return result


def _is_block_tree(value: Any) -> bool:
    """A python-hcl2 block: labels as nested one-key dicts down to a body marked as block."""
    while isinstance(value, dict):
        if value.get(_BLOCK) is True:
            return True
        if len(value) != 1:
            return False
        value = next(iter(value.values()))
    return False


def _merge_block(result: dict[str, Any], key: str, block: dict[str, Any]) -> None:
    labels: list[str] = []
    node = block
    while node.get(_BLOCK) is not True:
        label, node = next(iter(node.items()))
        labels.append(label)
    target: dict[str, Any] = result
    path = [key, *labels]
    for part in path[:-1]:
        existing = target.get(part)
        if not isinstance(existing, dict):
            existing = {}
            target[part] = existing
        target = existing
    bodies = target.setdefault(path[-1], [])
    if isinstance(bodies, list):
        bodies.append(_hcl2_body(node))


def _hcl2_value(value: Any) -> Any:
    if isinstance(value, dict):
        return _hcl2_body(value)
    if isinstance(value, list):
        return [_hcl2_value(v) for v in value]
    return value


class JsonnetParser:
    """parser/jsonnet: go-jsonnet, imports resolved next to the file."""

    def parse(self, text: str, source: Source) -> Any:
        import _jsonnet

        search = [str(source.path.parent)] if source.path is not None else []
        try:
            output = _jsonnet.evaluate_snippet(
                source.shown, text, jpathdir=search, max_stack=200, max_trace=20
            )
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "error"
            found = re.search(r":(\d+):(\d+)", first)
            where = f"{found.group(1)}:{found.group(2)}" if found else None
            raise _fail(source, f"jsonnet: {first}", where) from None
        return json.loads(output)


class HoconParser:
    """parser/hocon: go-akka/configuration. Every leaf is its text, then a number or bool
    when it parses as one (as conftest converts it); substitutions are resolved."""

    def parse(self, text: str, source: Source) -> Any:
        from pyhocon import ConfigFactory, ConfigTree
        from pyhocon.exceptions import ConfigSubstitutionException

        # go-akka leaves a substitution it cannot resolve unset where pyhocon stops: make
        # each one pyhocon names optional (``${?x}``) and parse again, a bounded number of times.
        for _ in range(64):
            try:
                tree = ConfigFactory.parse_string(text, resolve=True)
                break
            except ConfigSubstitutionException as exc:
                found = re.search(r"Cannot resolve variable \$\{([^}]+)\}", str(exc))
                if not found or "${" + found.group(1) + "}" not in text:
                    raise _fail(source, f"invalid HOCON: {exc}") from None
                text = text.replace("${" + found.group(1) + "}", "${?" + found.group(1) + "}")
            except Exception as exc:
                raise _fail(source, f"invalid HOCON: {exc}") from None
        else:
            raise _fail(source, "invalid HOCON: too many unresolvable substitutions")

        def convert(value: Any) -> Any:
            if isinstance(value, ConfigTree):
                return {k: convert(v) for k, v in value.items()}
            if isinstance(value, list):
                return [convert(v) for v in value]
            if value is None:
                return None
            if isinstance(value, bool):
                return value
            if isinstance(value, int | float):
                return value
            if not isinstance(value, str):  # an unresolved substitution
                return str(value)
            return _number_or_bool(value)

        return convert(tree)


class EdnParser:
    """parser/edn: olympos.io/encoding/edn, then conftest's cleanup: map keys and every
    non-string scalar become their Go ``%v`` text (``:env``, ``5432``, ``true``)."""

    def parse(self, text: str, source: Source) -> Any:
        return parse_edn(text, source.shown)


class IgnoreParser:
    """parser/ignore: shteou/go-ignore entries, wrapped in one more list as conftest does:
    ``{"Kind": Path|NegatedPath|Comment|Empty, "Value", "Original"}``."""

    def parse(self, text: str, source: Source) -> Any:
        entries = []
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped:
                kind, value = "Empty", ""
            elif stripped.startswith("#"):
                kind, value = "Comment", stripped[1:].strip()
            elif stripped.startswith("!"):
                kind, value = "NegatedPath", stripped[1:]
            else:
                kind, value = "Path", stripped
            entries.append({"Kind": kind, "Value": value, "Original": line})
        return [entries]


class SpdxParser:
    """parser/spdx: spdx/tools-golang tag-value reader, in its JSON form (SPDX 2.x JSON
    field names). Tag-value pairs are read line by line; ``<text>`` blocks may span lines."""

    _DOCUMENT: ClassVar[dict[str, str]] = {
        "SPDXVersion": "spdxVersion",
        "DataLicense": "dataLicense",
        "SPDXID": "SPDXID",
        "DocumentName": "name",
        "DocumentNamespace": "documentNamespace",
        "DocumentComment": "comment",
    }
    _PACKAGE: ClassVar[dict[str, str]] = {
        "PackageName": "name",
        "SPDXID": "SPDXID",
        "PackageVersion": "versionInfo",
        "PackageFileName": "packageFileName",
        "PackageSupplier": "supplier",
        "PackageOriginator": "originator",
        "PackageDownloadLocation": "downloadLocation",
        "FilesAnalyzed": "filesAnalyzed",
        "PackageHomePage": "homepage",
        "PackageLicenseConcluded": "licenseConcluded",
        "PackageLicenseDeclared": "licenseDeclared",
        "PackageCopyrightText": "copyrightText",
        "PackageSummary": "summary",
        "PackageDescription": "description",
        "PackageComment": "comment",
    }
    _FILE: ClassVar[dict[str, str]] = {
        "FileName": "fileName",
        "SPDXID": "SPDXID",
        "LicenseConcluded": "licenseConcluded",
        "FileCopyrightText": "copyrightText",
        "FileComment": "comment",
    }

    def parse(self, text: str, source: Source) -> Any:
        pairs = _tag_values(text, source)
        document: dict[str, Any] = {}
        creation: dict[str, Any] = {}
        packages: list[dict[str, Any]] = []
        files: list[dict[str, Any]] = []
        relationships: list[dict[str, Any]] = []
        current: dict[str, Any] | None = None
        table = self._DOCUMENT
        for line, tag, value in pairs:
            if tag == "PackageName":
                current, table = {}, self._PACKAGE
                packages.append(current)
            elif tag == "FileName":
                current, table = {}, self._FILE
                files.append(current)
            if tag == "Creator":
                creation.setdefault("creators", []).append(value)
            elif tag == "Created":
                creation["created"] = value
            elif tag == "LicenseListVersion":
                creation["licenseListVersion"] = value
            elif tag == "Relationship":
                parts = value.split()
                if len(parts) != 3:
                    raise _fail(source, f"invalid SPDX Relationship {value!r}", str(line))
                relationships.append(
                    {
                        "spdxElementId": parts[0],
                        "relationshipType": parts[1],
                        "relatedSpdxElement": parts[2],
                    }
                )
            elif tag == "FileChecksum" and current is not None:
                algorithm, _, digest = value.partition(":")
                current.setdefault("checksums", []).append(
                    {"algorithm": algorithm.strip(), "checksumValue": digest.strip()}
                )
            elif tag == "LicenseInfoInFile" and current is not None:
                current.setdefault("licenseInfoInFiles", []).append(value)
            elif tag == "PackageLicenseInfoFromFiles" and current is not None:
                current.setdefault("licenseInfoFromFiles", []).append(value)
            elif tag in table:
                target = document if current is None else current
                field = table[tag]
                target[field] = value == "true" if field == "filesAnalyzed" else value
            elif current is None and tag == "ExternalDocumentRef":
                document.setdefault("externalDocumentRefs", []).append(value)
        if "spdxVersion" not in document:
            raise _fail(source, "invalid SPDX tag-value document: no SPDXVersion")
        if creation:
            document["creationInfo"] = creation
        if packages:
            document["packages"] = packages
        if files:
            document["files"] = files
        if relationships:
            document["relationships"] = relationships
        return document


def _tag_values(text: str, source: Source) -> list[tuple[int, str, str]]:
    pairs: list[tuple[int, str, str]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        number = index + 1
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        tag, sep, value = line.partition(":")
        if not sep:
            raise _fail(source, "invalid SPDX tag-value line (no ':')", str(number))
        value = value.strip()
        if value.startswith("<text>"):
            body = value[len("<text>") :]
            while "</text>" not in body:
                if index >= len(lines):
                    raise _fail(source, "unterminated <text> block", str(number))
                body += "\n" + lines[index]
                index += 1
            value = body.split("</text>", 1)[0]
        pairs.append((number, tag.strip(), value))
    return pairs


class CycloneDxParser:
    """parser/cyclonedx: a CycloneDX BOM, JSON as it is; XML converted element by element
    (cyclonedx-go's struct mapping is approximated: see docs/conftest-compat.md)."""

    def parse(self, text: str, source: Source) -> Any:
        stripped = text.lstrip()
        if stripped.startswith("{"):
            value = JsonParser().parse(text, source)
            if not isinstance(value, dict) or value.get("bomFormat") != "CycloneDX":
                raise _fail(source, 'not a CycloneDX BOM (no "bomFormat": "CycloneDX")')
            return value
        document = XmlParser().parse(text, source)
        if not isinstance(document, dict) or "bom" not in document:
            raise _fail(source, "not a CycloneDX BOM (no <bom> element)")
        return document["bom"]
