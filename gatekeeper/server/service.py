"""Putting the service together: its settings, and opening its key, ledger, log and tokens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gatekeeper.ledger.registry import open_store
from gatekeeper.ledger.signing import Signer
from gatekeeper.ledger.store import LedgerError, LedgerStore
from gatekeeper.model import Level
from gatekeeper.policy.engines.interface import DEFAULT_TIMEOUT_S
from gatekeeper.policy.engines.registry import DEFAULT_ENGINE
from gatekeeper.server.bundles import BundleCatalogue
from gatekeeper.server.keys import load_public_key, load_service_key
from gatekeeper.server.log import DecisionLog
from gatekeeper.server.metrics import Metrics
from gatekeeper.server.tokens import TokenStore
from gatekeeper.server.waivers import WaiverCatalogue

DEFAULT_STATE_DIR = Path(".gatekeeper/server")
MAX_UPLOAD_BYTES = 256 * 1024 * 1024
MAX_UPLOAD_FILES = 64


@dataclass(frozen=True)
class ServiceSettings:
    """What the service judges with (the bundle it holds) and its bounds."""

    policies: tuple[str, ...] = ()  # empty: the built-in library
    data: tuple[str, ...] = ()
    engine: str = DEFAULT_ENGINE
    namespaces: tuple[str, ...] = ()
    fail_on: Level = Level.DENY
    timeout: float = DEFAULT_TIMEOUT_S
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_upload_files: int = MAX_UPLOAD_FILES


@dataclass(frozen=True)
class StatePaths:
    """Where the service keeps its state. The checkpoint file must live outside the database
    (ideally on other storage, backed up separately): it is what a restored or edited
    database is checked against."""

    state_dir: Path = DEFAULT_STATE_DIR
    ledger: str | None = None  # default: state_dir/ledger.db
    checkpoint: Path | None = None  # default: state_dir/checkpoint.json
    tokens: str | None = None  # default: state_dir/tokens.db; or a postgresql:// URL

    @property
    def ledger_url(self) -> str:
        return self.ledger or str(self.state_dir / "ledger.db")

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint or self.state_dir / "checkpoint.json"

    @property
    def tokens_location(self) -> str:
        return self.tokens or str(self.state_dir / "tokens.db")

    @property
    def bundle_cache(self) -> Path:
        """Uploaded bundle archives as files (a cache: the log's blobs are the record)."""
        return self.state_dir / "bundles"


@dataclass
class DecisionService:
    log: DecisionLog
    tokens: TokenStore
    settings: ServiceSettings
    bundles: BundleCatalogue
    waivers: WaiverCatalogue
    metrics: Metrics = field(default_factory=Metrics)
    # Where the ledger is, for readers with a connection of their own (the dashboard: its long
    # reads then never hold up appends). None: read through the log's connection.
    ledger_url: str | None = None
    base: Path | None = None

    def reader(self) -> LedgerStore:
        """A connection of its own to the ledger (close it); the log's when none can be had."""
        if self.ledger_url is None:
            raise LedgerError("no ledger location to open a reader on")
        return open_store(self.ledger_url, base=self.base or Path.cwd(), create=False)

    @property
    def signer(self) -> Signer:
        return self.log.signer

    def close(self) -> None:
        self.tokens.close()
        self.log.store.close()


def open_service(
    paths: StatePaths,
    settings: ServiceSettings,
    *,
    key_path: Path | None,
    env: Mapping[str, str],
    cwd: Path,
    origin: str = "gatekeeper",
    previous_keys: Sequence[Path] = (),
) -> DecisionService:
    """Load the key, open the ledger and verify it against the checkpoint file, open the
    tokens. Raises (ConfigError, LogMismatch, LedgerError …) instead of starting half-trusted."""
    signer = load_service_key(key_path, env)
    previous = [load_public_key(path) for path in previous_keys]
    store = open_store(paths.ledger_url, base=cwd, create=True)
    try:
        log = DecisionLog.open(
            store, signer, paths.checkpoint_path, origin=origin, previous_keys=previous
        )
        tokens = TokenStore(paths.tokens_location)
    except BaseException:
        store.close()
        raise
    bundles = BundleCatalogue(
        log, paths.bundle_cache, engine=settings.engine, timeout=settings.timeout
    )
    return DecisionService(
        log=log,
        tokens=tokens,
        settings=settings,
        bundles=bundles,
        waivers=WaiverCatalogue(log),
        ledger_url=paths.ledger_url,
        base=cwd,
    )
