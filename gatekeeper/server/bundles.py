"""Policy bundle versions held by the service: upload, list, activate per environment, roll back.

Every upload and every activation is a record of the service's own log (kinds
``bundle.upload`` and ``bundle.activate``), signed like a decision, with the bundle archive as a
content-addressed blob. So which bundle judged which environment when is part of what an
auditor verifies, replicas on one database agree on it without another table, and a database
edit that swaps an active bundle breaks the log like any other edit.

A gate for environment E judges with the bundle last activated for E, else the one last
activated for ``*`` (every environment without its own), else the bundle the service was
started with (``-p``/``-d``). An activated bundle is self-contained: its own modules and
``data.json``, not the start-up ``-d`` files. Each decision names the bundle digest it was made
with (``policy_bundle.digest``): the digest ``policy bundle`` built and ``list`` shows.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatekeeper.errors import GatekeeperError
from gatekeeper.ledger.store import LedgerError
from gatekeeper.policy.builtins import check_builtins
from gatekeeper.policy.bundle import load_bundle
from gatekeeper.policy.engines.registry import get_engine
from gatekeeper.server.log import Appended, DecisionLog, LogEvent

UPLOAD_KIND = "bundle.upload"
ACTIVATE_KIND = "bundle.activate"
EVERY_ENVIRONMENT = "*"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class CatalogueError(GatekeeperError):
    """A bundle operation the catalogue refuses (bad archive, unknown digest, nothing to roll
    back to): exit 2, the caller's input is wrong."""

    exit_code = 2


class CatalogueConflict(CatalogueError):
    """The request is well formed but the catalogue's state does not allow it (409)."""


