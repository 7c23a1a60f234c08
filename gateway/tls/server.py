"""Inbound mutual TLS: the chain listener's context and the peer certificate in the scope.

The TLS handshake itself refuses what must never reach the app: no client certificate,
one not issued by the configured CA bundle, an expired one, TLS older than 1.2, plain
HTTP. What passes is a verified certificate; the app still decides whether its OIN is
a configured party and what it may post (:mod:`gateway.tls.access`).

uvicorn does not put the peer certificate in the ASGI scope, so
:class:`PeerCertificateProtocol` (a subclass of uvicorn's h11 protocol, one instance per
connection) reads it from the connection's ``ssl_object`` once the handshake is done and
adds it to every request's scope as ``scope["extensions"]["gateway.chain_peer"]``. Only this
listener sets that key, so the app also knows the request came through the chain listener.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.settings import ChainTls
from gateway.tls.identity import describe, oin_of_der

PEER_EXTENSION = "gateway.chain_peer"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ChainPeer:
    """The verified client certificate of a chain-listener connection."""

    #: Subject serialNumber (PKIoverheid OIN); None when the certificate has none.
    oin: str | None
    subject: str
    tls_version: str | None


def chain_ssl_context(tls: ChainTls) -> ssl.SSLContext:
    """Server context: our certificate, client certificates required and verified, TLS >= 1.2."""
    if not tls.enabled or tls.key_file is None or tls.ca_file is None:
        raise ValueError("the chain listener is not configured (cert_file, key_file, ca_file)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(tls.cert_file), str(tls.key_file), tls.key_password or None)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=str(tls.ca_file))
    return context


def peer_of(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> ChainPeer | None:
    """The verified peer of a finished handshake, or None (no TLS, no certificate)."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return ChainPeer(oin=oin_of_der(der), subject=describe(der), tls_version=ssl_object.version())


class _WithPeer:
    """Adds the connection's peer to each request's scope, then calls the app."""

    def __init__(self, app: AsgiApp, peer: ChainPeer | None) -> None:
        self.app = app
        self.peer = peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            extensions = dict(scope.get("extensions") or {})
            extensions[PEER_EXTENSION] = {"peer": self.peer}
            scope["extensions"] = extensions
        await self.app(scope, receive, send)


class PeerCertificateProtocol(H11Protocol):
    """uvicorn's h11 protocol, with the verified client certificate in the scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app = _WithPeer(self.app, peer_of(transport.get_extra_info("ssl_object")))


def chain_listener_config(app: Any, tls: ChainTls, host: str, **options: Any) -> uvicorn.Config:
    """A uvicorn config for the chain listener: mutual TLS, the peer in the scope, no lifespan
    (the API listener, serving the same app, runs the app's background threads)."""
    context = chain_ssl_context(tls)
    return uvicorn.Config(
        app,
        host=host,
        port=tls.port,
        http=PeerCertificateProtocol,
        ssl_context_factory=lambda _config, _default: context,
        lifespan="off",
        **options,
    )
