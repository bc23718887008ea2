"""``python -m gatekeeper.deploy.proxy``: the proxy as its own small daemon process.

The deployer starts it in a new session so that it outlives the deployer: killing a deployer
mid-rollout leaves the proxy (holding the current weights) and the workers serving, and the
next deployer reconciles through the admin API. Once both ports are bound it writes
``--ready-file`` (JSON: pid, port, admin_port) atomically; SIGTERM stops it after draining.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from gatekeeper.deploy.atomic import write_json_atomic
from gatekeeper.deploy.proxy.server import ProxyServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gatekeeper.deploy.proxy")
    parser.add_argument("--port", type=int, default=0, help="proxy port on 127.0.0.1; 0: free")
    parser.add_argument("--admin-port", type=int, default=0, help="admin port; 0: free")
    parser.add_argument("--token-file", type=Path, help="file holding the admin bearer token")
    parser.add_argument("--ready-file", type=Path, required=True, help="written once serving")
    parser.add_argument("--drain-timeout", type=float, default=30.0, help="seconds on SIGTERM")
    args = parser.parse_args(argv)
    # One line per event, flushed as written (logging's stream handler flushes every record;
    # line buffering covers print()): the log of a proxy killed mid-rollout is never empty.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s proxy %(levelname)s %(message)s")
    token = args.token_file.read_text(encoding="utf-8").strip() if args.token_file else None
    try:
        server = ProxyServer(port=args.port, admin_port=args.admin_port, token=token or None)
    except OSError as exc:
        print(f"proxy: cannot listen: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        logging.info("signal %d: draining and stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server.start()
    write_json_atomic(
        args.ready_file,
        {"pid": os.getpid(), "port": server.port, "admin_port": server.admin_port},
    )
    logging.info("serving on 127.0.0.1:%d, admin on 127.0.0.1:%d", server.port, server.admin_port)
    while not stop.wait(1.0):
        pass
    server.stop(drain_timeout=args.drain_timeout)
    logging.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
