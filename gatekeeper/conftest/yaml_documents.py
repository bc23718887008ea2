"""conftest's YAML reading: documents split on ``---`` lines exactly as conftest does."""

from __future__ import annotations

from typing import Any

from gatekeeper.errors import InputError
from gatekeeper.loading import parse_yaml_data


def split_yaml_documents(text: str) -> list[tuple[int, str]]:
    """(first line, text) of each sub-document, split exactly as conftest's YAML parser does.

    conftest splits on a line that is exactly ``---`` between two line breaks (CRLF when the
    file has any); a leading ``%`` directive stays with the first document. Other document
    markers (``--- # comment``, a leading ``---``) are left to the YAML parser.
    """
    linebreak = "\r\n" if "\r\n" in text else "\n"
    separator = f"{linebreak}---{linebreak}"
    parts = text.split(separator)
    if text.startswith("%") and len(parts) > 2:
        parts = [parts[0] + separator + parts[1], *parts[2:]]
    elif text.startswith("%") or len(parts) <= 1:
        return [(1, text)]
    result: list[tuple[int, str]] = []
    line = 1
    for part in parts:
        result.append((line, part))
        line += part.count("\n") + 2  # the separator's own line and the break before it
    return result


def _parse_yaml_part(text: str, shown: str, first_line: int) -> Any:
    try:
        return parse_yaml_data(text, display=shown, error=InputError)
    except InputError as exc:
        where = exc.where
        if where and where.isdigit():
            where = str(int(where) + first_line - 1)
        raise InputError(exc.message, path=shown, where=where) from None


def parse_yaml(text: str, shown: str) -> Any:
    parts = split_yaml_documents(text)
    if len(parts) == 1:
        return _parse_yaml_part(text, shown, 1)
    return [_parse_yaml_part(part, shown, line) for line, part in parts]
