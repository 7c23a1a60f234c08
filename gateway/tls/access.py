"""Who may post what to the chain endpoints (``/ggk/soap``, ``/corv/ebms``).

With the chain listener configured (``GATEWAY_CHAIN_TLS__*``), :class:`ChainAccessMiddleware`:

- serves the chain endpoints only on the chain listener (a request for them on the
  back-office listener is refused), and only the chain endpoints there (404 otherwise);
- accepts a request only when the certificate's OIN is a configured party; the party
  is put in ``request.state.chain_party``;
- the endpoint then asks :func:`may_post` whether that party may send the message type
  it found in the request (``ggk:JW302``, ``corv:notificatieDi01``).

Refusals are in the chain's own form where one exists - a SOAP fault with a StUF Fo03
(IB002: organisation not authorised) for the GGk endpoint - and a 403 problem+json
otherwise. Nothing is read from the body and nothing is stored.

Without a chain listener in development mode (the Quickstart and the mocks) every request
is let through, and ``gateway serve`` says so loudly (``insecure_development_mode``). In
production mode without a chain listener the chain endpoints are refused everywhere.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from starlette.requests import Request

from connectors.ggk import render_fo03_fault
from gateway.settings import ChainPartyAccess, Mode, Settings
from gateway.tls.server import PEER_EXTENSION, AsgiApp, ChainPeer, Receive, Scope, Send

log = structlog.get_logger("gateway.tls")

#: Chain endpoint path -> its name in the allow-lists.
CHAIN_ENDPOINTS: dict[str, str] = {"/ggk/soap": "ggk", "/corv/ebms": "corv"}
SOAP_XML = "text/xml; charset=utf-8"


def refusal(endpoint: str | None, status: int, code: str, reason: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of a refusal in the endpoint's own form."""
    if endpoint == "ggk":
        return 500, SOAP_XML, render_fo03_fault(code, "client", reason)
    body = {
        "type": f"urn:gateway:problem:{'not-found' if status == 404 else 'forbidden'}",
        "title": "Not found" if status == 404 else "The chain party is not allowed this",
        "status": status,
        "detail": reason,
    }
    return status, "application/problem+json", json.dumps(body).encode()


async def _answer(send: Send, status: int, content_type: str, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def chain_peer(scope: Scope) -> tuple[bool, ChainPeer | None]:
    """(came through the chain listener, its verified peer)."""
    extension = (scope.get("extensions") or {}).get(PEER_EXTENSION)
    if extension is None:
        return False, None
    peer: ChainPeer | None = extension.get("peer")
    return True, peer


class ChainAccessMiddleware:
    """Pure ASGI middleware: chain endpoints only for configured parties over mutual TLS."""

    def __init__(self, app: AsgiApp, settings: Settings) -> None:
        self.app = app
        # Production fails closed: without the chain listener no request can carry a
        # verified certificate, so the chain endpoints are refused on every listener
        # (``gateway serve`` refuses to start so; this covers any other way to serve the app).
        self.enforced = settings.chain_tls.enabled or settings.mode is Mode.PRODUCTION
        self.parties = {party.oin: party for party in settings.chain_tls.parties}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.enforced:
            await self.app(scope, receive, send)
            return
        endpoint = CHAIN_ENDPOINTS.get(scope["path"].rstrip("/") or "/")
        on_chain_listener, peer = chain_peer(scope)
        problem: tuple[int, str, str] | None = None
        if on_chain_listener and endpoint is None:
            problem = (404, "", "the chain listener serves only the chain endpoints")
        elif endpoint is not None and not on_chain_listener:
            problem = (403, "IB002", "chain endpoints are served on the mutual-TLS listener only")
        elif endpoint is not None and (peer is None or peer.oin is None):
            problem = (403, "IB002", "the client certificate carries no OIN (subject serialNumber)")
        elif endpoint is not None and peer is not None and peer.oin not in self.parties:
            problem = (403, "IB002", f"OIN {peer.oin} is not a configured chain party")
        if problem is not None:
            status, code, reason = problem
            log.warning(
                "chain_access_refused",
                endpoint=endpoint,
                path=scope["path"][:100],
                oin=peer.oin if peer else None,
                reason=reason,
            )
            await _answer(send, *refusal(endpoint, status, code, reason))
            return
        if endpoint is not None and peer is not None and peer.oin is not None:
            scope.setdefault("state", {})["chain_party"] = self.parties[peer.oin]
        await self.app(scope, receive, send)


def may_post(request: Request, endpoint: str, message_type: str) -> bool:
    """Whether the calling party may send ``message_type`` to ``endpoint``.

    True when no chain listener is configured in development mode (nothing to check against).
    """
    settings: Settings = request.app.state.runtime.settings
    if not settings.chain_tls.enabled and settings.mode is not Mode.PRODUCTION:
        return True
    party: ChainPartyAccess | None = getattr(request.state, "chain_party", None)
    if party is None:
        return False
    allowed = set(party.allowed)
    return f"{endpoint}:*" in allowed or f"{endpoint}:{message_type}" in allowed


def caller_name(request: Request) -> str | None:
    """The configured name of the calling chain party (for logs), if any."""
    party: Any = getattr(request.state, "chain_party", None)
    return party.name if party is not None else None
