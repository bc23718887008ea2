"""Who is calling: the bearer token of a request, shared by every router of the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from gatekeeper.server.tokens import Scope, TokenInfo


def authenticated(request: Request) -> TokenInfo:
    """The request's token, or 401 (without saying whether it was missing, unknown or
    revoked)."""
    service = request.app.state.service
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    info: TokenInfo | None = (
        service.tokens.authenticate(value.strip()) if scheme.lower() == "bearer" else None
    )
    if info is None:
        raise HTTPException(401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})
    return info


def require_writer(token: TokenInfo, project: str) -> None:
    """Writing is for a submit token of the project: a read or admin token gets 403."""
    if token.scope is not Scope.SUBMIT or not token.may_submit(project):
        raise HTTPException(403, "forbidden")


# At module level: route annotations are strings (PEP 563) that FastAPI resolves here.
Token = Annotated[TokenInfo, Depends(authenticated)]
