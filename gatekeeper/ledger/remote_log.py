"""``audit verify --server``: an auditor checks the decision service's whole log with the
service's public key only, trusting nothing the service says that can be recomputed.

The signed checkpoint must verify against a pinned key; every record up to its size is fetched
(``GET /v1/log/entries``, page by page) and walked with the same chain check as a local ledger
(hash of each body, links, sequence, a trusted signature on every record); the Merkle root of
the record hashes must be the checkpoint's root; and the checkpoint must extend the last one
this workspace saw (a consistency proof). A service that cannot be reached or answers garbage
is an error (exit 3); a log that does not verify is a finding (exit 1), named.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gatekeeper.errors import ConfigError
from gatekeeper.ledger.chain import Problem, VerifyResult, verify_chain
from gatekeeper.ledger.merkle import Checkpoint, LogError, MerkleTree, checkpoint_valid
from gatekeeper.ledger.remote import (
    LAST_CHECKPOINT,
    PUBLIC_KEY_ENV,
    TOKEN_ENV,
    LogRewritten,
    ServerAnswerError,
    call,
    check_consistency,
    response_json,
    service_client,
    service_token,
)
from gatekeeper.ledger.signing import key_id_of, load_public_key
from gatekeeper.ledger.store import Head, StoredRecord

PAGE = 1000


@dataclass(frozen=True)
class ServiceLogCheck:
    url: str
    checkpoint: Checkpoint | None  # None: its signature did not verify
    chain: VerifyResult

    @property
    def ok(self) -> bool:
        return self.chain.ok


def pinned_keys(paths: Sequence[str], env: Mapping[str, str]) -> list[bytes]:
    """``--trusted-key`` files, else the one ``GATEKEEPER_SERVER_PUBLIC_KEY`` names."""
    if paths:
        return [load_public_key(path) for path in paths]
    value = env.get(PUBLIC_KEY_ENV, "").strip()
    if not value:
        raise ConfigError(
            f"--server needs the service's public key: --trusted-key FILE or {PUBLIC_KEY_ENV}"
        )
    return [load_public_key(value)]


def verify_service_log(
    url: str,
    *,
    public_keys: Sequence[bytes],
    env: Mapping[str, str],
    cwd: Path,
    anchor: str | None = None,
    transport: httpx.BaseTransport | None = None,
    sink: Callable[[StoredRecord], None] | None = None,
) -> ServiceLogCheck:
    """``sink``: called with each record of the first (streaming) pass, in log order — a
    mirror keeps what is being verified without holding the log in memory."""
    token = service_token(env, missing=f"--server needs an admin token in {TOKEN_ENV}")
    key_ids = [key_id_of(key) for key in public_keys]
    with service_client(url, token, transport) as client:
        try:
            checkpoint = Checkpoint.from_document(
                response_json(call(client, "GET", "/v1/checkpoint"))
            )
        except LogError as exc:
            raise ServerAnswerError(f"decision service checkpoint refused: {exc.message}") from None
        signer = next((key for key in public_keys if checkpoint_valid(checkpoint, key)), None)
        if signer is None:
            problem = Problem(
                "signature",
                None,
                None,
                f"the service's checkpoint ({checkpoint.tree_size} records, key "
                f"{checkpoint.key_id}) is not signed by a trusted key ({', '.join(key_ids)})",
            )
            return ServiceLogCheck(url, None, VerifyResult(0, "", 0, (), problem))
        size = checkpoint.tree_size
        hashes: list[str] = []

        def first_pass() -> Iterator[StoredRecord]:
            for record in _entries(client, size):
                hashes.append(record.hash)
                if sink is not None:
                    sink(record)
                yield record

        passes = iter([first_pass])

        def records() -> Iterator[StoredRecord]:
            # The walk streams the log once; only a broken link makes it look again.
            return next(passes, lambda: _entries(client, size))()

        last = list(_entries(client, size, start=size - 1)) if size else []
        head = Head(size, last[0].hash) if last else None
        chain = (
            verify_chain(records, head=head, trusted_keys=key_ids, anchor=anchor)
            if size
            else VerifyResult(0, "", 0, ())
        )
        if chain.ok and len(hashes) != size:
            chain = _failed(chain, "head", f"the service served {len(hashes)} of {size} records")
        if chain.ok and MerkleTree.of_records(hashes).root(size) != checkpoint.root_hash:
            chain = _failed(
                chain,
                "modified",
                f"the records' Merkle root is not the signed checkpoint's root of {size} "
                "records: the log was rewritten",
            )
        if chain.ok:
            try:
                check_consistency(client, checkpoint, signer, cwd / LAST_CHECKPOINT)
            except LogRewritten as rewritten:
                chain = _failed(chain, "head", rewritten.message)
    return ServiceLogCheck(url, checkpoint, chain)


def _failed(chain: VerifyResult, kind: str, message: str) -> VerifyResult:
    problem = Problem(kind, None, None, message)
    return VerifyResult(chain.count, chain.head_hash, chain.signed, chain.key_ids, problem)


def _entries(client: httpx.Client, size: int, *, start: int = 0) -> Iterator[StoredRecord]:
    """Records ``start`` .. ``size - 1`` as the service serves them (pages of PAGE)."""
    index = start
    while index < size:
        page = response_json(
            call(
                client,
                "GET",
                "/v1/log/entries",
                params={"start": index, "limit": min(PAGE, size - index)},
            )
        )
        served = page.get("entries")
        if not isinstance(served, list) or not served:
            raise ServerAnswerError(f"decision service served no log entries from index {index}")
        for entry in served:
            yield _record(entry, index)
            index += 1
            if index >= size:
                return


def _record(entry: Any, index: int) -> StoredRecord:
    if not isinstance(entry, dict):
        raise ServerAnswerError(f"log entry {index} is not a JSON object")
    try:
        return StoredRecord(
            seq=int(entry["seq"]),
            decision_id=str(entry["decision_id"]),
            recorded_at=str(entry["recorded_at"]),
            service=entry.get("service"),
            body=_text(entry["body"]),
            hash=_text(entry["hash"]),
            signature=entry.get("signature"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ServerAnswerError(f"log entry {index} is malformed: {exc}") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value


def mirror_service_log(
    url: str,
    into: Path,
    *,
    public_keys: Sequence[bytes],
    env: Mapping[str, str],
    cwd: Path,
    blobs_of: Callable[[StoredRecord], Sequence[str]] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ServiceLogCheck:
    """Copy the service's log into a new SQLite ledger at ``into`` — only once it verifies
    (as ``audit verify --server``), so every local ``audit`` command can read the service's
    record exactly as stored. ``blobs_of(record)``: the blob digests to copy with a record
    (fetched from ``GET /v1/blobs/{digest}``, each checked against its digest). A log that
    does not verify leaves nothing behind and raises (exit 3: nothing to report on)."""
    from gatekeeper.ledger import sql
    from gatekeeper.ledger.canonical import sha256_hex
    from gatekeeper.ledger.registry import open_store
    from gatekeeper.ledger.store import compress

    open_store(str(into), base=cwd, create=True).close()  # the schema, as any ledger's
    db = sqlite3.connect(str(into), isolation_level=None)
    wanted: list[str] = []
    try:
        db.execute("BEGIN")
        last: list[StoredRecord] = []

        def keep(record: StoredRecord) -> None:
            db.execute(sql.INSERT_RECORD, sql.record_params(record))  # type: ignore[arg-type]
            last[:] = [record]
            if blobs_of is not None:
                wanted.extend(blobs_of(record))

        checked = verify_service_log(
            url, public_keys=public_keys, env=env, cwd=cwd, transport=transport, sink=keep
        )
        if not checked.ok:
            problem = checked.chain.problem.message if checked.chain.problem else "?"
            raise ServerAnswerError(
                f"the decision service's log does not verify ({problem}): nothing is read "
                "from it (see `audit verify --server`)"
            )
        if last:
            db.execute(sql.UPDATE_HEAD, (last[0].seq, last[0].hash))
        if wanted:
            token = service_token(env, missing=f"--server needs an admin token in {TOKEN_ENV}")
            with service_client(url, token, transport) as client:
                for digest in dict.fromkeys(wanted):
                    content = call(client, "GET", f"/v1/blobs/{digest}").content
                    if sha256_hex(content) != digest:
                        raise ServerAnswerError(
                            f"decision service answer refused: blob {digest} does not match "
                            "its digest"
                        )
                    db.execute(sql.PUT_BLOB, (digest, len(content), compress(content)))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()
        into.unlink(missing_ok=True)
        raise
    db.close()
    return checked
