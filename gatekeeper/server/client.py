"""The client side of ``gatekeeper gate run --server URL``: submit the evidence, then use the
answer only once it verifies (:mod:`gatekeeper.ledger.remote`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from gatekeeper.errors import ConfigError
from gatekeeper.ledger.remote import (
    LAST_CHECKPOINT,
    TOKEN_ENV,
    ServedDecision,
    call,
    check_consistency,
    pinned_public_key,
    response_json,
    service_client,
    service_token,
    verified_answer,
)
from gatekeeper.loading import read_regular_file


def submit(
    url: str,
    *,
    evidence: Sequence[str],
    release_file: str | None,
    env: Mapping[str, str],
    cwd: Path,
    transport: httpx.BaseTransport | None = None,
) -> ServedDecision:
    """Upload the evidence and release to the service; the verified decision it returns."""
    token = service_token(env, missing=f"--server needs a submit token in {TOKEN_ENV}")
    if not release_file:
        raise ConfigError("--server needs --release: the service records whose release it is")
    public = pinned_public_key(env)
    files = [("evidence", _upload(path)) for path in evidence]
    files.append(("release", _upload(release_file)))
    with service_client(url, token, transport) as client:
        response = call(client, "POST", "/v1/gate", files=files)
        answer = response_json(response)
        served = verified_answer(answer, public)
        check_consistency(client, served.checkpoint, public, cwd / LAST_CHECKPOINT)
    return served


def _upload(path: str) -> tuple[str, bytes]:
    # The same bounded reader as local evidence: a bad path is the same one-line exit 2.
    return Path(path).name, read_regular_file(path, max_bytes=256 * 1024 * 1024)


def admin_call(
    url: str,
    method: str,
    path: str,
    *,
    env: Mapping[str, str],
    transport: httpx.BaseTransport | None = None,
    **kwargs: object,
) -> dict[str, object]:
    """One request of an operator's command (``serve bundle …``) with the token in
    ``GATEKEEPER_TOKEN``; the service's refusals come back as the CLI's errors."""
    token = service_token(
        env, missing=f"the service needs a token in {TOKEN_ENV} (scope admin to change it)"
    )
    with service_client(url, token, transport) as client:
        return response_json(call(client, method, path, **kwargs))
