"""Policy bundle snapshots: the bundle exactly as it was evaluated, stored by digest.

A snapshot holds the parsed modules (source text plus what loading derived from it: package,
rules, METADATA) and the merged data, so a replay evaluates the very same bundle without
re-reading any file and without depending on how a later gatekeeper version parses METADATA.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from gatekeeper.ledger.canonical import canonical_json
from gatekeeper.ledger.store import LedgerError
from gatekeeper.model import PolicyInfo
from gatekeeper.policy.bundle import PolicyBundle, RegoModule, RuleHead

SNAPSHOT_SCHEMA = "gatekeeper.bundle-snapshot/v1"


def _info(info: PolicyInfo | None) -> dict[str, Any] | None:
    return None if info is None else info.model_dump(mode="json")


def snapshot_bundle(bundle: PolicyBundle) -> str:
    """Canonical JSON of the bundle; its sha256 is the snapshot's content address."""
    return canonical_json(
        {
            "schema": SNAPSHOT_SCHEMA,
            "revision": bundle.revision,
            "digest": bundle.digest,
            "sources": list(bundle.sources),
            "data": bundle.data,
            "modules": [
                {
                    "path": m.path,
                    "source": m.source,
                    "package": m.package,
                    "package_line": m.package_line,
                    "metadata": _info(m.metadata),
                    "is_test": m.is_test,
                    "rules": [
                        {"name": r.name, "line": r.line, "metadata": _info(r.metadata)}
                        for r in m.rules
                    ],
                }
                for m in bundle.modules
            ],
        }
    )


def _policy_info(value: Any) -> PolicyInfo | None:
    return None if value is None else PolicyInfo.model_validate(value)


def restore_bundle(text: str, *, digest: str) -> PolicyBundle:
    try:
        doc = json.loads(text)
        if doc.get("schema") != SNAPSHOT_SCHEMA:
            raise ValueError(f"unknown snapshot schema {doc.get('schema')!r}")
        modules = tuple(
            RegoModule(
                path=str(m["path"]),
                source=str(m["source"]),
                package=str(m["package"]),
                package_line=int(m["package_line"]),
                metadata=_policy_info(m["metadata"]),
                is_test=bool(m["is_test"]),
                rules=tuple(
                    RuleHead(
                        name=str(r["name"]),
                        line=int(r["line"]),
                        metadata=_policy_info(r["metadata"]),
                    )
                    for r in m["rules"]
                ),
            )
            for m in doc["modules"]
        )
        return PolicyBundle(
            modules=modules,
            data=dict(doc["data"]),
            revision=str(doc["revision"]),
            digest=str(doc["digest"]),
            sources=tuple(str(s) for s in doc["sources"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LedgerError(f"stored policy bundle {digest} is unreadable: {first}") from None
