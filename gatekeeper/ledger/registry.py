"""The store registry: URL scheme -> store, and where the ledger is when nobody says.

Where the ledger is, highest first: ``--ledger`` on the command line, the ``ledger:`` key of
gatekeeper.yaml (relative paths against the file's folder), ``GATEKEEPER_LEDGER_URL``, and
``.gatekeeper/ledger.db`` in the working directory. This is the project's usual precedence
(flags > file > environment > default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gatekeeper.config import GatekeeperConfig
from gatekeeper.errors import ConfigError
from gatekeeper.ledger.postgres_store import PostgresStore
from gatekeeper.ledger.sqlite_store import SqliteStore
from gatekeeper.ledger.store import LedgerStore
from gatekeeper.registry import Registry

LEDGER_ENV_VARIABLE = "GATEKEEPER_LEDGER_URL"
DEFAULT_LEDGER_PATH = Path(".gatekeeper/ledger.db")


def _open_sqlite(url: str, base: Path, create: bool) -> LedgerStore:
    if url.startswith("sqlite:"):
        parts = urlsplit(url)
        if parts.netloc:
            raise ConfigError(
                f"sqlite ledger URL must be sqlite:///PATH or sqlite:PATH, got {url!r}"
            )
        url = unquote(parts.path)
    path = Path(url).expanduser()
    return SqliteStore(path if path.is_absolute() else base / path, create=create)


def _open_postgres(url: str, base: Path, create: bool) -> LedgerStore:
    return PostgresStore(url, create=create)


# (url, base folder for relative paths, create) -> an open store
StoreOpener = Callable[[str, Path, bool], LedgerStore]

# URL scheme -> opener; a plain path (no scheme) is SQLite.
STORES: Registry[StoreOpener] = Registry("ledger URL scheme", error=ConfigError, default="sqlite")
STORES.register("sqlite", lambda: _open_sqlite)
STORES.register("postgresql", lambda: _open_postgres)
STORES.register("postgres", lambda: _open_postgres)


def open_store(url: str, *, base: Path, create: bool = False) -> LedgerStore:
    """Open the ledger at ``url`` (a path, ``sqlite:///path`` or ``postgresql://…``)."""
    if not url.strip():
        raise ConfigError("ledger location is empty")
    scheme = url.split(":", 1)[0].lower() if "://" in url or url.startswith("sqlite:") else ""
    if not scheme:
        return _open_sqlite(url, base, create)
    if scheme not in STORES:
        raise ConfigError(f"{STORES.unknown_message(scheme)} (or a file path)")
    return STORES.create(scheme)(url, base, create)


def resolve_ledger_url(
    flag: str | None,
    *,
    config_value: str | None,
    config_dir: Path | None,
    env: Mapping[str, str],
    cwd: Path,
) -> tuple[str, Path]:
    """(ledger URL or path, folder a relative path is resolved against)."""
    if flag:
        return flag, cwd
    if config_value:
        return config_value, config_dir or cwd
    from_env = env.get(LEDGER_ENV_VARIABLE, "").strip()
    if from_env:
        return from_env, cwd
    return str(DEFAULT_LEDGER_PATH), cwd


def open_configured_store(
    ledger: str | None,
    *,
    config: GatekeeperConfig,
    env: Mapping[str, str],
    cwd: Path,
    create: bool,
) -> LedgerStore:
    """The ledger the command line, gatekeeper.yaml or the environment names (see
    :func:`resolve_ledger_url`)."""
    url, base = resolve_ledger_url(
        ledger,
        config_value=config.ledger,
        config_dir=config.config_path.parent if config.config_path else None,
        env=env,
        cwd=cwd,
    )
    return open_store(url, base=base, create=create)
