"""The parser axis of ``gatekeeper check``: one parser per configuration format conftest reads.

Each parser turns a file's text into exactly the document conftest gives policies as
``input`` (conftest ``parser/*``): the same keys, the same value types, the same wrapping
(a Dockerfile is a list of one list of instructions, an INI file a map of sections ...).
Parsers are registered by conftest's names, so ``--parser NAME`` and the choice by file name
(:func:`parser_for_path`, conftest ``parser.NewFromPath``) use one table.

Every parser's text comes from :func:`gatekeeper.conftest.loading.bounded_text` and its result
goes through :func:`gatekeeper.conftest.loading.bounded_document` (see :func:`parse_document`),
so size, depth and value-count limits hold for every format. A parse error is an
:class:`~gatekeeper.errors.InputError` naming the file and, where the library tells, the
line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gatekeeper.conftest.loading import bounded_document, bounded_text
from gatekeeper.errors import InputError
from gatekeeper.registry import Registry

STDIN = "-"


@dataclass(frozen=True)
class Source:
    """Where a text came from: ``shown`` names it in messages, ``path`` (None for stdin) lets
    a parser resolve imports next to it (Jsonnet)."""

    shown: str
    path: Path | None = None
    proto_dirs: tuple[str, ...] = ()  # --proto-file-dirs: .proto files for textproto


class Parser(Protocol):
    def parse(self, text: str, source: Source) -> Any:
        """The document conftest would give policies; raise InputError on malformed text."""
        ...


PARSERS: Registry[Parser] = Registry("parser", error=InputError)
for _name, _target in (
    ("cue", "gatekeeper.conftest.parsers.cue:CueParser"),
    ("cyclonedx", "gatekeeper.conftest.parsers.formats:CycloneDxParser"),
    ("dockerfile", "gatekeeper.conftest.parsers.dockerfile:DockerfileParser"),
    ("dotenv", "gatekeeper.conftest.parsers.formats:DotenvParser"),
    ("edn", "gatekeeper.conftest.parsers.formats:EdnParser"),
    ("groovy", "gatekeeper.conftest.parsers.groovy:GroovyParser"),
    ("hcl1", "gatekeeper.conftest.parsers.formats:Hcl1Parser"),
    ("hcl2", "gatekeeper.conftest.parsers.formats:Hcl2Parser"),
    ("hocon", "gatekeeper.conftest.parsers.formats:HoconParser"),
    ("ignore", "gatekeeper.conftest.parsers.formats:IgnoreParser"),
    ("ini", "gatekeeper.conftest.parsers.formats:IniParser"),
    ("json", "gatekeeper.conftest.parsers.formats:JsonParser"),
    ("jsonnet", "gatekeeper.conftest.parsers.formats:JsonnetParser"),
    ("properties", "gatekeeper.conftest.parsers.formats:PropertiesParser"),
    ("spdx", "gatekeeper.conftest.parsers.formats:SpdxParser"),
    ("textproto", "gatekeeper.conftest.parsers.textproto:TextprotoParser"),
    ("toml", "gatekeeper.conftest.parsers.formats:TomlParser"),
    ("vcl", "gatekeeper.conftest.parsers.vcl:VclParser"),
    ("xml", "gatekeeper.conftest.parsers.formats:XmlParser"),
    ("yaml", "gatekeeper.conftest.parsers.formats:YamlParser"),
):
    PARSERS.register_lazy(_name, _target)

# conftest reads these too; Gatekeeper refuses them (exit 2) rather than skipping them.
UNSUPPORTED_PARSERS = frozenset({"nginx", "jsonc"})
TEXTPROTO_EXTENSIONS = ("textproto", "textpb")


def parser_names() -> list[str]:
    return sorted(PARSERS.names())


def parser_for_path(path: str) -> str | None:
    """The parser conftest picks for ``path`` (parser/parser.go NewFromPath), or None."""
    if path == STDIN:
        return "yaml"
    name = Path(path).name.lower()
    ext = go_extension(path)
    if name == "dockerfile" or name.startswith("dockerfile.") or ext == "dockerfile":
        return "dockerfile"
    if ext in ("yml", "yaml"):
        return "yaml"
    if ext in ("hcl", "tf", "tfvars"):
        return "hcl2"
    if ext in ("gitignore", "dockerignore"):
        return "ignore"
    if name == ".env" or name.startswith(".env.") or ext == "env":
        return "dotenv"
    if name == "nginx.conf":
        return "nginx"
    if name == "jenkinsfile" or name.startswith("jenkinsfile."):
        return "groovy"
    if ext in TEXTPROTO_EXTENSIONS:
        return "textproto"
    if ext in PARSERS or ext in UNSUPPORTED_PARSERS:
        return ext
    return None


def go_extension(path: str) -> str:
    """Go's ``filepath.Ext`` without the dot, lowercased: ``.gitignore`` has extension
    ``gitignore`` (Python's ``suffix`` says it has none)."""
    name = Path(path).name
    dot = name.rfind(".")
    return name[dot + 1 :].lower() if dot >= 0 else ""


def get_parser(name: str) -> Parser:
    if name in UNSUPPORTED_PARSERS:
        raise InputError(f"conftest's {name} parser is not supported by gatekeeper check")
    return PARSERS.create(name)


def parse_document(raw: bytes, source: Source, parser: str | None = None) -> Any:
    """Parse one input with ``parser`` (default: by its name), within the input bounds."""
    chosen = parser or parser_for_path(source.shown)
    if chosen is None:
        ext = go_extension(source.shown)
        raise InputError(
            f"unknown file type {ext or '(no extension)'!r}; use --parser "
            f"({', '.join(parser_names())})",
            path=source.shown,
        )
    try:
        instance = get_parser(chosen)
    except InputError as exc:
        raise InputError(exc.message, path=source.shown) from None
    text = bounded_text(raw, source.shown)
    return bounded_document(instance.parse(text, source), source.shown)
