"""Per-client rate limits and per-route/per-client request size limits for ``/api/``.

A pure ASGI middleware, so both act *before* a body is read or parsed:

- it identifies the caller once (the key in ``X-API-Key`` or ``Authorization: Bearer``)
  and leaves the client in the request state for :func:`gateway.api.auth.require_scope`
  (which answers 401/403 - this middleware never does). A key verified in the last
  :data:`gateway.api_keys.KEY_CACHE_TTL_S` seconds is not looked up again
  (:class:`gateway.api_keys.ClientCache`): no database and no thread hop for most requests;
- rate: a token bucket per client (``rate_per_minute`` sustained, ``burst`` at once;
  the client's own values, else ``GATEWAY_API_LIMITS__*``). Empty: 429 problem+json with
  ``Retry-After`` in whole seconds. The buckets live in the process: with N gateway
  processes behind a balancer a client gets up to N times the rate;
- size: a declared ``Content-Length`` over the limit is refused at once with 413
  problem+json; a body without one is counted while it streams and cut off at the
  limit. The limit is the client's ``max_body_bytes``, else the longest matching
  ``route_max_body_bytes`` prefix, else ``max_body_bytes``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import MutableMapping
from typing import Any

import anyio.to_thread
import structlog

from gateway.api.problems import PROBLEM_JSON, Problem
from gateway.api_keys import ClientCache
from gateway.runtime import Runtime
from gateway.settings import ApiLimits
from gateway.store.tables import ApiClient
from gateway.tls.server import AsgiApp, Receive, Scope, Send

log = structlog.get_logger("gateway.api")

#: Where the middleware leaves the identified client (``request.state.api_client``).
STATE_CLIENT = "api_client"
#: Set when the middleware looked the presented key up (found or not): no second lookup.
STATE_KEY_CHECKED = "api_key_checked"


class TokenBuckets:
    """One token bucket per client id; thread-safe, monotonic clock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[int, tuple[float, float]] = {}  # id -> (tokens, last refill)

    def take(
        self, client_id: int, rate_per_minute: int, burst: int, now: float | None = None
    ) -> float | None:
        """Take a token: None when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        per_second = rate_per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(client_id, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * per_second)
            if tokens >= 1.0:
                self._buckets[client_id] = (tokens - 1.0, now)
                return None
            self._buckets[client_id] = (tokens, now)
            return (1.0 - tokens) / per_second


def presented_key(headers: list[tuple[bytes, bytes]] | Any) -> str | None:
    """The API key from ``X-API-Key`` or ``Authorization: Bearer``, or None.

    Of a header given twice the last counts. One pass over the raw names, decoding only
    the two values wanted: this runs on every API request.
    """
    api_key = authorization = b""
    for name, raw in headers:
        lowered = name.lower()
        if lowered == b"x-api-key":
            api_key = raw
        elif lowered == b"authorization":
            authorization = raw
    key = api_key.decode("latin-1").strip()
    if key:
        return key
    scheme, _, value = authorization.decode("latin-1").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def body_limit(limits: ApiLimits, path: str, client: ApiClient | None) -> int:
    if client is not None and client.max_body_bytes:
        return client.max_body_bytes
    matches = [prefix for prefix in limits.route_max_body_bytes if path.startswith(prefix)]
    if matches:
        return limits.route_max_body_bytes[max(matches, key=len)]
    return limits.max_body_bytes


async def _problem(send: Send, path: str, problem: Problem) -> None:
    body = json.dumps(problem.body(path)).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode(), value.encode()) for name, value in (problem.headers or {}).items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> Problem:
    return Problem(
        413, "payload-too-large", "The request body is too large", f"At most {limit} bytes on this route."
    )


class ApiLimitsMiddleware:
    def __init__(self, app: AsgiApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self.buckets = TokenBuckets()
        self.clients = ClientCache(runtime.sessions)

    def _identify(self, key: str) -> ApiClient | None:
        return self.clients.find(key, self.runtime.clock.now())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limits = self.runtime.settings.api_limits
        key = presented_key(scope.get("headers") or [])
        client: ApiClient | None = None
        if key:
            client = self.clients.cached(key, self.runtime.clock.now())
            if client is None:
                client = await anyio.to_thread.run_sync(self._identify, key)
            scope.setdefault("state", {})[STATE_KEY_CHECKED] = True
        if client is not None:
            scope.setdefault("state", {})[STATE_CLIENT] = client
            rate = client.rate_per_minute or limits.rate_per_minute
            if rate is not None:
                wait = self.buckets.take(client.id, rate, client.burst or limits.burst)
                if wait is not None:
                    log.warning("api_rate_limited", client=client.name, path=path[:100])
                    retry_after = str(max(1, math.ceil(wait)))
                    await _problem(
                        send,
                        path,
                        Problem(
                            429,
                            "rate-limited",
                            "Too many requests",
                            f"This client may make {rate} requests per minute; retry after {retry_after} s.",
                            headers={"Retry-After": retry_after},
                        ),
                    )
                    return
        limit = body_limit(limits, path, client)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            log.warning("api_body_too_large", client=client.name if client else None, path=path[:100])
            await _problem(send, path, _too_large(limit))
            return
        counter = _CountingReceive(receive, limit)
        await self.app(scope, counter, _GuardedSend(send, path, counter))


class _CountingReceive:
    """Counts the streamed body; past the limit it ends the request (the app sees a disconnect)."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.size = 0
        self.exceeded = False

    async def __call__(self) -> MutableMapping[str, Any]:
        message = await self.receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                self.exceeded = True
                return {"type": "http.disconnect"}
        return message


class _GuardedSend:
    """Answers 413 instead of whatever the app makes of a body cut off at the limit."""

    def __init__(self, send: Send, path: str, counter: _CountingReceive) -> None:
        self.send = send
        self.path = path
        self.counter = counter
        self.replaced = False

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        if self.replaced:
            return
        if message["type"] == "http.response.start" and self.counter.exceeded:
            self.replaced = True
            await _problem(self.send, self.path, _too_large(self.counter.limit))
            return
        await self.send(message)
