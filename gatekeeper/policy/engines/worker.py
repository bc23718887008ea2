"""Child side of the engine guard (run as ``python -m gatekeeper.policy.engines.worker``).

Reads a request (see :mod:`gatekeeper.policy.engines.guard`), dispatches it by engine name to
the ``handle`` function of that engine's module, and writes exactly one JSON answer on the
original stdout. Everything else, including whatever the engine prints, goes to stderr.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO

# Engine name -> module whose ``handle(request, input_text) -> dict`` runs in this child.
HANDLERS = {
    "regorus": "gatekeeper.policy.engines.regorus_worker",
    "regopy": "gatekeeper.policy.engines.regopy_engine",
    "opa": "gatekeeper.policy.engines.opa_worker",
}

# Engines whose handler claims query groups from a shared claim file (``tasks.py``), so one
# evaluation can run in this many workers at once. regopy stays at one: it builds a fresh
# interpreter (and converts the whole input) per query batch, so splitting gains nothing.
EVALUATION_WORKERS = {"regorus": 2}

# Engines whose worker, where ``os.fork`` exists (Linux), loads the bundle and the input once
# and forks the prepared engine for the other evaluation workers, instead of the parent
# starting each as a process of its own that loads the whole input again (~0.1-0.25 s of CPU
# and a copy of the input's memory each at 20k components). See ``fork_helper``.
FORKING_ENGINES = frozenset({"regorus"})


PARENT_ENV = "GATEKEEPER_WORKER_PARENT"
_PR_SET_PDEATHSIG = 1


def forking_supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def die_with_parent() -> None:
    """Never outlive the gate: an engine spinning in native code would otherwise stay at full
    CPU after the gate was killed. On Linux the kernel sends SIGKILL when the parent dies
    (PR_SET_PDEATHSIG, which also works while the engine holds the GIL); everywhere a watch
    thread exits when the parent is gone. A parent that died before this ran is caught by
    comparing with the pid it passed in the environment."""
    expected = os.environ.get(PARENT_ENV)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    parent = int(expected) if expected and expected.isdigit() else os.getppid()
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class ForkedHelper:
    """A forked copy of this worker computing ``work()``; :meth:`result` waits for its answer.

    The copy shares the prepared engine (copy-on-write), so nothing is loaded twice. It dies
    with this worker (PR_SET_PDEATHSIG): when the gate's timeout kills the worker, the copy
    goes too. Fail closed: a copy that crashes, is killed, exits non-zero or answers anything
    but one well-formed JSON answer makes :meth:`result` raise EngineError; an error it
    reports is raised here as the same kind of error.
    """

    def __init__(self, work: Callable[[], dict[str, Any]]) -> None:
        read_fd, write_fd = os.pipe()
        worker = os.getpid()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forked copy (its coverage is not seen)
            code = 1
            try:
                os.close(read_fd)
                os.environ[PARENT_ENV] = str(worker)
                die_with_parent()
                encoded = json.dumps(_answer_of(work), separators=(",", ":")).encode("utf-8")
                with os.fdopen(write_fd, "wb") as pipe:
                    pipe.write(encoded)
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        self.pid = pid
        self._read_fd = read_fd

    def result(self) -> dict[str, Any]:
        from gatekeeper.errors import EngineError

        with os.fdopen(self._read_fd, "rb") as pipe:
            raw = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise EngineError(describe_exit(code, "a forked engine worker"))
        try:
            answer = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise EngineError("a forked engine worker's answer is garbled") from None
        if not isinstance(answer, dict) or answer.get("ok") not in (True, False):
            raise EngineError("a forked engine worker's answer is garbled")
        if answer["ok"] is False:
            raise_reported(answer.get("error"))
        result = answer.get("result")
        if not isinstance(result, dict):
            raise EngineError("a forked engine worker's answer has no result")
        return result


def describe_exit(returncode: int, who: str = "engine worker") -> str:
    """How a worker process ended, for an error: killed by which signal, or its exit code."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"{who} was killed by signal {name}"
    return f"{who} exited with code {returncode}"


def raise_reported(error: Any) -> NoReturn:
    """Raise the error a worker answered with: a PolicyError or an EngineError."""
    from gatekeeper.errors import EngineError, GatekeeperError, PolicyError

    if not isinstance(error, dict):
        raise EngineError("engine worker returned a malformed error")
    path = error.get("path")
    where = error.get("where")
    cls: type[GatekeeperError] = PolicyError if error.get("kind") == "policy" else EngineError
    raise cls(
        str(error.get("message") or "engine error"),
        path=str(path) if path else None,
        where=str(where) if where else None,
    )


