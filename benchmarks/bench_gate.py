"""Time the whole `gatekeeper gate run` process on synthetic releases, beside the floor.

The floor is `json.loads` of the same evidence files (reading them at all), timed in the same
loop as the gate runs. Each figure is the median of several runs of a fresh process, as a CI
step runs it (which records the decision in the default ledger, `.gatekeeper/ledger.db` in the
working directory); the same runs with `--no-ledger` show the ledger's share. Also reported:
CPU time of the process tree, µs per component, and the peak RSS of the largest process of the
run (the gate or an engine worker). T (10 components) is the fixed cost of a run. Writes a
markdown table to stdout; `--write` replaces the gate section of BENCHMARKS.md.

    python benchmarks/bench_gate.py [--sizes T,S,M,L,XL] [--runs 5] [--engine regorus] [--write]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import machine, write_section
from synthetic import SIZES, generate

REPO = Path(__file__).resolve().parents[1]
MARK_BEGIN = "<!-- bench_gate:begin -->"
MARK_END = "<!-- bench_gate:end -->"


@dataclass
class Run:
    wall_s: float
    cpu_s: float  # user + system time of the gate and its engine workers
    peak_rss_kb: int  # the largest process of the run
    code: int


def gate_command(paths: list[Path], engine: str, extra: tuple[str, ...] = ()) -> list[str]:
    """A fresh `gatekeeper gate run` of ``paths`` on ``engine``, the decision as JSON."""
    return [
        sys.executable,
        "-m",
        "gatekeeper",
        "gate",
        "run",
        "--engine",
        engine,
        "--format",
        "json",
        *extra,
        *map(str, paths),
    ]


def run_gate_once(paths: list[Path], engine: str, extra: tuple[str, ...] = ()) -> Run:
    command = gate_command(paths, engine, extra)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=paths[0].parent)
        # wait4: this run's own resource use (its waited-for workers included), not the sum
        # over every child this script ever had.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        code = proc.returncode
        if code not in (0, 1):
            err.seek(0)
            raise SystemExit(f"gate run failed ({code}): {err.read().decode().strip()}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, code)


def time_gate(
    paths: list[Path], engine: str, runs: int, extra: tuple[str, ...] = ()
) -> tuple[float, int]:
    found = [run_gate_once(paths, engine, extra) for _ in range(runs)]
    return statistics.median(r.wall_s for r in found), found[-1].code


def time_floor(paths: list[Path], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        for path in paths:
            json.loads(path.read_bytes())
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def load_average() -> str:
    # The machine may be shared: say how busy it was, so figures can be read in context.
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"


def growth_lines(results: dict[str, float], sizes: dict[str, int]) -> list[str]:
    """How wall time grows with the input: ratios between sizes and the cost per component."""
    names = [name for name in ("S", "M", "L", "XL") if name in results]
    lines = []
    for small, big in itertools.pairwise(names):
        ratio = results[big] / results[small]
        scale = sizes[big] / sizes[small]
        per_k = (results[big] - results[small]) / (sizes[big] - sizes[small]) * 1000 * 1000
        target = " (target ≤ 4.4)" if (small, big) == ("M", "L") else ""
        lines.append(
            f"- {small} → {big}: {scale:.0f}× the input, **{ratio:.2f}×** the wall time{target}; "
            f"each extra 1,000 components (with their share of vulnerabilities and findings) "
            f"costs {per_k:.0f} ms."
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="T,S,M,L,XL")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", default="regorus")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    rows = []
    results: dict[str, float] = {}
    ledger_share: dict[str, float] = {}
    components: dict[str, int] = {}
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        # Bytecode is cached (as pip does when it installs the wheel) in a throw-away folder, so
        # runs neither compile every module from source nor write into the source tree.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        for name in args.sizes.split(","):
            size = SIZES[name]
            paths = generate(size, Path(tmp) / name)
            megabytes = sum(p.stat().st_size for p in paths) / 1e6
            run_gate_once(paths, args.engine)  # warm-up: bytecode and page cache, not timed
            gate_runs: list[Run] = []
            floors: list[float] = []
            for _ in range(args.runs):  # the floor in the same loop: the same machine load
                gate_runs.append(run_gate_once(paths, args.engine))
                floors.append(time_floor(paths, 1))
            no_ledger_s, _ = time_gate(paths, args.engine, args.runs, ("--no-ledger",))
            gate_s = statistics.median(r.wall_s for r in gate_runs)
            cpu_s = statistics.median(r.cpu_s for r in gate_runs)
            rss_mb = max(r.peak_rss_kb for r in gate_runs) / 1024
            floor_s = statistics.median(floors)
            results[name] = gate_s
            ledger_share[name] = gate_s - no_ledger_s
            components[name] = size.components
            rows.append(
                f"| {name} | {size.components:,} | {size.vulnerabilities:,} | {size.findings:,} | "
                f"{megabytes:.1f} MB | {gate_s:.2f} s | {cpu_s:.2f} s | "
                f"{gate_s / size.components * 1e6:,.0f} µs | {floor_s * 1000:.0f} ms | "
                f"{gate_s / floor_s:.0f}x | {rss_mb:.0f} MB | "
                f"{rss_mb / size.components * 1000:.1f} MB | {gate_runs[-1].code} |"
            )
    shares = ", ".join(f"{name} {share:+.2f} s" for name, share in ledger_share.items())
    fixed = (
        [f"- Fixed cost (a gate run on T, 10 components): {results['T']:.2f} s (target ≤ 0.25 s)."]
        if "T" in results
        else []
    )
    table = "\n".join(
        [
            MARK_BEGIN,
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; engine `{args.engine}`; "
            f"median of {args.runs} fresh `gatekeeper gate run` processes with the built-in "
            "policies (wall time, including interpreter start-up, ingestion, evaluation in the "
            "engine worker processes, rendering and recording in the default SQLite ledger). "
            "CPU: user + system time of the gate and its workers; RSS: the peak of the largest "
            "process of the run. "
            f"Load average before / after: {load_before} / {load_average()} "
            "(the machine may be shared; more than its core count inflates every figure).",
            "",
            "| size | components | vulnerabilities | findings | evidence | gate run | CPU "
            "| per component | floor (json.loads) | ratio | peak RSS | RSS per 1,000 components "
            "| exit |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "How time grows with size:",
            "",
            *growth_lines(results, components),
            *fixed,
            f"- Share of recording in the ledger (median with it minus median with "
            f"`--no-ledger`): {shares}.",
            "",
            MARK_END,
        ]
    )
    print(table)
    if args.write:
        write_section("Gate run", MARK_BEGIN, MARK_END, table)


if __name__ == "__main__":
    main()
