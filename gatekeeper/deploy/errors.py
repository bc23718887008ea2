"""Errors of the deploy layer, in the project's error family (gatekeeper.errors)."""

from __future__ import annotations

from gatekeeper.errors import GatekeeperError


class DeployError(GatekeeperError):
    """A rollout could not be carried out: a worker never became ready, the proxy is not
    reachable, a process would not stop. Exit 3, like other tool failures: the release was not
    judged bad, the machinery failed, and traffic was left on the last known-good version."""
