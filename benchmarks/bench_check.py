"""Time `gatekeeper check` (the conftest-compatible command) on a large Kubernetes YAML stream.

The stream repeats the documents of examples/conftest/manifests.yaml (a Deployment that
fails, a Service that warns, a Deployment that passes) with unique names and a few labels,
until it reaches the wanted size (5 MB: ~12,000 documents). The policies are
examples/conftest/policy. Each figure is the median wall time of fresh `gatekeeper check`
processes; the floor is parsing the same stream with libyaml alone (`yaml.load_all`,
CSafeLoader) and `json.dumps` of the documents. `--write` replaces the check section of
BENCHMARKS.md.

    python benchmarks/bench_check.py [--mb 5] [--runs 3] [--engines opa,regorus] [--write]
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

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import machine, write_section

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO / "examples" / "conftest" / "policy"
MARK_BEGIN = "<!-- bench_check:begin -->"
MARK_END = "<!-- bench_check:end -->"

_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{n}
  namespace: team-{team}
  labels:
    app.kubernetes.io/name: web-{n}
    app.kubernetes.io/part-of: shop
    app.kubernetes.io/managed-by: helm
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web-{n}
  template:
    metadata:
      labels:
        app: web-{n}
    spec:
{security}      containers:
        - name: web
          image: registry.example.com/web:1.4.{n}
          ports:
            - containerPort: 8080
"""
_SECURE = "      securityContext:\n        runAsNonRoot: true\n"
_SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: frontend-{n}
  namespace: team-{team}
  labels:
    app.kubernetes.io/name: frontend-{n}
    app.kubernetes.io/part-of: shop
spec:
  type: {kind}
  selector:
    app: web-{n}
  ports:
    - port: 443
      targetPort: 8443
"""


def generate(path: Path, megabytes: float) -> int:
    """Write the stream; return its number of documents."""
    target = int(megabytes * 1_000_000)
    parts: list[str] = []
    size = 0
    n = 0
    while size < target:
        if n % 3 == 2:
            text = _SERVICE.format(n=n, team=n % 17, kind="LoadBalancer" if n % 2 else "ClusterIP")
        else:
            secure = n % 3 == 1
            text = _DEPLOYMENT.format(
                n=n, team=n % 17, replicas=3 if secure else 1, security=_SECURE if secure else ""
            )
        parts.append(text)
        size += len(text) + 4
        n += 1
    path.write_text("---\n".join(parts))
    return n


def floor(path: Path) -> float:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    started = time.perf_counter()
    docs = list(yaml.load_all(path.read_text(), Loader=loader))
    for doc in docs:
        json.dumps(doc, separators=(",", ":"))
    return time.perf_counter() - started


def time_check(path: Path, engine: str, runs: int) -> tuple[float, int, str]:
    times = []
    code = -1
    tail = ""
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "gatekeeper",
                "check",
                "--engine",
                engine,
                "-p",
                str(POLICY),
                "-o",
                "json",
                str(path),
            ],
            capture_output=True,
            text=True,
            cwd=path.parent,
        )
        times.append(time.perf_counter() - started)
        code = proc.returncode
        tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    return statistics.median(times), code, tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="opa,regorus")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stream = Path(tmp) / "manifests.yaml"
        documents = generate(stream, args.mb)
        size = stream.stat().st_size / 1_000_000
        floor_s = floor(stream)
        rows = []
        for engine in args.engines.split(","):
            wall, code, tail = time_check(stream, engine, args.runs)
            rows.append((engine, wall, code, tail))
    load = os.getloadavg()
    lines = [
        MARK_BEGIN,
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()} "
        f"(`python benchmarks/bench_check.py --mb {args.mb:g} --runs {args.runs}`); median wall "
        f"time of {args.runs} fresh `gatekeeper check -p examples/conftest/policy -o json` "
        f"processes on a {size:.1f} MB stream of {documents:,} Kubernetes documents. Load "
        f"average after: {load[0]:.1f} (1 min). Floor: libyaml (`yaml.load_all`, CSafeLoader) "
        f"plus `json.dumps` of every document, {floor_s:.2f} s. Target: <= 5 s.",
        "",
        "| engine | documents | wall | per document | floor | ratio | exit |",
        "|---|---|---|---|---|---|---|",
    ]
    for engine, wall, code, _tail in rows:
        lines.append(
            f"| {engine} | {documents:,} | {wall:.2f} s | {wall / documents * 1e6:.0f} µs "
            f"| {floor_s:.2f} s | {wall / floor_s:.1f}x | {code} |"
        )
    lines.append(MARK_END)
    table = "\n".join(lines)
    print(table)
    for engine, _wall, code, tail in rows:
        if code not in (0, 1):
            print(f"{engine}: exit {code}: {tail}", file=sys.stderr)
    if args.write:
        write_section("Conftest-compatible check", MARK_BEGIN, MARK_END, table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
