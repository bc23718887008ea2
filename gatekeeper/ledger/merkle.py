"""An RFC 6962 Merkle tree log over ledger record hashes, with signed checkpoints.

The hash chain (``chain.py``) proves order; this tree adds what a transparency log gives: a
small signed statement of the whole log (a *checkpoint*: tree size, root hash, time, key id,
Ed25519 signature) that clients keep, an *inclusion proof* that one record is in the log a
checkpoint describes, and a *consistency proof* that a later checkpoint extends an earlier one
(nothing was removed, rewritten or reordered in between).

Hashing follows RFC 6962 §2.1 (the algorithms as restated in RFC 9162 §2.1):
leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right), the empty tree is
SHA-256(""). A leaf's data is the ASCII text of a ledger record's hash (``sha256:<hex>``),
and the record's hash is SHA-256 of its stored body, so a proof binds the record's content.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gatekeeper.ledger.signing import Signer, key_id_of
from gatekeeper.ledger.store import LedgerError

CHECKPOINT_SCHEMA = "gatekeeper.checkpoint/v1"
HASH_BYTES = 32


class LogError(LedgerError):
    """The Merkle log or a checkpoint is inconsistent, malformed or wrongly signed (exit 3)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def record_leaf(record_hash: str) -> bytes:
    """The leaf hash of a ledger record, from its ``sha256:<hex>`` hash text."""
    return leaf_hash(record_hash.encode("ascii"))


EMPTY_ROOT = hashlib.sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


@dataclass
class MerkleTree:
    """Leaf hashes in log order, with the hash of every complete (power-of-two) subtree cached:
    those never change as the log grows, so the root and each proof cost O(log n) hashes once
    the cache is warm."""

    leaves: list[bytes] = field(default_factory=list)
    _complete: dict[tuple[int, int], bytes] = field(default_factory=dict, repr=False)

    @classmethod
    def of_records(cls, record_hashes: Sequence[str]) -> MerkleTree:
        return cls([record_leaf(h) for h in record_hashes])

    @property
    def size(self) -> int:
        return len(self.leaves)

    def append(self, leaf: bytes) -> int:
        """Add a leaf hash; returns its index."""
        self.leaves.append(leaf)
        return len(self.leaves) - 1

    def _hash(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 1:
            return self.leaves[start]
        complete = n & (n - 1) == 0
        if complete and (start, n) in self._complete:
            return self._complete[(start, n)]
        k = _split(n)
        value = node_hash(self._hash(start, start + k), self._hash(start + k, end))
        if complete:
            self._complete[(start, n)] = value
        return value

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[0:size]) (the whole tree by default)."""
        n = self.size if size is None else size
        self._check_size(n)
        return EMPTY_ROOT if n == 0 else self._hash(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 6962 §2.1.1."""
        n = self.size if size is None else size
        self._check_size(n)
        if not 0 <= index < n:
            raise LogError(f"leaf {index} is not in a tree of size {n}")
        proof: list[bytes] = []
        start, end, m = 0, n, index
        # Iterative form of the recursion: collect siblings top-down, return them bottom-up.
        while end - start > 1:
            k = _split(end - start)
            if m < k:
                proof.append(self._hash(start + k, end))
                end = start + k
            else:
                proof.append(self._hash(start, start + k))
                start, m = start + k, m - k
        proof.reverse()
        return proof

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 6962 §2.1.2."""
        n = self.size if second is None else second
        self._check_size(n)
        if not 0 <= first <= n:
            raise LogError(f"cannot prove size {first} consistent with size {n}")
        if first in (0, n):
            return []
        proof: list[bytes] = []
        start, end, m, whole = 0, n, first, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._hash(start + k, end))
                end = start + k
            else:
                proof.append(self._hash(start, start + k))
                start, m, whole = start + k, m - k, False
        if not whole:
            proof.append(self._hash(start, end))
        proof.reverse()
        return proof

    def _check_size(self, n: int) -> None:
        if not 0 <= n <= self.size:
            raise LogError(f"tree size {n} is beyond the log's {self.size} leaves")


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` put ``leaf`` at ``index`` of the tree ``root``?"""
    if not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (second, second_root) an append-only extension of
    (first, first_root)?"""
    if not 0 <= first <= second:
        return False
    if first == 0:
        return first_root == EMPTY_ROOT and not proof
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


def hashes_to_hex(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def hashes_from_hex(values: object, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise LogError(f"{what} must be a list of hex hashes")
    return [_hash_from_hex(v, what) for v in values]


def _hash_from_hex(value: object, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != HASH_BYTES:
        raise LogError(f"{what}: not a {HASH_BYTES}-byte hex hash")
    return raw


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the log: its size and root at a time, by a key."""

    origin: str  # which log (the service's name), so a checkpoint of one log is not another's
    tree_size: int
    root_hash: bytes
    timestamp: str
    key_id: str
    public_key: str  # base64 raw Ed25519; the verifier pins key_id / the key itself
    signature: str  # base64 Ed25519 over signed_text()

    def signed_text(self) -> bytes:
        return checkpoint_text(self.origin, self.tree_size, self.root_hash, self.timestamp)

    def to_document(self) -> dict[str, Any]:
        return {
            "schema": CHECKPOINT_SCHEMA,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "signature": self.signature,
        }

    @classmethod
    def from_document(cls, doc: object) -> Checkpoint:
        if not isinstance(doc, Mapping) or doc.get("schema") != CHECKPOINT_SCHEMA:
            raise LogError(f"not a {CHECKPOINT_SCHEMA} document")
        size = doc.get("tree_size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise LogError("checkpoint tree_size must be a non-negative integer")
        strings = {}
        for name in ("origin", "timestamp", "key_id", "public_key", "signature"):
            value = doc.get(name)
            if not isinstance(value, str) or not value or "\n" in value:
                raise LogError(f"checkpoint {name} must be a one-line string")
            strings[name] = value
        return cls(
            tree_size=size, root_hash=_hash_from_hex(doc.get("root_hash"), "root_hash"), **strings
        )


def checkpoint_text(origin: str, tree_size: int, root_hash: bytes, timestamp: str) -> bytes:
    """The exact bytes a checkpoint signature covers: one field a line, like a signed note."""
    root = base64.b64encode(root_hash).decode("ascii")
    return f"{CHECKPOINT_SCHEMA}\n{origin}\n{tree_size}\n{root}\n{timestamp}\n".encode()


def sign_checkpoint(
    signer: Signer, *, origin: str, tree_size: int, root_hash: bytes, timestamp: str
) -> Checkpoint:
    text = checkpoint_text(origin, tree_size, root_hash, timestamp)
    signature = base64.b64encode(signer.private_key.sign(text)).decode("ascii")
    return Checkpoint(
        origin=origin,
        tree_size=tree_size,
        root_hash=root_hash,
        timestamp=timestamp,
        key_id=signer.key_id,
        public_key=signer.public_b64,
        signature=signature,
    )


def checkpoint_valid(checkpoint: Checkpoint, trusted_public: bytes) -> bool:
    """Is ``checkpoint`` signed by the pinned raw Ed25519 public key ``trusted_public``?

    The key embedded in the checkpoint is only a hint: trust comes from the pinned key."""
    try:
        if base64.b64decode(checkpoint.public_key, validate=True) != trusted_public:
            return False
        if checkpoint.key_id != key_id_of(trusted_public):
            return False
        public = Ed25519PublicKey.from_public_bytes(trusted_public)
        public.verify(
            base64.b64decode(checkpoint.signature, validate=True), checkpoint.signed_text()
        )
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True
