"""Canonical JSON and digests: the byte strings that hashes and signatures are taken over.

A record's hash must not depend on dict ordering or whitespace, or a verifier written in another
language could not recompute it: keys sorted, no spaces, UTF-8, no NaN/Infinity.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "sha256:" + "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_hex(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_of_text(text: str) -> str:
    return sha256_hex(text.encode("utf-8"))


def timestamp(moment: datetime) -> str:
    """Microsecond RFC 3339 UTC: sorts as text, so time ranges are string comparisons."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
