"""Time the decision ledger: appending decisions one transaction each, and verifying a chain.

Appends are real `record_gate_result` calls (a decision of the example release, its gate input
and bundle snapshot as blobs, one fsync'd transaction each); the 100,000-record chain for
`verify` is written in bulk with the same record builder, then verified the way
`gatekeeper audit verify` does. PostgreSQL runs when a server can be started locally.
`--write` replaces the ledger section of BENCHMARKS.md.

    python benchmarks/bench_ledger.py [--appends 10000] [--chain 100000] [--no-postgres] [--write]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from results import machine, write_section  # noqa: E402

from gatekeeper.audit.recorder import record_fields, record_gate_result  # noqa: E402
from gatekeeper.gate.run import GateRequest, GateResult, run_gate  # noqa: E402
from gatekeeper.ledger.canonical import timestamp  # noqa: E402
from gatekeeper.ledger.chain import record_builder, verify_chain  # noqa: E402
from gatekeeper.ledger.registry import open_store  # noqa: E402
from gatekeeper.ledger.store import Head, LedgerStore  # noqa: E402

MARK_BEGIN = "<!-- bench_ledger:begin -->"
MARK_END = "<!-- bench_ledger:end -->"
EXAMPLES = REPO / "examples"
POLICIES = REPO / "tests" / "ledger" / "fixtures" / "policies"


def example_result() -> GateResult:
    evidence = EXAMPLES / "evidence"
    return run_gate(
        GateRequest(
            evidence=tuple(str(p) for p in sorted(evidence.glob("*.json"))),
            policies=(str(POLICIES),),
            release_file=str(EXAMPLES / "release.yaml"),
            env={},
        )
    )


def vary(result: GateResult, i: int) -> GateResult:
    """Another run of the same release: new decision id, a new input (its time differs)."""
    decision = result.decision.model_copy(update={"decision_id": str(uuid.uuid4())})
    input_json = result.input_json.replace('"time":"', f'"time":"{i:08d}', 1)
    digest = "sha256:" + hashlib.sha256(input_json.encode()).hexdigest()
    decision = decision.model_copy(update={"input_digest": digest})
    return dataclasses.replace(result, decision=decision, input_json=input_json)


def bench_appends(store: LedgerStore, result: GateResult, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        record_gate_result(store, vary(result, i))
    return time.perf_counter() - started


def bulk_chain(store: LedgerStore, result: GateResult, count: int) -> None:
    """Write ``count`` chained records fast (one transaction per 5,000), for verify."""
    fields = record_fields(result, namespaces=(), snapshot_digest="sha256:" + "1" * 64)
    head = store.head() or Head(0, "")
    conn = store._db if hasattr(store, "_db") else store._conn  # type: ignore[attr-defined]
    pg = not hasattr(store, "_db")
    insert = (
        "INSERT INTO gk_ledger_records (seq, decision_id, recorded_at, service, body, hash, "
        "signature) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    if pg:
        insert = insert.replace("?", "%s")
    batch = []
    now = timestamp(datetime.now(UTC))
    for _ in range(count):
        fields = {**fields, "decision_id": str(uuid.uuid4())}
        record = record_builder(fields, recorded_at=now, signer=None)(head)
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
            _flush(conn, insert, batch, head, pg)
            batch = []
    _flush(conn, insert, batch, head, pg)


def _flush(
    conn: object, insert: str, batch: list[tuple[object, ...]], head: Head, pg: bool
) -> None:
    update = "UPDATE gk_ledger_head SET seq = ?, hash = ? WHERE id = 1"
    if pg:
        with conn.cursor() as cur:  # type: ignore[attr-defined]
            cur.executemany(insert, batch)
            cur.execute(update.replace("?", "%s"), (head.seq, head.hash))
        conn.commit()  # type: ignore[attr-defined]
    else:
        conn.execute("BEGIN")  # type: ignore[attr-defined]
        conn.executemany(insert, batch)  # type: ignore[attr-defined]
        conn.execute(update, (head.seq, head.hash))  # type: ignore[attr-defined]
        conn.execute("COMMIT")  # type: ignore[attr-defined]


def bench_verify(store: LedgerStore) -> tuple[float, int]:
    started = time.perf_counter()
    result = verify_chain(store.records, head=store.head())
    elapsed = time.perf_counter() - started
    assert result.ok, result.problem
    return elapsed, result.count


def run_store(
    name: str, url: str, base: Path, appends: int, chain: int, result: GateResult
) -> list[str]:
    rows = []
    store = open_store(url, base=base, create=True)
    try:
        elapsed = bench_appends(store, result, appends)
        rows.append(
            f"| {name} | append {appends:,} decisions (one transaction each) | "
            f"{elapsed:.1f} s | {1000 * elapsed / appends:.2f} ms |"
        )
    finally:
        store.close()
    chain_url = url.replace(".db", "-chain.db") if name == "SQLite" else url
    store = open_store(chain_url, base=base, create=True)
    try:
        existing = (store.head() or Head(0, "")).seq
        bulk_chain(store, result, chain - existing)
        elapsed, count = bench_verify(store)
        rows.append(
            f"| {name} | verify a {count:,}-record chain | {elapsed:.1f} s | "
            f"{1_000_000 * elapsed / count:.0f} µs |"
        )
    finally:
        store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appends", type=int, default=10_000)
    parser.add_argument("--chain", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    result = example_result()
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += run_store(
            "SQLite", str(Path(tmp) / "ledger.db"), Path(tmp), args.appends, args.chain, result
        )
    if not args.no_postgres:
        sys.path.insert(0, str(REPO))
        from tests.ledger.ledger_helpers import start_postgres

        server = start_postgres()
        if server is not None:
            try:
                rows += run_store(
                    "PostgreSQL", server.new_database(), REPO, args.appends, args.chain, result
                )
            finally:
                server.stop()
    table = "\n".join(
        [
            MARK_BEGIN,
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()} "
            "(`python benchmarks/bench_ledger.py`). Each append is a full `gate run` record: "
            "the decision of the example release (≈"
            f"{len(result.decision.model_dump_json()) // 1024} KiB), its gate input as a new "
            "blob, the bundle snapshot (stored once), one durable transaction "
            "(SQLite: WAL, synchronous=FULL; PostgreSQL: local server, fsync off).",
            "",
            "| store | operation | total | per record |",
            "|---|---|---|---|",
            *rows,
            MARK_END,
        ]
    )
    print(table)
    if args.write:
        write_section("Decision ledger", MARK_BEGIN, MARK_END, table)


if __name__ == "__main__":
    main()
