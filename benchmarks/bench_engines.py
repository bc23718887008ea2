"""Every installed Rego engine on the same synthetic releases, in one run (issue 12).

For each size and each engine of `available_engines()` (regorus, regopy, and opa where its
bindings are installed; `opa-server` needs a server and is left out): the median wall time of
fresh `gatekeeper gate run --no-ledger` processes, the engine's own evaluation time (the
decision's `timings.evaluate_ms`), and whether its decision is the same as the default
engine's (outcome, summary counts and the set of violations). A run that exceeds the time
limit is reported as such, not left out. Writes a markdown table to stdout; `--write` replaces
the engines section of BENCHMARKS.md and the measured table of docs/engines.md, so both come
from one run.

    python benchmarks/bench_engines.py [--sizes S,M,L] [--runs 3] [--timeout 300] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gate import gate_command, load_average
from results import machine, write_section
from synthetic import SIZES, generate

REPO = Path(__file__).resolve().parents[1]
ENGINES_MD = REPO / "docs" / "engines.md"
MARK_BEGIN = "<!-- bench_engines:begin -->"
MARK_END = "<!-- bench_engines:end -->"


def run_gate(
    paths: list[Path], engine: str, timeout: float
) -> tuple[float, dict[str, Any] | None, str]:
    """(wall seconds, the decision, why there is none) of one fresh process: no decision when
    it ran out of time or ended in an error (an engine's own time bound is exit 3)."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            # The engine's own bound (default 30 s) set to the run's, so a slow engine is
            # measured rather than cut short; a hang is still stopped.
            gate_command(paths, engine, ("--no-ledger", "--timeout", f"{timeout:g}")),
            capture_output=True,
            text=True,
            cwd=paths[0].parent,
            timeout=timeout + 30,
        )
    except subprocess.TimeoutExpired:
        return time.perf_counter() - started, None, f"> {timeout:.0f} s, stopped"
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        lines = proc.stderr.strip().splitlines() or ["(no message)"]
        return wall, None, f"exit {proc.returncode} after {wall:.0f} s: {lines[-1]}"
    decision: dict[str, Any] = json.loads(proc.stdout)
    return wall, decision, ""


def fingerprint(decision: dict[str, Any]) -> tuple[Any, ...]:
    """What must be equal between engines: the outcome, the counts, every violation."""
    violations = sorted(
        json.dumps({k: v.get(k) for k in ("policy", "rule", "subject", "message")}, sort_keys=True)
        for v in decision["violations"]
    )
    return decision["outcome"], json.dumps(decision["summary"], sort_keys=True), tuple(violations)


def engines() -> list[str]:
    from gatekeeper.policy.engines.registry import DEFAULT_ENGINE, available_engines

    names = available_engines()
    return [DEFAULT_ENGINE, *(name for name in names if name != DEFAULT_ENGINE)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="S,M,L")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    names = engines()
    rows = []
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        for size_name in args.sizes.split(","):
            size = SIZES[size_name]
            paths = generate(size, Path(tmp) / size_name)
            reference: tuple[Any, ...] | None = None
            for engine in names:
                # Warm-up (bytecode, page cache); an engine that cannot finish it in time is
                # not run again at this size.
                _wall, decision, why = run_gate(paths, engine, args.timeout)
                walls: list[float] = []
                evaluations: list[float] = []
                for _ in range(args.runs if decision is not None else 0):
                    wall, decision, why = run_gate(paths, engine, args.timeout)
                    if decision is None:
                        break
                    walls.append(wall)
                    evaluations.append(float(decision["timings"]["evaluate_ms"]))
                if decision is None:
                    rows.append(
                        f"| {size_name} | {size.components:,} | `{engine}` | {why} | - | - |"
                    )
                    continue
                print_ = fingerprint(decision)
                if reference is None:
                    reference = print_
                    same = "(reference)"
                else:
                    same = "yes" if print_ == reference else "**no**"
                rows.append(
                    f"| {size_name} | {size.components:,} | `{engine}` | "
                    f"{statistics.median(walls):.2f} s | "
                    f"{statistics.median(evaluations) / 1000:.2f} s | {same} |"
                )
    table = "\n".join(
        [
            MARK_BEGIN,
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()} with "
            f"`python benchmarks/bench_engines.py --sizes {args.sizes} --runs {args.runs} "
            f"--timeout {args.timeout:g}`: "
            "every installed engine on the same synthetic releases (built-in policies, "
            f"`gate run --no-ledger`, median of {args.runs} fresh processes). Load average "
            f"before / after: {load_before} / {load_average()}.",
            "",
            "| size | components | engine | gate run (wall) | evaluation in the engine "
            "| same decision as the default |",
            "|---|---|---|---|---|---|",
            *rows,
            MARK_END,
        ]
    )
    print(table)
    if args.write:
        write_section("Engines", MARK_BEGIN, MARK_END, table)
        write_section("Measured", MARK_BEGIN, MARK_END, table, path=ENGINES_MD)


if __name__ == "__main__":
    main()
