"""The RFC 6962 Merkle log: known answers, every proof for sizes 1..64, and tampering."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gatekeeper.ledger.merkle import (
    EMPTY_ROOT,
    Checkpoint,
    LogError,
    MerkleTree,
    checkpoint_valid,
    leaf_hash,
    node_hash,
    sign_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from gatekeeper.ledger.signing import Signer

# The leaves and roots of the Certificate Transparency reference tests (RFC 6962 trees).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _reference_root(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 §2.1 defines it, recursively, for cross-checking."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


def _tree(n: int) -> MerkleTree:
    return MerkleTree([leaf_hash(f"leaf {i}".encode()) for i in range(n)])


def test_roots_match_the_certificate_transparency_reference_values() -> None:
    tree = MerkleTree([leaf_hash(data) for data in CT_LEAVES])
    assert tree.root(0) == EMPTY_ROOT
    for size, expected in enumerate(CT_ROOTS, start=1):
        assert tree.root(size).hex() == expected


def test_roots_match_the_recursive_definition_up_to_64() -> None:
    tree = _tree(64)
    for size in range(65):
        assert tree.root(size) == _reference_root(tree.leaves[:size])


def test_every_inclusion_proof_verifies_for_sizes_1_to_64() -> None:
    tree = _tree(64)
    for size in range(1, 65):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert verify_inclusion(tree.leaves[index], index, size, proof, root), (index, size)


def test_every_consistency_proof_verifies_for_sizes_1_to_64() -> None:
    tree = _tree(64)
    for second in range(1, 65):
        for first in range(0, second + 1):
            proof = tree.consistency_proof(first, second)
            assert verify_consistency(first, second, tree.root(first), tree.root(second), proof), (
                first,
                second,
            )


def test_a_modified_leaf_fails_inclusion_everywhere() -> None:
    tree = _tree(64)
    for size in range(1, 65):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            forged = leaf_hash(f"forged {index}".encode())
            assert not verify_inclusion(forged, index, size, proof, root)
            # The right leaf at the wrong position fails too.
            if size > 1:
                other = (index + 1) % size
                assert not verify_inclusion(tree.leaves[index], other, size, proof, root)


def test_a_tampered_proof_hash_fails() -> None:
    tree = _tree(37)
    proof = tree.inclusion_proof(11)
    for position in range(len(proof)):
        bad = list(proof)
        bad[position] = hashlib.sha256(bad[position]).digest()
        assert not verify_inclusion(tree.leaves[11], 11, 37, bad, tree.root())
    assert not verify_inclusion(tree.leaves[11], 11, 37, proof[:-1], tree.root())


def test_a_modified_old_leaf_breaks_consistency() -> None:
    old = _tree(64)
    for first in range(1, 64):
        tampered = MerkleTree(list(old.leaves))
        tampered.leaves[first - 1] = leaf_hash(b"rewritten")
        proof = tampered.consistency_proof(first, 64)
        # The client kept the honest root of size `first`; the rewritten log cannot extend it.
        assert not verify_consistency(first, 64, old.root(first), tampered.root(64), proof)


def test_reordered_leaves_break_consistency_and_inclusion() -> None:
    honest = _tree(20)
    swapped = MerkleTree(list(honest.leaves))
    swapped.leaves[3], swapped.leaves[4] = swapped.leaves[4], swapped.leaves[3]
    assert swapped.root() != honest.root()
    proof = swapped.consistency_proof(10, 20)
    assert not verify_consistency(10, 20, honest.root(10), swapped.root(20), proof)
    assert not verify_inclusion(honest.leaves[3], 3, 20, swapped.inclusion_proof(4), honest.root())


def test_a_truncated_tree_is_not_consistent_with_its_longer_past() -> None:
    tree = _tree(50)
    # A log that lost its tail cannot prove that its size-40 tree extends the size-50 one.
    assert not verify_consistency(50, 40, tree.root(50), tree.root(40), [])
    with pytest.raises(LogError):
        tree.consistency_proof(51)
    with pytest.raises(LogError):
        tree.inclusion_proof(50)
    # A proof for a smaller tree does not verify against the bigger root.
    proof = tree.consistency_proof(20, 40)
    assert not verify_consistency(20, 50, tree.root(20), tree.root(50), proof)


def test_a_checkpoint_verifies_only_with_its_key_and_its_content() -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    other = Signer(Ed25519PrivateKey.generate())
    tree = _tree(9)
    checkpoint = sign_checkpoint(
        signer, origin="gk", tree_size=9, root_hash=tree.root(), timestamp="2026-01-01T00:00:00Z"
    )
    assert checkpoint_valid(checkpoint, signer.public_raw)
    assert not checkpoint_valid(checkpoint, other.public_raw)
    roundtrip = Checkpoint.from_document(checkpoint.to_document())
    assert roundtrip == checkpoint
    for change in ({"tree_size": 8}, {"root_hash": tree.root(8).hex()}, {"origin": "x"}):
        doc = {**checkpoint.to_document(), **change}
        assert not checkpoint_valid(Checkpoint.from_document(doc), signer.public_raw)
    # Re-signed by another key but claiming the pinned one: refused.
    resigned = sign_checkpoint(
        other, origin="gk", tree_size=9, root_hash=tree.root(), timestamp="2026-01-01T00:00:00Z"
    )
    assert not checkpoint_valid(resigned, signer.public_raw)


def test_a_malformed_checkpoint_document_is_a_log_error() -> None:
    with pytest.raises(LogError):
        Checkpoint.from_document({"schema": "gatekeeper.checkpoint/v1", "tree_size": -1})
    with pytest.raises(LogError):
        Checkpoint.from_document([])
