"""Time the whole `gatekeeper gate run` process on synthetic releases, beside the floor.

The floor is `json.loads` of the same evidence files (reading them at all). Each figure is the
median of several runs of a fresh process, as a CI step runs it. Writes a markdown table to
stdout; `--write` replaces the gate section of BENCHMARKS.md.

    python benchmarks/bench_gate.py [--sizes S,M,L] [--runs 5] [--engine regorus] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import SIZES, generate

REPO = Path(__file__).resolve().parents[1]
MARK_BEGIN = "<!-- bench_gate:begin -->"
MARK_END = "<!-- bench_gate:end -->"


def time_gate(paths: list[Path], engine: str, runs: int) -> tuple[float, int]:
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


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="S,M,L")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", default="regorus")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    rows = []
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sizes.split(","):
            size = SIZES[name]
            paths = generate(size, Path(tmp) / name)
            megabytes = sum(p.stat().st_size for p in paths) / 1e6
            gate_s, code = time_gate(paths, args.engine, args.runs)
            floor_s = time_floor(paths, args.runs)
            results[name] = gate_s
            rows.append(
                f"| {name} | {size.components:,} | {size.vulnerabilities:,} | {size.findings:,} | "
                f"{megabytes:.1f} MB | {gate_s:.2f} s | {floor_s * 1000:.0f} ms | "
                f"{gate_s / floor_s:.0f}x | {code} |"
            )
    growth = ""
    if "M" in results and "L" in results:
        ratio = results["L"] / results["M"]
        growth = f"\nL/M wall-time ratio for 4x the input: **{ratio:.2f}** (target ≤ 4.4).\n"
    table = "\n".join(
        [
            MARK_BEGIN,
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}; engine `{args.engine}`; "
            f"median of {args.runs} fresh `gatekeeper gate run` processes with the built-in "
            "policies (wall time, including interpreter start-up, ingestion, evaluation in the "
            "engine worker process and rendering).",
            "",
            "| size | components | vulnerabilities | findings | evidence | gate run "
            "| floor (json.loads) | ratio | exit |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            growth,
            MARK_END,
        ]
    )
    print(table)
    if args.write:
        target = REPO / "BENCHMARKS.md"
        text = target.read_text() if target.exists() else "# Benchmarks\n\n"
        if MARK_BEGIN in text:
            before, _, rest = text.partition(MARK_BEGIN)
            _, _, after = rest.partition(MARK_END)
            text = before + table + after
        else:
            text = text.rstrip("\n") + "\n\n## Gate run\n\n" + table + "\n"
        target.write_text(text)


if __name__ == "__main__":
    main()
