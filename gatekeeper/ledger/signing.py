"""Ed25519 signatures over record hashes: which gatekeeper installation wrote a record.

The private key is a PEM file named by ``GATEKEEPER_LEDGER_KEY``. Each signed record carries
the signer's public key and key id inside its hashed body, so ``audit verify`` can check the
signature without a key server; ``--trusted-key`` then says which of those keys to accept.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gatekeeper.errors import ConfigError
from gatekeeper.loading import read_regular_file

# cryptography (~40 ms to import) is loaded by the functions that sign or check: an unsigned
# `gate run` records without it.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

KEY_ENV_VARIABLE = "GATEKEEPER_LEDGER_KEY"
MAX_KEY_BYTES = 16 * 1024


def _raw_public(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public_raw: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    private_key: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return _raw_public(self.private_key.public_key())

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_raw)

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode("ascii")

    def sign(self, record_hash: str) -> str:
        return base64.b64encode(self.private_key.sign(record_hash.encode("ascii"))).decode("ascii")


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", path=str(path)) from None
    if len(data) > MAX_KEY_BYTES:
        raise ConfigError(f"{what} larger than {MAX_KEY_BYTES} bytes", path=str(path))
    return data


def load_signer(path: Path) -> Signer:
    """An Ed25519 private key from a PEM file (PKCS#8, unencrypted)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read_key_file(path, "ledger signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else "unreadable"
        raise ConfigError(f"not an unencrypted PEM private key: {first}", path=str(path)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError("ledger signing key must be an Ed25519 key", path=str(path))
    return Signer(key)


def signer_from_env(env: Mapping[str, str]) -> Signer | None:
    value = env.get(KEY_ENV_VARIABLE, "").strip()
    return load_signer(Path(value)) if value else None


def load_public_key_id(path: Path) -> str:
    """The key id of a trusted key given as a public (or private) PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    data = _read_key_file(path, "trusted key")
    try:
        public = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise ConfigError("not a PEM Ed25519 public or private key", path=str(path)) from None
        if not isinstance(private, Ed25519PrivateKey):
            raise ConfigError("trusted key must be an Ed25519 key", path=str(path)) from None
        public = private.public_key()
    if not isinstance(public, Ed25519PublicKey):
        raise ConfigError("trusted key must be an Ed25519 key", path=str(path))
    return key_id_of(_raw_public(public))


def generate_key_pem() -> tuple[bytes, bytes]:
    """A new (private PEM, public PEM) pair for ``audit keygen``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def signature_valid(public_b64: str, signature_b64: str, record_hash: str) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public = _public_key(public_b64)
        public.verify(base64.b64decode(signature_b64, validate=True), record_hash.encode("ascii"))
    except (InvalidSignature, ValueError, binascii.Error, UnicodeEncodeError):
        return False
    return True


def first_invalid_signature(batch: list[tuple[int, str, str, str]]) -> int:
    """The first ``index`` of ``(index, public key, signature, record hash)`` whose signature
    does not verify, or -1 (run in a worker process by ``verify_chain``)."""
    for index, public, signature, record_hash in batch:
        if not signature_valid(public, signature, record_hash):
            return index
    return -1


@functools.lru_cache(maxsize=64)
def _public_key(public_b64: str) -> Ed25519PublicKey:
    """The key object of a base64 public key: decoded once per key, not once per record
    (a bad key raises ValueError or binascii.Error, which is never cached)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64, validate=True))


def load_public_key(path: str | Path) -> bytes:
    """The raw Ed25519 public key of a PEM public-key file (``audit keygen``'s ``.pub``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = read_regular_file(path, max_bytes=MAX_KEY_BYTES, error=ConfigError, what="key")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise ConfigError("not a PEM public key", path=str(path)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError("public key must be an Ed25519 key", path=str(path))
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
