"""DORA keys and the dashboard over a seeded history: `audit dora`'s computation, and the
dashboard's pages as `gatekeeper serve` renders them (in process, through the ASGI app), at
1,000 and 10,000 decisions (the history of tests/server/dashboard_seed.py, ≈ 1 rollout per
6 decisions with rollbacks and incidents).

    python benchmarks/bench_dora.py [--sizes 1000,10000] [--write]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.results import machine, write_section  # noqa: E402

MARK_BEGIN = "<!-- bench_dora:begin -->"
MARK_END = "<!-- bench_dora:end -->"


def _median(run: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(size: int) -> list[str]:
    from fastapi.testclient import TestClient

    from gatekeeper.ledger.dora import dora_report
    from gatekeeper.ledger.signing import generate_key_pem
    from gatekeeper.server.app import create_app
    from gatekeeper.server.service import ServiceSettings, StatePaths, open_service
    from gatekeeper.server.tokens import Scope
    from tests.server.dashboard_seed import SERVICES, seed

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        key = root / "service.key"
        key.write_bytes(generate_key_pem()[0])
        key.chmod(0o600)
        service = open_service(
            StatePaths(state_dir=root / "state"), ServiceSettings(), key_path=key, env={}, cwd=root
        )
        try:
            started = time.perf_counter()
            seeded = seed(
                service.log.store, service.log.signer, root, now=datetime.now(UTC), decisions=size
            )
            service.log.sync()
            seeding = time.perf_counter() - started
            token, _ = service.tokens.create("auditors", Scope.ADMIN)
            store = service.log.store
            dora = _median(lambda: dora_report(store, start=None, end=None))
            client = TestClient(create_app(service))
            client.headers["Authorization"] = f"Bearer {token}"
            started = time.perf_counter()
            assert client.get("/dashboard/").status_code == 200
            cold = time.perf_counter() - started
            warm = _median(lambda: client.get("/dashboard/"))
            started = time.perf_counter()
            client.get(f"/dashboard/services/{SERVICES[0]}")
            page_cold = time.perf_counter() - started
            page = _median(lambda: client.get(f"/dashboard/services/{SERVICES[0]}"))
            controls = _median(lambda: client.get("/dashboard/controls"))
        finally:
            service.close()
    label = f"{seeded.decisions:,} decisions, {seeded.deployments} rollouts"
    return [
        f"| {label} | seed (append, signed) | {seeding:.1f} s |",
        f"| {label} | `audit dora` keys (all services) | {dora * 1000:.0f} ms |",
        f"| {label} | overview, first (builds the compliance report) | {cold:.2f} s |",
        f"| {label} | overview, again (report cached per log size) | {warm * 1000:.0f} ms |",
        f"| {label} | service page, first (DORA, 12-week trend, history) | "
        f"{page_cold * 1000:.0f} ms |",
        f"| {label} | service page, again (cached per log size) | {page * 1000:.0f} ms |",
        f"| {label} | controls page (report cached) | {controls * 1000:.0f} ms |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--write", action="store_true", help="Update BENCHMARKS.md.")
    args = parser.parse_args()
    rows: list[str] = []
    for size in (int(s) for s in args.sizes.split(",")):
        rows += measure(size)
    table = "\n".join(
        [
            MARK_BEGIN,
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()} "
            f"(`python benchmarks/bench_dora.py --sizes {args.sizes}`), SQLite, medians of 3 "
            "(the machine is shared).",
            "",
            "| history | operation | time |",
            "|---|---|---|",
            *rows,
            MARK_END,
        ]
    )
    print(table)
    if args.write:
        write_section("DORA keys and dashboard", MARK_BEGIN, MARK_END, table)


if __name__ == "__main__":
    main()
