"""Time `gatekeeper audit verify` and `gatekeeper audit report` on a ledger of N decisions.

The ledger (SQLite) is written in bulk with the real record builder: decisions of the
example release (built-in-test policies of tests/ledger/fixtures: violations, waivers and
controls), spread over 5 services and 60 days, every record signed with a fresh Ed25519 key
unless `--unsigned`. Each command then runs as a fresh process; wall time and the peak RSS of
that process are reported. `--write` replaces the audit section of BENCHMARKS.md.

    python benchmarks/bench_audit.py [--records 100000] [--unsigned] [--write]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_ledger import _flush, example_result  # noqa: E402
from results import machine, write_section  # noqa: E402

from gatekeeper.audit.recorder import record_fields  # noqa: E402
from gatekeeper.ledger.canonical import timestamp  # noqa: E402
from gatekeeper.ledger.chain import record_builder  # noqa: E402
from gatekeeper.ledger.registry import open_store  # noqa: E402
from gatekeeper.ledger.signing import Signer, generate_key_pem, load_signer  # noqa: E402
from gatekeeper.ledger.store import Head  # noqa: E402

MARK_BEGIN = "<!-- bench_audit:begin -->"
MARK_END = "<!-- bench_audit:end -->"
SERVICES = ("orders-api", "billing-worker", "search-ui", "payments", "catalog")


def build_ledger(path: Path, count: int, signer: Signer | None) -> int:
    """Write ``count`` chained decisions; return the size of the database in bytes."""
    result = example_result()
    base = record_fields(result, namespaces=(), snapshot_digest="sha256:" + "1" * 64)
    store = open_store(f"sqlite:///{path}", base=path.parent, create=True)
    try:
        conn = store._db  # type: ignore[attr-defined]
        insert = (
            "INSERT INTO gk_ledger_records (seq, decision_id, recorded_at, service, body, hash, "
            "signature) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        head = Head(0, store.head().hash)  # type: ignore[union-attr]
        start = datetime(2026, 10, 1, tzinfo=UTC)
        batch = []
        for i in range(count):
            service = SERVICES[i % len(SERVICES)]
            fields = {
                **base,
                "decision_id": str(uuid.uuid4()),
                "release": {**base["release"], "service": service, "version": f"1.{i % 97}.0"},
                "decision": {
                    **base["decision"],
                    "release": {**base["decision"]["release"], "service": service},
                },
            }
            when = timestamp(start + timedelta(seconds=i * 60 * 86400 // max(count, 1)))
            record = record_builder(fields, recorded_at=when, signer=signer)(head)
            batch.append(
                (
                    record.seq,
                    record.decision_id,
                    record.recorded_at,
                    record.service,
                    record.body,
                    record.hash,
                    record.signature,
                )
            )
            head = Head(record.seq, record.hash)
            if len(batch) == 5000:
                _flush(conn, insert, batch, head, False)
                batch = []
        _flush(conn, insert, batch, head, False)
    finally:
        store.close()
    return path.stat().st_size


def timed(args: list[str], cwd: Path) -> tuple[float, float, int, str]:
    """(wall s, peak RSS MB, exit code, last stderr line) of one fresh process (its own peak:
    ``wait4`` reports that child's, not the largest of every child so far)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "gatekeeper", *args], stdout=out, stderr=err, cwd=cwd
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().strip()
    tail = text.splitlines()[-1] if text else ""
    return wall, usage.ru_maxrss / 1024, proc.returncode, tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--unsigned", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        signer = None
        if not args.unsigned:
            private, _public = generate_key_pem()
            (work / "key.pem").write_bytes(private)
            signer = load_signer(work / "key.pem")
        db = work / "ledger.db"
        started = time.perf_counter()
        size = build_ledger(db, args.records, signer)
        built = time.perf_counter() - started
        ledger = f"sqlite:///{db}"
        load_before = os.getloadavg()[0]
        # Cold: --no-cache, every signature checked (it still leaves the verified prefix
        # behind); warm: the next command reuses that prefix (docs/ledger.md).
        json_out = ["--format", "json", "-o", "r.json"]
        runs = [
            ("`audit verify --no-cache`", "cold", ["audit", "verify", "--no-cache"], 2.0, None),
            ("`audit verify`", "warm", ["audit", "verify"], 2.0, None),
            (
                "`audit report --format json --no-cache`",
                "cold",
                ["audit", "report", *json_out, "--no-cache"],
                10.0,
                300.0,
            ),
            ("`audit report --format json`", "warm", ["audit", "report", *json_out], 10.0, 300.0),
            (
                "`audit report --format html`",
                "warm",
                ["audit", "report", "-o", "r.html"],
                10.0,
                300.0,
            ),
        ]
        rows = []
        for label, cache, argv, wall_target, rss_target in runs:
            wall, rss, code, tail = timed([*argv, "--ledger", ledger], work)
            rows.append((label, cache, wall, rss, code, tail, wall_target, rss_target))
    load = os.getloadavg()
    signed = "unsigned" if args.unsigned else "signed (Ed25519)"
    lines = [
        MARK_BEGIN,
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()} "
        f"(`python benchmarks/bench_audit.py --records {args.records}"
        f"{' --unsigned' if args.unsigned else ''}`): a SQLite ledger of {args.records:,} "
        f"{signed} decision records of the example release ({size / 1e6:.0f} MB, written in "
        f"{built:.0f} s), each command one fresh process, in this order. Cold: every "
        "signature checked; warm: the verified prefix the command before left in "
        f"`.gatekeeper/verified/`. Load average before: {load_before:.1f}, after: {load[0]:.1f}.",
        "",
        "| command | cache | wall | peak RSS | target | exit |",
        "|---|---|---|---|---|---|",
    ]
    for label, cache, wall, rss, code, _tail, wall_target, rss_target in rows:
        target = f"<= {wall_target:g} s" + (f", <= {rss_target:g} MB" if rss_target else "")
        lines.append(f"| {label} | {cache} | {wall:.2f} s | {rss:.0f} MB | {target} | {code} |")
    lines.append(MARK_END)
    table = "\n".join(lines)
    print(table)
    for label, *_, code, tail, _w, _r in rows:
        if code != 0:
            print(f"{label}: exit {code}: {tail}", file=sys.stderr)
    if args.write:
        write_section("Audit at scale", MARK_BEGIN, MARK_END, table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
