"""Time the whole `gatekeeper gate run` process on synthetic releases, beside the floor.

The floor is `json.loads` of the same evidence files (reading them at all). Each figure is the
median of several runs of a fresh process, as a CI step runs it (which records the decision in
the default ledger, `.gatekeeper/ledger.db` in the working directory); the same runs with
`--no-ledger` show the ledger's share. Writes a markdown table to stdout; `--write` replaces the
gate section of BENCHMARKS.md.

    python benchmarks/bench_gate.py [--sizes S,M,L] [--runs 5] [--engine regorus] [--write]
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
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import machine, write_section
from synthetic import SIZES, generate

REPO = Path(__file__).resolve().parents[1]
MARK_BEGIN = "<!-- bench_gate:begin -->"
MARK_END = "<!-- bench_gate:end -->"


def time_gate(
    paths: list[Path], engine: str, runs: int, extra: tuple[str, ...] = ()
) -> tuple[float, int]:
    times = []
    code = -1
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(
            [
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
            ],
            capture_output=True,
            text=True,
            cwd=paths[0].parent,
        )
        times.append(time.perf_counter() - started)
        code = proc.returncode
        if code not in (0, 1):
            raise SystemExit(f"gate run failed ({code}): {proc.stderr.strip()}")
    return statistics.median(times), code


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
    names = [name for name in ("S", "M", "L") if name in results]
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
    if names:
        fixed = (
            results[names[0]]
            - (results[names[-1]] - results[names[0]])
            / (sizes[names[-1]] - sizes[names[0]])
            * sizes[names[0]]
        )
        lines.append(
            f"- Fixed cost (interpreter start, imports, engine worker start; extrapolated to "
            f"zero components): {fixed:.2f} s."
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="S,M,L")
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
            time_gate(paths, args.engine, 1)  # warm-up: bytecode and page cache, not timed
            gate_s, code = time_gate(paths, args.engine, args.runs)
            no_ledger_s, _ = time_gate(paths, args.engine, args.runs, ("--no-ledger",))
            floor_s = time_floor(paths, args.runs)
            results[name] = gate_s
            ledger_share[name] = gate_s - no_ledger_s
            components[name] = size.components
            rows.append(
                f"| {name} | {size.components:,} | {size.vulnerabilities:,} | {size.findings:,} | "
                f"{megabytes:.1f} MB | {gate_s:.2f} s | {floor_s * 1000:.0f} ms | "
                f"{gate_s / floor_s:.0f}x | {code} |"
            )
    shares = ", ".join(f"{name} {share:+.2f} s" for name, share in ledger_share.items())
    table = "\n".join(
        [
            MARK_BEGIN,
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; engine `{args.engine}`; "
            f"median of {args.runs} fresh `gatekeeper gate run` processes with the built-in "
            "policies (wall time, including interpreter start-up, ingestion, evaluation in the "
            "engine worker process, rendering and recording in the default SQLite ledger). "
            f"Load average before / after: {load_before} / {load_average()} "
            "(the machine may be shared; more than its core count inflates every figure).",
            "",
            "| size | components | vulnerabilities | findings | evidence | gate run "
            "| floor (json.loads) | ratio | exit |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "How time grows with size:",
            "",
            *growth_lines(results, components),
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
