"""Time the decision service: decisions per second through one replica and two (real
`gatekeeper serve` processes on one real PostgreSQL, and one on SQLite), latency of a
5,000-component release submitted and verified as `gate run --server` does, and verifying
inclusion proofs in a 100,000-record log.

Throughput: CLIENTS threads each submit small releases (a 20-component SBOM and a Grype scan,
the built-in library) for a fixed number of submissions, spread round-robin over the replicas;
every answer is verified by the client (checkpoint signature, record hash, inclusion proof).
`--write` replaces the service section of BENCHMARKS.md.

    python benchmarks/bench_server.py [--submissions 120] [--clients 8] [--large 15] [--write]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import httpx  # noqa: E402
from results import machine, write_section  # noqa: E402
from synthetic import SIZES, Size, generate  # noqa: E402

from gatekeeper.ledger.merkle import MerkleTree, record_leaf, verify_inclusion  # noqa: E402
from gatekeeper.ledger.signing import generate_key_pem  # noqa: E402
from gatekeeper.server.client import submit  # noqa: E402
from gatekeeper.server.tokens import Scope, TokenStore  # noqa: E402

MARK_BEGIN = "<!-- bench_server:begin -->"
MARK_END = "<!-- bench_server:end -->"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """A state folder with a key, a submit token and N `gatekeeper serve` replicas."""

    def __init__(self, root: Path, ledger: str | None, replicas: int) -> None:
        self.root = root
        self.state = root / "state"
        self.state.mkdir(parents=True)
        private, public = generate_key_pem()
        self.key = root / "service.pem"
        self.key.write_bytes(private)
        self.key.chmod(0o600)
        self.public = root / "service.pem.pub"
        self.public.write_bytes(public)
        tokens = TokenStore(self.state / "tokens.db")
        self.token, _ = tokens.create("bench", Scope.SUBMIT)
        tokens.close()
        self.urls: list[str] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
        for n in range(replicas):
            port = _free_port()
            command = [sys.executable, "-m", "gatekeeper", "serve", "--state-dir", str(self.state)]
            if ledger:
                command += ["--ledger", ledger]
            command += ["--checkpoint-file", str(self.state / f"checkpoint-{n}.json")]
            command += ["--key", str(self.key), "--port", str(port)]
            process = subprocess.Popen(
                command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            self.processes.append(process)
            url = f"http://127.0.0.1:{port}"
            self._wait_ready(url, process)  # one after the other: later ones join the log
            self.urls.append(url)

    @staticmethod
    def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"gatekeeper serve died: {error}")
            try:
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{url} never became ready")

    def env(self) -> dict[str, str]:
        return {"GATEKEEPER_TOKEN": self.token, "GATEKEEPER_SERVER_PUBLIC_KEY": str(self.public)}

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)


def _release(folder: Path, n: int) -> str:
    path = folder / f"release-{n}.yaml"
    path.write_text(
        f"service: bench\nversion: 1.0.{n}\nartifact_digest: sha256:{n:064d}\n", encoding="utf-8"
    )
    return str(path)


def throughput(service: Service, evidence: list[str], submissions: int, clients: int) -> float:
    work = service.root / "work"
    work.mkdir(exist_ok=True)
    releases = [_release(work, n) for n in range(submissions)]
    counter = iter(range(submissions))
    lock = threading.Lock()
    failures: list[str] = []

    def client(worker: int) -> None:
        cwd = work / f"client-{worker}"  # each client remembers its own checkpoint
        cwd.mkdir(exist_ok=True)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            url = service.urls[n % len(service.urls)]
            try:
                submit(url, evidence=evidence, release_file=releases[n], env=service.env(), cwd=cwd)
            except Exception as error:  # a benchmark reports, it does not stop
                failures.append(f"{type(error).__name__}: {error}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(w,)) for w in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} submissions failed, first: {failures[0]}")
    return submissions / elapsed


def latencies(service: Service, evidence: list[str], count: int) -> list[float]:
    work = service.root / "large"
    work.mkdir(exist_ok=True)
    measured = []
    for n in range(count + 1):
        release = _release(work, 10_000 + n)
        started = time.perf_counter()
        env = service.env()
        submit(service.urls[0], evidence=evidence, release_file=release, env=env, cwd=work)
        if n:  # the first warms the service (bundle caches, worker start)
            measured.append(time.perf_counter() - started)
    return measured


def proofs(records: int, checks: int) -> tuple[float, float, float]:
    """(tree build s, proof generation µs, proof verification µs) for ``records`` leaves."""
    hashes = [f"sha256:{random.getrandbits(256):064x}" for _ in range(records)]
    started = time.perf_counter()
    tree = MerkleTree.of_records(hashes)
    root = tree.root()
    build = time.perf_counter() - started
    indices = [random.randrange(records) for _ in range(checks)]
    started = time.perf_counter()
    made = [tree.inclusion_proof(i, records) for i in indices]
    generate_us = (time.perf_counter() - started) / checks * 1e6
    started = time.perf_counter()
    for index, proof in zip(indices, made, strict=True):
        if not verify_inclusion(record_leaf(hashes[index]), index, records, proof, root):
            raise SystemExit("an inclusion proof did not verify")
    verify_us = (time.perf_counter() - started) / checks * 1e6
    return build, generate_us, verify_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=120)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--large", type=int, default=15, help="5,000-component submissions")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    from tests.ledger.ledger_helpers import start_postgres

    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small = [str(p) for p in generate(Size("bench", 20, 5, 2), root / "small")]
        large = [str(p) for p in generate(SIZES["M"], root / "large")]
        large_mb = sum(Path(p).stat().st_size for p in large) / 1e6
        setups: list[tuple[str, str | None, int]] = [("SQLite", None, 1)]
        postgres = start_postgres()
        if postgres is not None:
            setups += [("PostgreSQL", postgres.new_database(), 1)]
            setups += [("PostgreSQL", postgres.new_database(), 2)]
        try:
            for n, (store, ledger, replicas) in enumerate(setups):
                service = Service(root / f"service-{n}", ledger, replicas)
                try:
                    rate = throughput(service, small, args.submissions, args.clients)
                    rows.append(
                        f"| {store} | {replicas} | {args.clients} clients, {args.submissions} "
                        f"small releases | **{rate:.1f} decisions/s** |"
                    )
                    if n == 0:
                        times = sorted(latencies(service, large, args.large))
                        p50 = statistics.median(times)
                        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
                        rows.append(
                            f"| {store} | 1 | one client, {len(times)} releases of 5,000 "
                            f"components ({large_mb:.1f} MB evidence) | p50 **{p50:.2f} s**, "
                            f"p99 **{p99:.2f} s** |"
                        )
                finally:
                    service.stop()
        finally:
            if postgres is not None:
                postgres.stop()
    build, generate_us, verify_us = proofs(args.records, 2_000)
    rows.append(f"| - | - | Merkle tree of {args.records:,} records: build | {build:.2f} s |")
    rows.append(
        f"| - | - | inclusion proof at {args.records:,} records: make / verify | "
        f"{generate_us:.0f} µs / **{verify_us:.0f} µs** |"
    )
    load = os.getloadavg()
    table = "\n".join(
        [
            MARK_BEGIN,
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine()} "
            f"(`python benchmarks/bench_server.py`; load average before the run {load[0]:.1f}). "
            "Real `gatekeeper serve` processes on loopback; each submission is a multipart "
            "upload judged with the built-in library, signed, appended to the Merkle log "
            "(SQLite: WAL, synchronous=FULL; PostgreSQL: local server, fsync off) and verified "
            "by the client (checkpoint signature, record hash, inclusion proof, consistency "
            "with its last checkpoint). Each replica evaluates one submission at a time; the "
            "small releases are 20 components, 5 vulnerabilities, 2 findings.",
            "",
            "| ledger | replicas | work | result |",
            "|---|---|---|---|",
            *rows,
            MARK_END,
        ]
    )
    print(table)
    if args.write:
        write_section("Decision service", MARK_BEGIN, MARK_END, table)


if __name__ == "__main__":
    main()
