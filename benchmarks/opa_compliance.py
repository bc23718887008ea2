"""Run OPA's Rego compliance cases against each embedded engine and count the results.

The cases are not part of this repository: point the script at a folder of OPA's v1 test
cases in JSON form (the copy kept by open-policy-agent/swift-opa under
``ComplianceSuite/Tests/RegoComplianceTests/TestData/v1``: ``<group>/<name>.json`` files with
``{"cases": [{"note", "query", "modules", "data", "input", "want_result", "want_error" …}]}``).

    python benchmarks/opa_compliance.py PATH/TO/v1 [--engine opa|regorus|regopy] [--json]

Each engine runs in its own child process (an engine panic or abort ends the child, which is
restarted after the case that killed it, counted as a crash); a case that gives no answer
within ``--case-timeout`` seconds is counted as a timeout. A case passes when the engine's
bindings equal ``want_result`` (order-insensitive with ``sort_bindings``), or when it raises an
error where the case expects one (``want_error``, ``want_error_code``, ``strict_error``).
Cases whose input is a Rego term that is not JSON are skipped (not every binding takes terms).
The results are recorded in docs/engines.md.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ENGINES = ("opa", "regorus", "regopy")


def load_cases(root: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(root.rglob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for case in document.get("cases", []) if isinstance(document, dict) else []:
            if isinstance(case, dict) and "query" in case:
                cases.append({**case, "file": str(path.relative_to(root))})
    return cases


# ---- child side: one engine, every case, one JSON line per case -------------------------------


def _input_of(case: dict[str, Any]) -> tuple[bool, Any]:
    if "input" in case:
        return True, case["input"]
    if "input_term" in case:
        try:
            return True, json.loads(case["input_term"])
        except ValueError:
            raise _Skip("input_term is not JSON") from None
    return False, None


class _Skip(Exception):
    pass


def _run_opa(case: dict[str, Any]) -> list[dict[str, Any]]:
    from opa_bindings import OpaEngine

    engine = OpaEngine()
    engine.print_handler = lambda message, location: None
    try:
        for index, source in enumerate(case.get("modules") or []):
            engine.add_policy(f"module-{index}.rego", source)
        if case.get("data"):
            engine.add_data(case["data"])
        has_input, value = _input_of(case)
        return list(engine.eval_query(case["query"], value if has_input else None))
    finally:
        engine.close()


def _run_regorus(case: dict[str, Any]) -> list[dict[str, Any]]:
    import regorus

    engine = regorus.Engine()
    engine.set_rego_v0(False)
    for index, source in enumerate(case.get("modules") or []):
        engine.add_policy(f"module-{index}.rego", source)
    if case.get("data"):
        engine.add_data_json(json.dumps(case["data"]))
    has_input, value = _input_of(case)
    if has_input:
        engine.set_input_json(json.dumps(value))
    answer = json.loads(engine.eval_query_as_json(case["query"]))
    return [r.get("bindings", {}) for r in answer.get("result", [])]


def _run_regopy(case: dict[str, Any]) -> list[dict[str, Any]]:
    from regopy import Interpreter

    interpreter = Interpreter()
    interpreter.strict_built_in_errors = True
    for index, source in enumerate(case.get("modules") or []):
        interpreter.add_module(f"module-{index}.rego", source)
    if case.get("data"):
        interpreter.add_data_json(json.dumps(case["data"]))
    has_input, value = _input_of(case)
    if has_input:
        interpreter.set_input_json(json.dumps(value))
    output = interpreter.query(case["query"])
    if not output.ok():
        raise RuntimeError("regopy error")
    return [dict(getattr(r, "bindings", {}) or {}) for r in getattr(output, "results", [])]


RUNNERS = {"opa": _run_opa, "regorus": _run_regorus, "regopy": _run_regopy}


def _canonical(value: Any) -> Any:
    """Numbers compared by value (3 and 3.0 are the same Rego number)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return value


def _normalise(rows: list[dict[str, Any]], case: dict[str, Any]) -> list[str]:
    cleaned = []
    for row in rows:
        if case.get("ignore_generated_vars"):
            row = {k: v for k, v in row.items() if not k.startswith("__")}
        cleaned.append(json.dumps(_canonical(row), sort_keys=True))
    return sorted(cleaned) if case.get("sort_bindings") else cleaned


def judge(case: dict[str, Any], runner: Any) -> str:
    wants_error = bool(case.get("want_error") or case.get("want_error_code"))
    wants_error = wants_error or bool(case.get("strict_error"))
    try:
        rows = runner(case)
    except _Skip:
        return "skipped"
    except BaseException:  # engine errors and native panics alike
        return "pass" if wants_error else "error"
    if wants_error:
        return "mismatch"
    want = case.get("want_result")
    if want is None:
        want = []
    got = _normalise(rows, case)
    return "pass" if got == _normalise(list(want), case) else "mismatch"


def child(engine: str, root: Path, start: int) -> int:
    # The engines print diagnostics on stdout: keep it for our answers only.
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    runner = RUNNERS[engine]
    cases = load_cases(root)
    for index in range(start, len(cases)):
        answers.write(json.dumps({"index": index, "result": judge(cases[index], runner)}) + "\n")
    answers.write(json.dumps({"done": True}) + "\n")
    return 0


# ---- parent side -------------------------------------------------------------------------------


def run_engine(engine: str, root: Path, total: int, case_timeout: float) -> Counter[str]:
    counts: Counter[str] = Counter()
    start = 0
    while start < total:
        command = [sys.executable, __file__, "--child", engine, str(root), str(start)]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert process.stdout is not None
        next_index = start
        finished = False
        while True:
            ready, _, _ = select.select([process.stdout], [], [], case_timeout)
            if not ready:
                process.kill()
                counts["timeout"] += 1
                break
            line = process.stdout.readline()
            if not line:
                counts["crash"] += 1
                break
            answer = json.loads(line)
            if answer.get("done"):
                finished = True
                break
            counts[answer["result"]] += 1
            next_index = answer["index"] + 1
        process.kill()
        process.wait()
        if finished:
            break
        start = next_index + 1  # skip the case that hung or killed the engine
    return counts


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", type=Path, help="folder of OPA's v1 compliance cases (JSON)")
    parser.add_argument("--engine", choices=ENGINES, action="append")
    parser.add_argument("--case-timeout", type=float, default=30.0)
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args()
    cases = load_cases(args.cases)
    if not cases:
        parser.error(f"no compliance cases under {args.cases}")
    report: dict[str, dict[str, Any]] = {}
    for engine in args.engine or ENGINES:
        started = time.perf_counter()
        counts = run_engine(engine, args.cases, len(cases), args.case_timeout)
        report[engine] = {
            "cases": len(cases),
            **dict(sorted(counts.items())),
            "seconds": round(time.perf_counter() - started, 1),
        }
        if not args.json:
            detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            print(f"{engine}: {counts['pass']}/{len(cases)} pass ({detail})", flush=True)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
