"""The exception family shared by every layer.

Errors are raised as data (what went wrong, where) and formatted only at the CLI edge, where
each maps to the documented exit code: 2 for bad usage or bad input, 3 for policy or engine
errors. Nothing below the CLI prints or exits.

This module holds the family; each axis defines its own types next to its interface, deriving
from it (``EvidenceError`` in evidence/interface.py, ``LedgerError``/``LedgerMissing`` in
ledger/store.py, ``WaiverError`` in gate/waivers.py, ``DeployError`` in deploy/errors.py), so a
caller catches a type, never matches a message. ``PolicyError`` and ``EngineError`` stay here:
they are the documented exit-3 contract, raised across policy/, gate/ and the engine worker
process, which must import them without the pydantic models.
"""

from __future__ import annotations

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_INPUT = 2
EXIT_ENGINE = 3


class GatekeeperError(Exception):
    """Base of every error a user can cause or see. ``str()`` is one line."""

    exit_code = EXIT_ENGINE

    def __init__(self, message: str, *, path: str | None = None, where: str | None = None):
        self.message = message
        self.path = path
        self.where = where
        super().__init__(self.one_line())

    def one_line(self) -> str:
        location = self.path or ""
        if self.where:
            location = f"{location}:{self.where}" if location else self.where
        text = f"{location}: {self.message}" if location else self.message
        # Keep the error on one line whatever the message embeds.
        return " ".join(text.split())


class InputError(GatekeeperError):
    """An evidence, release, waiver or config file is unreadable, malformed or of unknown kind."""

    exit_code = EXIT_INPUT


class ConfigError(InputError):
    """gatekeeper.yaml or a command-line option is invalid."""


class PolicyError(GatekeeperError):
    """A policy bundle does not load or compile, or asks for something undefined."""

    exit_code = EXIT_ENGINE


class EngineError(GatekeeperError):
    """The Rego engine failed, crashed, timed out or returned something unusable."""

    exit_code = EXIT_ENGINE
