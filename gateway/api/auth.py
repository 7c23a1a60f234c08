"""API-key authentication and scope checks for the back-office API.

401 when no or an unknown (revoked, expired) key is presented; 403 when the key is
valid but lacks the scope the route needs, or the law of the data at hand
(:func:`require_law`). The client is usually identified already by the limits
middleware (:mod:`gateway.api.limits`), which leaves it in the request state.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.security import APIKeyHeader

from gateway.api.limits import STATE_CLIENT, presented_key
from gateway.api.problems import Problem
from gateway.api_keys import find_client, has_law_scope, has_scope
from gateway.store.tables import ApiClient

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The back-office client's key.")


def _unauthorized(title: str, detail: str = "") -> Problem:
    return Problem(401, "unauthorized", title, detail, headers={"WWW-Authenticate": 'Bearer realm="gateway"'})


def require_scope(scope: str) -> Callable[[Request], ApiClient]:
    """A FastAPI dependency that yields the calling :class:`ApiClient`."""

    def dependency(request: Request) -> ApiClient:
        key = presented_key(request.headers.raw)
        if key is None:
            raise _unauthorized(
                "An API key is required", "Send the key in the X-API-Key header (or as a Bearer token)."
            )
        client: ApiClient | None = getattr(request.state, STATE_CLIENT, None)
        if client is None:
            runtime = request.app.state.runtime
            with runtime.sessions() as session:
                client = find_client(session, key, runtime.clock.now())
        if client is None:
            raise _unauthorized("The API key is not valid")
        if not has_scope(client, scope):
            raise Problem(
                403, "forbidden", "The API key lacks a scope", f"This call needs the scope '{scope}'."
            )
        return client

    return dependency


def require_law(client: ApiClient, law: str, capability: str) -> None:
    """403 unless ``client`` may ``capability`` (read/write) data of ``law``."""
    if not has_law_scope(client, law, capability):
        raise Problem(
            403, "forbidden", "The API key lacks a scope", f"This needs the scope '{law}:{capability}'."
        )