def _answer_of(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``work()`` as a worker answer: its result, or the error it raised."""
    try:
        return {"ok": True, "result": work()}
    except BaseException as exc:  # native panics derive from BaseException
        return _failure(exc, "forked engine worker")


def _claim_result_channel() -> TextIO:
    """Keep the original stdout for the answer and send fd 1 (engine chatter) to stderr."""
    sys.stdout.flush()
    result_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(result_fd, "w", encoding="utf-8")


def _error(
    kind: str, message: str, path: str | None = None, where: str | None = None
) -> dict[str, Any]:
    return {"ok": False, "error": {"kind": kind, "message": message, "path": path, "where": where}}


def _failure(exc: BaseException, who: str) -> dict[str, Any]:
    """The answer for an exception out of the engine: a policy or engine error as raised,
    anything else (a native panic) as ``who`` crashed."""
    from gatekeeper.errors import GatekeeperError, PolicyError

    if isinstance(exc, GatekeeperError):
        kind = "policy" if isinstance(exc, PolicyError) else "engine"
        return _error(kind, exc.message, exc.path, exc.where)
    text = " ".join(str(exc).split())[:500] or type(exc).__name__
    return _error("engine", f"{who} crashed: {type(exc).__name__}: {text}")


def _serve(channel_text: str) -> dict[str, Any]:
    header, _, input_text = channel_text.partition("\n")
    try:
        request = json.loads(header)
    except json.JSONDecodeError:
        return _error("engine", "engine worker received a malformed request")
    module_name = HANDLERS.get(str(request.get("engine")))
    if module_name is None:
        return _error("engine", f"unknown engine {request.get('engine')!r}")
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:
        return _failure(exc, str(request.get("engine")))
    input_file = request.get("input_file")
    if input_file is not None and request.get("op") not in getattr(module, "FILE_INPUT_OPS", ()):
        # A large input, handed over in a file (see guard.py). Handlers of FILE_INPUT_OPS
        # have their engine read the file itself (no copy of it as Python text).
        try:
            input_text = Path(str(input_file)).read_bytes().decode("utf-8", "replace")
        except OSError as exc:
            return _error("engine", f"engine worker cannot read its input: {exc.strerror}")
    try:
        if request.get("op") == "evaluate_documents":
            native = getattr(module, "evaluate_documents", None)
            batch = native if callable(native) else _each_document(module.handle)
            result = batch(request, input_text)
        else:
            result = module.handle(request, input_text)
    except BaseException as exc:  # native panics derive from BaseException
        return _failure(exc, str(request.get("engine")))
    return {"ok": True, "result": result}


def batch_documents(
    request: dict[str, Any], input_text: str
) -> list[tuple[int, dict[str, Any], str]]:
    """(override index, data, input JSON) of each document of an ``evaluate_documents``
    request: the bundle data with the document's top-level overrides applied."""
    from gatekeeper.errors import EngineError

    index = request.get("documents")
    overrides = request.get("overrides")
    if not isinstance(index, list) or not isinstance(overrides, list):
        raise EngineError("engine worker received a malformed document batch")
    inputs = input_text.split("\n") if index else []
    if len(inputs) != len(index):
        raise EngineError("engine worker received a malformed document batch")
    base = request.get("data") or {}
    merged: dict[int, dict[str, Any]] = {}
    documents = []
    for number, text in zip(index, inputs, strict=True):
        if not isinstance(number, int) or not 0 <= number < len(overrides):
            raise EngineError("engine worker received a malformed document batch")
        if number not in merged:
            merged[number] = {**base, **overrides[number]}
        documents.append((number, merged[number], text))
    return documents


def _each_document(handle: Any) -> Any:
    """``evaluate_documents`` for an engine without its own: its ``evaluate`` once per
    document, all in this one worker process."""

    def batch(request: dict[str, Any], input_text: str) -> dict[str, Any]:
        results = []
        for _, data, text in batch_documents(request, input_text):
            one = {**request, "op": "evaluate", "data": data}
            reply = handle(one, text)
            results.append({"values": reply.get("values"), "prints": reply.get("prints", [])})
        return {"results": results}

    return batch


def _preload(argv: list[str]) -> None:
    """``--preload ENGINE``: import the engine's module before the request arrives.

    The parent starts such a spare worker before it ingests evidence, so these imports run
    while it is busy. Failures are ignored here: ``_serve`` imports again and reports them.
    """
    if len(argv) == 2 and argv[0] == "--preload" and argv[1] in HANDLERS:
        with contextlib.suppress(BaseException):
            module = importlib.import_module(HANDLERS[argv[1]])
            preload = getattr(module, "preload", None)
            if callable(preload):
                preload()  # e.g. load the engine's native library


def main() -> int:
    # A short-lived process whose Python objects (request, decoded results) hold no cycles:
    # the cyclic collector would only rescan them. Reference counting still frees memory.
    gc.disable()
    die_with_parent()
    channel = _claim_result_channel()
    _preload(sys.argv[1:])
    text = sys.stdin.buffer.read().decode("utf-8", "replace")
    try:
        answer = _serve(text)
        encoded = json.dumps(answer, separators=(",", ":"))
    except BaseException as exc:  # anything unforeseen still yields an answer
        encoded = json.dumps(_error("engine", f"engine worker failed: {type(exc).__name__}: {exc}"))
    channel.write(encoded)
    channel.flush()
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
