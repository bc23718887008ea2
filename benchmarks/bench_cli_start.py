"""Time the start-up of the `gatekeeper` command: `--help`, `--version`, a subcommand's
`--help` (its module imported), beside `python -c pass`.

Each figure is the median wall time of fresh processes; `-X importtime` of the same runs is
how to find what a slow one imports (docs/performance.md). `--write` replaces the start-up
section of BENCHMARKS.md.

    python benchmarks/bench_cli_start.py [--runs 20] [--write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import machine, write_section

MARK_BEGIN = "<!-- bench_cli_start:begin -->"
MARK_END = "<!-- bench_cli_start:end -->"

CASES = [
    ("`python -c pass` (floor)", ["-c", "pass"], None),
    ("`gatekeeper --version`", ["-m", "gatekeeper", "--version"], 0.1),
    ("`gatekeeper --help`", ["-m", "gatekeeper", "--help"], 0.1),
    (
        "`gatekeeper gate run --help` (imports the gate)",
        ["-m", "gatekeeper", "gate", "run", "--help"],
        None,
    ),
    ("`gatekeeper check --help`", ["-m", "gatekeeper", "check", "--help"], None),
    ("`gatekeeper audit --help`", ["-m", "gatekeeper", "audit", "--help"], None),
    ("`gatekeeper serve --help`", ["-m", "gatekeeper", "serve", "--help"], None),
]


def median_wall(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = [(label, median_wall(argv, args.runs), target) for label, argv, target in CASES]
    load = os.getloadavg()
    lines = [
        MARK_BEGIN,
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()} "
        f"(`python benchmarks/bench_cli_start.py --runs {args.runs}`); median wall time of "
        f"{args.runs} fresh processes each. Load average after: {load[0]:.1f} (1 min).",
        "",
        "| command | wall | target |",
        "|---|---|---|",
    ]
    for label, wall, target in rows:
        lines.append(
            f"| {label} | {wall * 1000:.0f} ms | {f'<= {target * 1000:.0f} ms' if target else ''} |"
        )
    lines.append(MARK_END)
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section("CLI start-up", MARK_BEGIN, MARK_END, table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
