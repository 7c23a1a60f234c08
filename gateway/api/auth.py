"""API-key authentication and scope checks for the back-office API.

401 when no or an unknown (revoked, expired) key is presented; 403 when the key is
valid but lacks the scope the route needs, or the law of the data at hand
(:func:`require_law`). The client is usually identified already by the limits
middleware (:mod:`gateway.api.limits`), which leaves it in the request state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from gateway.api.limits import STATE_CLIENT, STATE_KEY_CHECKED, presented_key
from gateway.api.problems import Problem
from gateway.api_keys import find_client, has_law_scope, has_scope
from gateway.runtime import Runtime
from gateway.store.tables import ApiClient

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The back-office client's key.")


def _unauthorized(title: str, detail: str = "") -> Problem:
    return Problem(401, "unauthorized", title, detail, headers={"WWW-Authenticate": 'Bearer realm="gateway"'})


def require_scope(scope: str) -> Callable[[Request], Awaitable[ApiClient]]:
    """A FastAPI dependency that yields the calling :class:`ApiClient`.

    ``async`` on purpose: FastAPI runs a plain ``def`` dependency in the thread pool, a
    thread hop (and a wake-up of a worker thread) on every request just to read the
    client the limits middleware already left in the request state. Only when it did not
    look the key up (a route outside ``/api/``) does the database lookup go to a thread.
    """

    async def dependency(request: Request) -> ApiClient:
        # A client in the state was identified by a presented key: no need to find the key again.
        client: ApiClient | None = getattr(request.state, STATE_CLIENT, None)
        if client is None:
            key = presented_key(request.headers.raw)
            if key is None:
                raise _unauthorized(
                    "An API key is required", "Send the key in the X-API-Key header (or as a Bearer token)."
                )
            if not getattr(request.state, STATE_KEY_CHECKED, False):
                client = await run_in_threadpool(_lookup, request.app.state.runtime, key)
        if client is None:
            raise _unauthorized("The API key is not valid")
        if not has_scope(client, scope):
            raise Problem(
                403, "forbidden", "The API key lacks a scope", f"This call needs the scope '{scope}'."
            )
        return client

    return dependency


def _lookup(runtime: Runtime, key: str) -> ApiClient | None:
    with runtime.sessions() as session:
        return find_client(session, key, runtime.clock.now())


def require_law(client: ApiClient, law: str, capability: str) -> None:
    """403 unless ``client`` may ``capability`` (read/write) data of ``law``."""
    if not has_law_scope(client, law, capability):
        raise Problem(
            403, "forbidden", "The API key lacks a scope", f"This needs the scope '{law}:{capability}'."
        )