@dataclass(frozen=True)
class BundleVersion:
    digest: str  # the bundle's content digest: what decisions made with it name
    revision: str
    archive_digest: str  # sha256 of the uploaded .tar.gz: the blob's key
    size_bytes: int
    modules: int
    uploaded_at: str
    uploaded_by: str
    log_index: int

    def to_document(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Activation:
    environment: str
    digest: str
    activated_at: str
    activated_by: str
    rollback_of: str | None
    log_index: int

    def to_document(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_environment(name: str) -> str:
    if name != EVERY_ENVIRONMENT and not _ENVIRONMENT.match(name):
        raise CatalogueError(
            f"environment {name!r} must be '*' or letters, digits, '.', '_', '-' (at most 64)"
        )
    return name


class BundleCatalogue:
    """The service's bundle versions, read from its log's catalogue records."""

    def __init__(self, log: DecisionLog, cache_dir: Path, *, engine: str, timeout: float):
        self.log = log
        self.cache_dir = cache_dir
        self.engine = engine
        self.timeout = timeout

    # -- reading -----------------------------------------------------------------------------

    def versions(self) -> list[BundleVersion]:
        return [_version(e) for e in self.log.events() if e.document.get("kind") == UPLOAD_KIND]

    def activations(self, environment: str | None = None) -> list[Activation]:
        found = [
            _activation(e) for e in self.log.events() if e.document.get("kind") == ACTIVATE_KIND
        ]
        return [a for a in found if environment is None or a.environment == environment]

    def active(self) -> dict[str, str]:
        """Environment -> the digest active there now."""
        return {a.environment: a.digest for a in self.activations()}

    def version(self, digest: str) -> BundleVersion:
        for version in self.versions():
            if version.digest == digest:
                return version
        raise CatalogueError(f"no uploaded bundle {digest} (see the bundle list)")

    def bundle_for(self, environment: str | None) -> BundleVersion | None:
        """The bundle a gate for ``environment`` judges with; None: the start-up bundle."""
        active = self.active()
        digest = active.get(environment or "") or active.get(EVERY_ENVIRONMENT)
        return None if digest is None else self.version(digest)

    def path_of(self, version: BundleVersion) -> Path:
        """The archive as a local file, checked against its digest (re-read from the log's
        blob when the cached copy is missing or differs)."""
        name = version.archive_digest.removeprefix("sha256:") + ".tar.gz"
        path = self.cache_dir / name
        if path.is_file() and _sha256(path.read_bytes()) == version.archive_digest:
            return path
        content = self.log.store.blob(version.archive_digest)
        if content is None or _sha256(content) != version.archive_digest:
            raise LedgerError(
                f"the stored archive of bundle {version.digest} is missing or does not match "
                f"its digest {version.archive_digest}",
                path=self.log.store.location,
            )
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.cache_dir, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        Path(temporary).replace(path)
        return path

    # -- writing -----------------------------------------------------------------------------

    def upload(self, content: bytes, *, by: str) -> tuple[BundleVersion, Appended | None]:
        """Check and record an archive made by ``policy bundle``. The same bundle uploaded
        again is not recorded twice (the existing version is returned, Appended None)."""
        if len(content) > MAX_BUNDLE_BYTES:
            raise CatalogueError(f"bundle archive over {MAX_BUNDLE_BYTES} bytes")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.cache_dir, suffix=".upload.tar.gz")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            try:
                bundle = load_bundle([temporary])  # no rules, bad archive: PolicyError
                engine = get_engine(self.engine)
                check_builtins(bundle, engine)
                engine.check(bundle, timeout=self.timeout)  # it must compile where it judges
            except GatekeeperError as error:
                # Name the upload, not the service's temporary copy of it.
                raise type(error)(
                    error.one_line().replace(temporary, "the uploaded archive")
                ) from None
        finally:
            Path(temporary).unlink(missing_ok=True)
        modules = sum(1 for module in bundle.modules if not module.is_test)
        for existing in self.versions():
            if existing.digest == bundle.digest:
                return existing, None
        archive_digest = _sha256(content)
        appended = self.log.append_event(
            {
                "kind": UPLOAD_KIND,
                "bundle": {
                    "digest": bundle.digest,
                    "revision": bundle.revision,
                    "archive_digest": archive_digest,
                    "size_bytes": len(content),
                    "modules": modules,
                },
                "by": by,
            },
            {archive_digest: content},
        )
        return self.version(bundle.digest), appended

    def activate(
        self, environment: str, digest: str, *, by: str, rollback_of: str | None = None
    ) -> tuple[Activation, Appended]:
        check_environment(environment)
        if not _DIGEST.match(digest):
            raise CatalogueError(f"bundle digest must be sha256:<64 hex digits>, not {digest!r}")
        version = self.version(digest)
        self.path_of(version)  # its archive must be readable before it may judge
        appended = self.log.append_event(
            {
                "kind": ACTIVATE_KIND,
                "environment": environment,
                "bundle": {"digest": digest, "revision": version.revision},
                "rollback_of": rollback_of,
                "by": by,
            },
            {},
        )
        return self.activations(environment)[-1], appended

    def rollback(self, environment: str, *, by: str) -> tuple[Activation, Appended]:
        """Activate the bundle that was active before the current one (skipping versions
        already rolled back from, so repeated rollbacks walk further back)."""
        check_environment(environment)
        history = self.activations(environment)
        if not history:
            raise CatalogueConflict(f"no bundle was ever activated for {environment!r}")
        target = previous_digest(history)
        if target is None:
            raise CatalogueConflict(
                f"no earlier bundle to roll back to for {environment!r}: activate one explicitly"
            )
        return self.activate(environment, target, by=by, rollback_of=history[-1].digest)


def previous_digest(history: Sequence[Activation]) -> str | None:
    """What a rollback activates: walking back from the current activation, the first digest
    that is not the current one and was not rolled back from (later than it was activated)."""
    current = history[-1].digest
    rolled_back: set[str] = set()
    for activation in reversed(history):
        if activation.rollback_of is not None:
            rolled_back.add(activation.rollback_of)
        if activation.digest != current and activation.digest not in rolled_back:
            return activation.digest
    return None


def _sha256(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def _fields(event: LogEvent, name: str) -> Mapping[str, Any]:
    value = event.document.get(name)
    if not isinstance(value, dict):
        kind = event.document.get("kind")
        raise LedgerError(f"log entry {event.log_index} ({kind}) has no {name}")
    return value


def _version(event: LogEvent) -> BundleVersion:
    bundle = _fields(event, "bundle")
    return BundleVersion(
        digest=str(bundle.get("digest")),
        revision=str(bundle.get("revision")),
        archive_digest=str(bundle.get("archive_digest")),
        size_bytes=int(bundle.get("size_bytes") or 0),
        modules=int(bundle.get("modules") or 0),
        uploaded_at=event.recorded_at,
        uploaded_by=str(event.document.get("by")),
        log_index=event.log_index,
    )


def _activation(event: LogEvent) -> Activation:
    bundle = _fields(event, "bundle")
    rollback_of = event.document.get("rollback_of")
    return Activation(
        environment=str(event.document.get("environment")),
        digest=str(bundle.get("digest")),
        activated_at=event.recorded_at,
        activated_by=str(event.document.get("by")),
        rollback_of=str(rollback_of) if rollback_of else None,
        log_index=event.log_index,
    )


__all__ = [
    "Activation",
    "BundleCatalogue",
    "BundleVersion",
    "CatalogueConflict",
    "CatalogueError",
    "previous_digest",
]
