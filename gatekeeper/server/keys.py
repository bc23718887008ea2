"""The service's signing key: a file only the service can read, or the environment.

Only the service holds it: it signs every ledger record and every checkpoint, so a key
readable by others (group or world permission bits) is refused rather than used.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gatekeeper.errors import ConfigError
from gatekeeper.ledger.signing import MAX_KEY_BYTES, Signer, load_public_key, load_signer

KEY_FILE_ENV = "GATEKEEPER_SERVER_KEY_FILE"
KEY_PEM_ENV = "GATEKEEPER_SERVER_KEY"  # the PEM text itself (e.g. from a secret store)


def load_service_key(path: Path | None, env: Mapping[str, str]) -> Signer:
    """The key named by ``path``, else ``GATEKEEPER_SERVER_KEY_FILE``, else the PEM in
    ``GATEKEEPER_SERVER_KEY``. No key is an error: the service never runs unsigned."""
    if path is None and env.get(KEY_FILE_ENV, "").strip():
        path = Path(env[KEY_FILE_ENV].strip())
    if path is not None:
        _refuse_shared_key_file(path)
        return load_signer(path)
    pem = env.get(KEY_PEM_ENV, "").strip()
    if pem:
        return _signer_from_pem(pem.encode("ascii", "replace"))
    raise ConfigError(
        f"no signing key: pass --key FILE or set {KEY_FILE_ENV} or {KEY_PEM_ENV} "
        "(create one with `gatekeeper audit keygen`)"
    )


def _refuse_shared_key_file(path: Path) -> None:
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(
            f"cannot read signing key: {exc.strerror or exc}", path=str(path)
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError("signing key is not a regular file", path=str(path))
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"signing key is readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
            "only the service may read it: chmod 600",
            path=str(path),
        )
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise ConfigError("signing key is owned by another user", path=str(path))


def _signer_from_pem(data: bytes) -> Signer:
    if len(data) > MAX_KEY_BYTES:
        raise ConfigError(f"{KEY_PEM_ENV} is larger than {MAX_KEY_BYTES} bytes")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{KEY_PEM_ENV} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{KEY_PEM_ENV} must be an Ed25519 key")
    return Signer(key)


__all__ = ["load_public_key", "load_service_key"]
