"""DSSE signature verification against one configured public key.

The key is a PEM public key file named by ``GATEKEEPER_ATTESTATION_KEY`` (Ed25519, ECDSA
P-256/P-384 as cosign makes, or RSA). Without it nothing is verified and attestations record
``signature_verified: null``; with it, each DSSE envelope records whether one of its
signatures verifies over the envelope's pre-authentication encoding (DSSE v1 PAE).
"""

from __future__ import annotations

import os
from typing import Any

from gatekeeper.errors import InputError
from gatekeeper.loading import read_regular_file

KEY_VARIABLE = "GATEKEEPER_ATTESTATION_KEY"
_MAX_KEY_BYTES = 64 * 1024


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature is over."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def configured_key() -> Any | None:
    """The public key from ``GATEKEEPER_ATTESTATION_KEY``, or None when it is not set."""
    path = os.environ.get(KEY_VARIABLE, "").strip()
    return _load_key(path) if path else None


def _load_key(path: str) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    raw = read_regular_file(path, max_bytes=_MAX_KEY_BYTES, display=f"{KEY_VARIABLE}={path}")
    try:
        return load_pem_public_key(raw)
    except (ValueError, TypeError) as exc:
        raise InputError(f"not a PEM public key ({exc})", path=f"{KEY_VARIABLE}={path}") from None


def verify(key: Any, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` over ``message`` verifies with ``key``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            digest = hashes.SHA384() if key.curve.key_size >= 384 else hashes.SHA256()
            key.verify(signature, message, ec.ECDSA(digest))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True
