"""The decision service's errors, in the project's family."""

from __future__ import annotations

from gatekeeper.errors import GatekeeperError


class ServerError(GatekeeperError):
    """The service cannot start or vouch for its record (exit 3)."""


class LogMismatch(ServerError):
    """The database's log no longer matches the last signed checkpoint kept outside it."""


# A client's error, defined with the client side of the API in the ledger layer (the deployer
# uses it too); named here as well for the service's callers.
from gatekeeper.ledger.remote import ServerAnswerError  # noqa: E402

__all__ = ["LogMismatch", "ServerAnswerError", "ServerError"]
