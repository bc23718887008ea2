"""Parent side of the engine guard: run one engine operation in a child process.

Why a child process: the Rego engines are native code. regorus can panic (raising a
``BaseException``), either engine could loop, crash or abort the process, and regopy prints
diagnostics on stdout. A child bounded by a wall-clock timeout turns all of that into an
:class:`~gatekeeper.errors.EngineError` while our own process and stdout stay clean.

Protocol: the child reads one JSON request line on stdin, then the raw input JSON text (so a
document of tens of MB is not escaped into another JSON string). It answers with one JSON
document on its *original* stdout; its fd 1 is pointed at stderr before any engine is imported,
so nothing an engine prints can be mistaken for the answer. A large input goes through a
private temporary file named in the request (``input_file``) instead: each child reads it at
disk-cache speed, where piping ~10 MB to every child in 4 KiB writes cost ~0.1 s per child.

Start-up overlap: starting a worker costs an interpreter start plus the engine's imports
(~0.2 s), which would sit on the critical path of every gate run. :func:`prestart_worker` starts
one spare child early (the gate calls it before ingesting evidence); the child imports the
engine's module while the parent is still reading evidence, then blocks on stdin. The next
:func:`run_worker` for that engine uses the spare instead of spawning, with the same request,
timeout and checks. The protocol is unchanged: a spare that is never used is killed.

Several workers: an engine listed in ``worker.EVALUATION_WORKERS`` evaluates in that many
processes at once (bounded by the CPU count), which share the query groups through a claim
file (:mod:`~gatekeeper.policy.engines.tasks`). Where the engine's worker forks
(``worker.FORKING_ENGINES`` on Linux) one child is started; it loads the bundle and the input
once and forks the others (``worker.ForkedHelper``), answering for all of them. Otherwise
:func:`prestart_worker` starts that many spares and :func:`run_workers` talks to all of them.
Either way a failure of any one is the failure of the call, under the same timeout.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatekeeper.errors import EngineError
from gatekeeper.policy.bundle import PolicyBundle
from gatekeeper.policy.engines.tasks import sweep_orphan_files
from gatekeeper.policy.engines.worker import PARENT_ENV, describe_exit, raise_reported

# Tests replace this to simulate a worker that crashes.
WORKER_COMMAND: list[str] = [sys.executable, "-m", "gatekeeper.policy.engines.worker"]

# Queries are generated from package and rule names; anything else is refused before it reaches
# an engine (regopy once answered a malformed query with the previous query's result).
_SEGMENT = r'(?:\.[A-Za-z_][A-Za-z0-9_]*|\["[^"\\\]]*"\])'
_QUERY_RE = re.compile(rf"^data{_SEGMENT}*$")
_MAX_STDERR_CHARS = 4000
# Inputs at least this long go to the worker through a temporary file, not the pipe.
INPUT_FILE_MIN_CHARS = 1_000_000


@dataclass
class _Spare:
    engine: str
    command: list[str]
    child: subprocess.Popen[bytes]
    # Further children, for engines that evaluate in several workers at once.
    more: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def children(self) -> list[subprocess.Popen[bytes]]:
        return [self.child, *self.more]


# At most one set of spare children: a gate run evaluates once.
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
    return query_for_path(parts)


def query_for_path(parts: Sequence[str]) -> str:
    """``data`` followed by each segment (OPA's ``/v1/data/a/b`` is ``data.a.b``)."""
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


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _spawn(command: list[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["RUST_BACKTRACE"] = "0"  # keep engine messages to one error, not a stack dump
    env["PYTHONUNBUFFERED"] = "1"
    env[PARENT_ENV] = str(os.getpid())  # the worker exits when this process is gone
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


def evaluation_workers(engine: str) -> int:
    """How many workers evaluate a query set of ``engine`` at once: what the engine supports
    (``worker.EVALUATION_WORKERS``), no more than the CPUs, 1 where work cannot be shared."""
    from gatekeeper.policy.engines.tasks import sharing_supported
    from gatekeeper.policy.engines.worker import EVALUATION_WORKERS

    wanted = EVALUATION_WORKERS.get(engine, 1)
    if wanted <= 1 or not sharing_supported():
        return 1
    return max(1, min(wanted, os.cpu_count() or 1))


def forked_evaluation(engine: str) -> bool:
    """Whether one worker of ``engine`` forks the other evaluation workers itself
    (``worker.FORKING_ENGINES``, Linux): the parent then starts a single worker."""
    from gatekeeper.policy.engines.worker import FORKING_ENGINES, forking_supported

    return engine in FORKING_ENGINES and forking_supported()


def evaluation_processes(engine: str) -> int:
    """How many worker processes this process starts for one evaluation of ``engine``."""
    workers = evaluation_workers(engine)
    return 1 if workers > 1 and forked_evaluation(engine) else workers


def prestart_worker(engine: str, count: int | None = None) -> None:
    """Start the worker(s) for ``engine`` now so their start-up overlaps the caller's work:
    ``count`` of them, or as many as one evaluation of that engine uses.

    Best effort: engines without a worker handler are ignored, and a spare that cannot be
    started is simply not there (``run_worker`` then spawns, and reports any failure itself).
    """
    from gatekeeper.policy.engines.worker import HANDLERS  # stdlib-only module, cheap

    if engine not in HANDLERS:
        return
    discard_spare()
    command = [*WORKER_COMMAND, "--preload", engine]
    children: list[subprocess.Popen[bytes]] = []
    for _ in range(evaluation_processes(engine) if count is None else max(1, count)):
        try:
            children.append(_spawn(command))
        except EngineError:
            break
    if not children:
        return
    global _spare
    _spare = _Spare(
        engine=engine, command=list(WORKER_COMMAND), child=children[0], more=children[1:]
    )


def _take_spares(engine: str, count: int) -> list[subprocess.Popen[bytes]]:
    """Up to ``count`` live spare children started for this engine with the current command;
    the others are stopped (a spare is used once or not at all)."""
    global _spare
    spare, _spare = _spare, None
    if spare is None:
        return []
    usable = spare.engine == engine and spare.command == WORKER_COMMAND
    taken: list[subprocess.Popen[bytes]] = []
    for child in spare.children():
        if usable and len(taken) < count and child.poll() is None:
            taken.append(child)
        else:
            _stop(child)
    return taken


def discard_spare() -> None:
    """Kill unused spare children (a gate that failed before evaluating must not leave one)."""
    global _spare
    spare, _spare = _spare, None
    if spare is not None:
        for child in spare.children():
            _stop(child)


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
    return run_workers(engine, op, request, input_json=input_json, timeout=timeout, count=1)[0]


def run_workers(
    engine: str,
    op: str,
    request: dict[str, Any],
    *,
    input_json: str = "",
    timeout: float,
    count: int,
) -> list[WorkerReply]:
    """Send the same request to ``count`` children at once; every one must answer.

    Each child is guarded as in :func:`run_worker` (wall-clock timeout, exit status, garbled
    answers). When one child fails the others are killed rather than waited for, and the
    first failure (the cause, not the kills that followed) is raised.
    """
    return run_each(engine, op, [(request, input_json)] * count, timeout=timeout)


def run_each(
    engine: str,
    op: str,
    requests: Sequence[tuple[dict[str, Any], str]],
    *,
    timeout: float,
) -> list[WorkerReply]:
    """Send each (request, input JSON) to its own child, all at once; every one must answer,
    in order, guarded as in :func:`run_workers` (``check`` hands each child a part of a
    document stream this way)."""
    sweep_orphan_files(INPUT_FILE_PREFIX)  # left by a gate that was SIGKILLed
    files: dict[int, str] = {}  # one private file per distinct large input
    try:
        payloads = []
        for request, input_json in requests:
            if len(input_json) < INPUT_FILE_MIN_CHARS:
                payloads.append(_payload(engine, op, request, input_json))
                continue
            key = id(input_json)
            if key not in files:
                files[key] = _write_private(input_json)
            payloads.append(_payload(engine, op, {**request, "input_file": files[key]}, ""))
        return _run_children(engine, op, payloads, timeout)
    finally:
        for path in files.values():
            Path(path).unlink(missing_ok=True)


INPUT_FILE_PREFIX = "gatekeeper-input-"


def _write_private(text: str) -> str:
    """``text`` in a new temporary file only this user can read (mkstemp: mode 0600). Its
    name carries this process's pid, so a file left by a gate that was SIGKILLed (no
    ``finally`` runs then) is removed by the next run."""
    fd, path = tempfile.mkstemp(prefix=f"{INPUT_FILE_PREFIX}{os.getpid()}-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
    except OSError as exc:
        Path(path).unlink(missing_ok=True)
        raise EngineError(f"cannot hand the input to the engine worker: {exc}") from None
    return path


def _payload(engine: str, op: str, request: dict[str, Any], input_json: str) -> bytes:
    header = json.dumps({"engine": engine, "op": op, **request}, separators=(",", ":"))
    if "\n" in header:  # pragma: no cover - json.dumps never emits raw newlines
        raise EngineError("internal error: request is not one line")
    return (header + "\n" + input_json).encode("utf-8")


def _run_children(
    engine: str,
    op: str,
    payloads: Sequence[bytes],
    timeout: float,
) -> list[WorkerReply]:
    count = len(payloads)
    children = _take_spares(engine, count)
    try:
        while len(children) < count:
            children.append(_spawn(WORKER_COMMAND))
    except BaseException:
        for child in children:
            _stop(child)
        raise
    if count == 1:
        return [_exchange(children[0], payloads[0], engine, op, timeout)]

    replies: list[WorkerReply | None] = [None] * count
    failures: list[BaseException] = []  # in the order they happened: the first is the cause
    lock = threading.Lock()
    failed = threading.Event()

    def serve(index: int) -> None:
        try:
            replies[index] = _exchange(children[index], payloads[index], engine, op, timeout)
        except BaseException as exc:  # reported by the calling thread below
            with lock:
                failures.append(exc)
            failed.set()

    threads = [threading.Thread(target=serve, args=(i,), daemon=True) for i in range(count)]
    try:
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            if failed.wait(0.05):
                for child in children:  # one failed: the call fails, stop the others now
                    if child.poll() is None:
                        child.kill()
                break
        for thread in threads:
            thread.join()
    except BaseException:
        # Interrupted (Ctrl-C …): never leave an engine running behind us.
        for child in children:
            if child.poll() is None:
                child.kill()
        for thread in threads:
            thread.join(timeout=5)
        raise
    if failures:
        raise failures[0]
    answered = [reply for reply in replies if reply is not None]
    if len(answered) != count:  # pragma: no cover - every thread stores a reply or a failure
        raise EngineError(f"{engine} {op} failed: an engine worker gave no answer")
    return answered


def _exchange(
    child: subprocess.Popen[bytes], payload: bytes, engine: str, op: str, timeout: float
) -> WorkerReply:
    """Send ``payload`` to one child and read its answer under the timeout."""
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
        raise EngineError(f"{engine} {op} failed: {describe_exit(child.returncode)}{suffix}")
    try:
        reply = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EngineError(f"{engine} {op} failed: the engine worker's answer is garbled") from None
    if not isinstance(reply, dict) or reply.get("ok") not in (True, False):
        raise EngineError(f"{engine} {op} failed: the engine worker's answer is garbled")
    if reply["ok"] is False:
        raise_reported(reply.get("error"))
    result = reply.get("result")
    if not isinstance(result, dict):
        raise EngineError(f"{engine} {op} failed: the engine worker's answer has no result")
    return WorkerReply(result=result, stderr=stderr)
