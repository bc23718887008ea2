"""Dockerfile parser producing conftest's document (parser/docker over moby buildkit):
``[[{"Cmd", "SubCmd", "JSON", "Flags", "Value", "Stage"}, ...]]``.

buildkit's rules reproduced: the ``# escape=`` directive, line continuations, comments
before an instruction as ``comment`` commands, ``--flag`` words at the start of an
instruction, the JSON (exec) form, shell-form RUN/CMD/ENTRYPOINT/SHELL as one string,
ENV/LABEL/ARG as key/value words, ONBUILD's sub-command, and the stage counter of FROM.
No maintained Python library yields this shape (dockerfile-parse keeps raw text only).
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from gatekeeper.conftest.parsers import Source
from gatekeeper.errors import InputError

_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_SHELL_FORM = frozenset({"run", "cmd", "entrypoint", "shell"})
_KEY_VALUE = frozenset({"env", "label"})
_FLAGGED = frozenset({"from", "copy", "add", "run", "healthcheck", "onbuild"})


def _logical_lines(text: str, escape: str, source: Source) -> list[tuple[int, list[str], str]]:
    """(first line, comments before it, instruction text with continuations joined)."""
    lines = text.splitlines()
    result: list[tuple[int, list[str], str]] = []
    comments: list[str] = []
    index = 0
    directives_done = False
    while index < len(lines):
        raw = lines[index]
        index += 1
        stripped = raw.strip()
        if not directives_done and _DIRECTIVE_RE.match(stripped):
            continue
        directives_done = True
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(stripped[1:].strip())
            continue
        first = index
        parts = [raw.rstrip()]
        while parts[-1].endswith(escape) and index < len(lines):
            parts[-1] = parts[-1][: -len(escape)]
            nxt = lines[index]
            index += 1
            if nxt.strip().startswith("#"):
                continue  # comments inside a continued instruction are dropped
            parts.append(nxt.rstrip())
        if parts[-1].endswith(escape):
            parts[-1] = parts[-1][: -len(escape)]
        result.append((first, comments, " ".join(p.strip() for p in parts if p.strip())))
        comments = []
    return result


def _json_form(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except json.JSONDecodeError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _split_flags(rest: str) -> tuple[list[str], str]:
    flags: list[str] = []
    while rest.startswith("--"):
        word, _, remainder = rest.partition(" ")
        flags.append(word)
        rest = remainder.lstrip()
    return flags, rest


def _words(rest: str) -> list[str]:
    try:
        return shlex.split(rest, posix=True)
    except ValueError:
        return rest.split()


def _key_values(rest: str) -> list[str]:
    words = _words(rest)
    if words and "=" not in words[0]:  # legacy `ENV key value words`
        return [words[0], rest.split(None, 1)[1] if len(words) > 1 else ""]
    out: list[str] = []
    for word in words:
        key, _, value = word.partition("=")
        out.extend([key, value])
    return out


def _command(keyword: str, rest: str, stage: int) -> dict[str, Any]:
    cmd = keyword.lower()
    flags: list[str] = []
    if cmd in _FLAGGED and cmd != "onbuild":
        flags, rest = _split_flags(rest)
    command: dict[str, Any] = {
        "Cmd": cmd,
        "SubCmd": "",
        "JSON": False,
        "Flags": flags,
        "Value": [],
        "Stage": stage,
    }
    if cmd == "onbuild":
        sub, _, sub_rest = rest.partition(" ")
        inner = _command(sub, sub_rest.strip(), stage)
        command["SubCmd"] = sub
        command["JSON"] = inner["JSON"]
        command["Value"] = inner["Value"]
        return command
    exec_form = _json_form(rest)
    if exec_form is not None:
        command["JSON"] = True
        command["Value"] = exec_form
    elif cmd in _SHELL_FORM:
        command["Value"] = [rest] if rest else []
    elif cmd in _KEY_VALUE:
        command["Value"] = _key_values(rest)
    elif cmd == "arg":
        command["Value"] = [rest] if rest else []
    else:
        command["Value"] = rest.split()
    return command


class DockerfileParser:
    def parse(self, text: str, source: Source) -> Any:
        escape = "\\"
        for line in text.splitlines():
            match = _DIRECTIVE_RE.match(line.strip())
            if not match:
                break
            if match.group(1).lower() == "escape":
                escape = match.group(2)
        if escape not in ("\\", "`"):
            raise InputError(f"invalid escape token {escape!r}", path=source.shown)
        commands: list[dict[str, Any]] = []
        stages = 0
        for number, comments, instruction in _logical_lines(text, escape, source):
            keyword, _, rest = instruction.partition(" ")
            if not re.fullmatch(r"[A-Za-z]+", keyword):
                raise InputError(
                    f"dockerfile parse error: unknown instruction {keyword!r}",
                    path=source.shown,
                    where=str(number),
                )
            if keyword.lower() == "from":
                stages += 1
            stage = max(stages - 1, 0)
            commands.extend(
                {
                    "Cmd": "comment",
                    "SubCmd": "",
                    "JSON": False,
                    "Flags": None,
                    "Value": [c],
                    "Stage": stage,
                }
                for c in comments
            )
            commands.append(_command(keyword, rest.strip(), stage))
        for command in commands:
            if command["Flags"] == []:
                command["Flags"] = None  # Go marshals a nil slice as null
        return [commands]
