"""conftest's Rego builtins for policy unit tests (conftest ``builtins/``):

- ``parse_config(parser, text)``: ``text`` parsed with the named parser;
- ``parse_config_file(path)``: a file parsed by its name;
- ``parse_combined_config_files(paths)``: files parsed and combined as ``--combine`` does.

conftest resolves a relative path against the directory of the calling policy file. The
binding does not tell a builtin where it was called from, so a relative path is looked up in
each policy directory of the run, in order, and the first that has it is used. Files are read
through the same bounded parsers as ``check`` inputs. Registered only on the ``opa`` engine
(the other engines' bindings take no custom builtins).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gatekeeper.conftest.loading import MAX_INPUT_BYTES
from gatekeeper.conftest.parsers import Source, parse_document
from gatekeeper.errors import InputError


def _resolve(name: str, base_dirs: list[str]) -> Path:
    path = Path(name)
    if path.is_absolute():
        return path
    for base in base_dirs:
        candidate = Path(base) / path
        if candidate.is_file():
            return candidate
    return Path(base_dirs[0]) / path if base_dirs else path


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise InputError(f"file is over the limit of {MAX_INPUT_BYTES} bytes", path=str(path))
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None


def parse_config_file(name: str, base_dirs: list[str]) -> Any:
    path = _resolve(name, base_dirs)
    return parse_document(_read(path), Source(name, path))


def parse_combined(names: list[str], base_dirs: list[str]) -> Any:
    entries = []
    for name in names:
        value = parse_config_file(name, base_dirs)
        for document in value if isinstance(value, list) else [value]:
            entries.append({"path": name, "contents": document})
    entries.sort(key=lambda e: str(e["path"]))
    return entries


def register_builtins(engine: Any, options: dict[str, Any]) -> None:
    """Register conftest's builtins on an ``opa_bindings.OpaEngine``."""
    base_dirs = [str(d) for d in options.get("base_dirs", [])]

    def parse_config(parser: str, text: str) -> Any:
        return parse_document(text.encode("utf-8"), Source("parse_config"), parser)

    engine.register_function("parse_config", parse_config, arity=2)
    engine.register_function(
        "parse_config_file", lambda name: parse_config_file(name, base_dirs), arity=1
    )
    engine.register_function(
        "parse_combined_config_files",
        lambda names: parse_combined(list(names), base_dirs),
        arity=1,
    )
