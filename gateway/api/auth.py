"""API-key authentication and scope checks for the back-office API.

401 when no or an unknown key is presented; 403 when the key is valid but lacks the
scope the route needs.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.security import APIKeyHeader

from gateway.api.problems import Problem
from gateway.api_keys import find_client
from gateway.store.tables import ApiClient

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The back-office client's key.")


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def require_scope(scope: str) -> Callable[[Request], ApiClient]:
    """A FastAPI dependency that yields the calling :class:`ApiClient`."""

    def dependency(request: Request) -> ApiClient:
        key = _presented_key(request)
        if key is None:
            raise Problem(
                401,
                "unauthorized",
                "An API key is required",
                "Send the key in the X-API-Key header (or as a Bearer token).",
                headers={"WWW-Authenticate": 'Bearer realm="gateway"'},
            )
        with request.app.state.runtime.sessions() as session:
            client = find_client(session, key)
        if client is None:
            raise Problem(
                401,
                "unauthorized",
                "The API key is not valid",
                headers={"WWW-Authenticate": 'Bearer realm="gateway"'},
            )
        if scope not in client.scopes:
            raise Problem(
                403, "forbidden", "The API key lacks a scope", f"This call needs the scope '{scope}'."
            )
        return client

    return dependency
