"""The decision service's errors, in the project's family."""

from __future__ import annotations

from gatekeeper.errors import GatekeeperError


class ServerError(GatekeeperError):
    """The service cannot start or vouch for its record (exit 3)."""


class LogMismatch(ServerError):
    """The database's log no longer matches the last signed checkpoint kept outside it."""


class ServerAnswerError(ServerError):
    """The decision service was unreachable, refused, or answered something a client cannot
    verify (exit 3: never a pass)."""
