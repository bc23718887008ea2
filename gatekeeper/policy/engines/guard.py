"""Parent side of the engine guard: run one engine operation in a child process.

Why a child process: the Rego engines are native code. regorus can panic (raising a
``BaseException``), either engine could loop, crash or abort the process, and regopy prints
diagnostics on stdout. A child bounded by a wall-clock timeout turns all of that into an
:class:`~gatekeeper.errors.EngineError` while our own process and stdout stay clean.

Protocol: the child reads one JSON request line on stdin, then the raw input JSON text (so a
document of tens of MB is not escaped into another JSON string). It answers with one JSON
document on its *original* stdout; its fd 1 is pointed at stderr before any engine is imported,
so nothing an engine prints can be mistaken for the answer.

Start-up overlap: starting a worker costs an interpreter start plus the engine's imports
(~0.2 s), which would sit on the critical path of every gate run. :func:`prestart_worker` starts
one spare child early (the gate calls it before ingesting evidence); the child imports the
engine's module while the parent is still reading evidence, then blocks on stdin. The next
:func:`run_worker` for that engine uses the spare instead of spawning, with the same request,
timeout and checks. The protocol is unchanged: a spare that is never used is killed.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from gatekeeper.errors import EngineError, GatekeeperError, PolicyError
from gatekeeper.policy.bundle import PolicyBundle

# Tests replace this to simulate a worker that crashes.
WORKER_COMMAND: list[str] = [sys.executable, "-m", "gatekeeper.policy.engines.worker"]

# Queries are generated from package and rule names; anything else is refused before it reaches
# an engine (regopy once answered a malformed query with the previous query's result).
_SEGMENT = r'(?:\.[A-Za-z_][A-Za-z0-9_]*|\["[^"\\\]]*"\])'
_QUERY_RE = re.compile(rf"^data{_SEGMENT}*$")
_MAX_STDERR_CHARS = 4000


@dataclass
class _Spare:
    engine: str
    command: list[str]
    child: subprocess.Popen[bytes]


# At most one spare child: a gate run evaluates once.
_spare: _Spare | None = None


@dataclass(frozen=True)
class WorkerReply:
    result: dict[str, Any]
    stderr: str


def query_for(package: str, rule: str | None = None) -> str:
    """``data.<package>.<rule>`` with segments that are not identifiers quoted."""
    parts = [p for p in package.split(".") if p]
    if rule:
        parts.append(rule)
    text = "data"
    for part in parts:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            text += "." + part
        else:
            text += "[" + json.dumps(part) + "]"
    return text


def check_queries(queries: tuple[str, ...]) -> None:
    for query in queries:
        if not _QUERY_RE.match(query):
            raise EngineError(f"refusing query {query!r}: only data references are allowed")


def bundle_payload(bundle: PolicyBundle, *, include_tests: bool = True) -> dict[str, Any]:
    """Modules and data for the worker. Evaluation leaves ``_test.rego`` modules out: a gate
    never queries them, and regopy 1.5.2 crashes compiling the ``with input as`` they use."""
    return {
        "modules": [[m.path, m.source] for m in bundle.modules if include_tests or not m.is_test],
        "data": bundle.data,
    }


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"engine worker was killed by signal {name}"
    return f"engine worker exited with code {returncode}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _raise_reported(error: Any) -> None:
    if not isinstance(error, dict):
        raise EngineError("engine worker returned a malformed error")
    kind = error.get("kind")
    message = str(error.get("message") or "engine error")
    path = error.get("path")
    where = error.get("where")
    path = str(path) if path else None
    where = str(where) if where else None
    cls: type[GatekeeperError] = PolicyError if kind == "policy" else EngineError
    raise cls(message, path=path, where=where)


def _spawn(command: list[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["RUST_BACKTRACE"] = "0"  # keep engine messages to one error, not a stack dump
    env["PYTHONUNBUFFERED"] = "1"
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
    except OSError as exc:
        raise EngineError(f"cannot start the engine worker: {exc}") from None


def prestart_worker(engine: str) -> None:
    """Start a worker for ``engine`` now so its start-up overlaps the caller's own work.

    Best effort: engines without a worker handler are ignored, and a spare that cannot be
    started is simply not there (``run_worker`` then spawns, and reports any failure itself).
    """
    from gatekeeper.policy.engines.worker import HANDLERS  # stdlib-only module, cheap

    if engine not in HANDLERS:
        return
    discard_spare()
    command = [*WORKER_COMMAND, "--preload", engine]
    try:
        child = _spawn(command)
    except EngineError:
        return
    global _spare
    _spare = _Spare(engine=engine, command=list(WORKER_COMMAND), child=child)


def _take_spare(engine: str) -> subprocess.Popen[bytes] | None:
    """The spare child when it was started for this engine with the current command."""
    global _spare
    spare, _spare = _spare, None
    if spare is None:
        return None
    if spare.engine != engine or spare.command != WORKER_COMMAND or spare.child.poll() is not None:
        _stop(spare.child)
        return None
    return spare.child


def discard_spare() -> None:
    """Kill an unused spare child (a gate that failed before evaluating must not leave one)."""
    global _spare
    spare, _spare = _spare, None
    if spare is not None:
        _stop(spare.child)


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.kill()
    child.communicate()


atexit.register(discard_spare)


def run_worker(
    engine: str,
    op: str,
    request: dict[str, Any],
    *,
    input_json: str = "",
    timeout: float,
) -> WorkerReply:
    """Run ``op`` of ``engine`` in a fresh child; return its result or raise Policy/EngineError."""
    header = json.dumps({"engine": engine, "op": op, **request}, separators=(",", ":"))
    if "\n" in header:  # pragma: no cover - json.dumps never emits raw newlines
        raise EngineError("internal error: request is not one line")
    payload = (header + "\n" + input_json).encode("utf-8")
    child = _take_spare(engine) or _spawn(WORKER_COMMAND)
    try:
        out, err = child.communicate(payload, timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise EngineError(f"{engine} {op} timed out after {timeout:g}s") from None
    except BaseException:
        # Interrupted (Ctrl-C …): never leave an engine running behind us.
        child.kill()
        child.communicate()
        raise
    stderr = err.decode("utf-8", "replace")[-_MAX_STDERR_CHARS:]
    if child.returncode != 0:
        detail = _last_line(stderr)
        suffix = f": {detail}" if detail else ""
        raise EngineError(f"{engine} {op} failed: {_describe_exit(child.returncode)}{suffix}")
    try:
        reply = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EngineError(f"{engine} {op} failed: the engine worker's answer is garbled") from None
    if not isinstance(reply, dict) or reply.get("ok") not in (True, False):
        raise EngineError(f"{engine} {op} failed: the engine worker's answer is garbled")
    if reply["ok"] is False:
        _raise_reported(reply.get("error"))
    result = reply.get("result")
    if not isinstance(result, dict):
        raise EngineError(f"{engine} {op} failed: the engine worker's answer has no result")
    return WorkerReply(result=result, stderr=stderr)
