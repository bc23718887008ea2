"""Canonical JSON and digests: the byte strings that hashes and signatures are taken over.

A record's hash must not depend on dict ordering or whitespace, or a verifier written in another
language could not recompute it: keys sorted, no spaces, UTF-8, no NaN/Infinity.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from gatekeeper.errors import ConfigError

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


def period_bound(value: str | None, *, option: str, end: bool = False) -> str | None:
    """An ISO date or time as a ledger timestamp. A date-only ``--to`` includes that day."""
    if value is None:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise ConfigError(
            f"{option} expects an ISO date (2026-11-30) or time (2026-11-30T12:00:00Z), "
            f"got {value!r}"
        ) from None
    return timestamp(moment)
