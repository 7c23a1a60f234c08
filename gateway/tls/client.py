"""Outbound mutual TLS: present our certificate, accept only the configured party.

:func:`outbound_ssl_context` builds the context for one party from its
:class:`~gateway.settings.OutboundTls` settings: our certificate and key, only the
configured CA bundle as trust anchors (not the system's CAs), TLS 1.2 or newer,
hostname verification, and - after the handshake, before a single byte of the request
is written - the party's OIN against the server certificate's subject serialNumber.

A refusal surfaces from httpx as a ``ConnectError`` whose cause chain holds the ssl
error; :func:`tls_refusal` finds it so a transport can classify it as *permanent*
(park the message with the reason): a wrong or unknown certificate is a configuration
or security problem an operator must look at, and retrying for days towards a server
that may be an impostor helps no one. An operator re-queues the parked messages once
it is fixed.

Usage for any party (the GGk transport does this, the CORV transport can do the same)::

    client = tls_http_client(party_tls, timeout=..., limits=..., expected_oin=party_oin)
    try:
        client.post(url, content=body)
    except httpx.HTTPError as exc:
        if (reason := tls_refusal(exc)) is not None:
            return Outcome(OutcomeKind.PERMANENT, detail=reason)

The OIN check runs in ``wrap_socket`` (the synchronous httpx/httpcore path the delivery
worker uses); an asyncio client would not pass through it.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

import httpx

from gateway.settings import OutboundTls
from gateway.tls.identity import describe, oin_of_der


class PeerIdentityError(ssl.SSLCertVerificationError):
    """The server's certificate is valid but belongs to another organisation (OIN)."""


class _OinCheckingContext(ssl.SSLContext):
    """An SSLContext that, once the handshake is done, demands the expected OIN."""

    expected_oin: str = ""

    def wrap_socket(self, sock: socket.socket, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        tls_socket = super().wrap_socket(sock, *args, **kwargs)
        try:
            if tls_socket.version() is None:  # handshake not done yet (do_handshake_on_connect=False)
                tls_socket.do_handshake()
            der = tls_socket.getpeercert(binary_form=True)
            found = oin_of_der(der)
            if found != self.expected_oin:
                raise PeerIdentityError(
                    f"server certificate OIN {found or 'missing'} is not the configured "
                    f"{self.expected_oin}: {describe(der)}"
                )
        except BaseException:
            tls_socket.close()
            raise
        return tls_socket


def outbound_ssl_context(tls: OutboundTls, *, expected_oin: str = "") -> ssl.SSLContext:
    """The client context for one party; ``expected_oin`` overrides ``tls.server_oin``."""
    oin = expected_oin or tls.server_oin
    if not tls.enabled or tls.key_file is None or tls.ca_file is None:
        raise ValueError("outbound mutual TLS is not configured (cert_file, key_file, ca_file)")
    if not oin:
        raise ValueError("the party's OIN is needed to check its server certificate")
    context = _OinCheckingContext(ssl.PROTOCOL_TLS_CLIENT)
    context.expected_oin = oin
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    context.load_verify_locations(cafile=str(tls.ca_file))
    context.load_cert_chain(str(tls.cert_file), str(tls.key_file), tls.key_password or None)
    return context


def tls_http_client(
    tls: OutboundTls,
    *,
    timeout: httpx.Timeout,
    limits: httpx.Limits | None = None,
    expected_oin: str = "",
) -> httpx.Client:
    """An httpx client whose every connection is mutual TLS with the configured party."""
    return httpx.Client(
        verify=outbound_ssl_context(tls, expected_oin=expected_oin),
        timeout=timeout,
        limits=limits or httpx.Limits(),
    )


def tls_refusal(exc: BaseException) -> str | None:
    """Why the TLS handshake refused the peer (or the peer us), or None for other failures.

    Certificate verification failures (unknown CA, expired, wrong host, wrong OIN) and
    TLS alerts the server sent about our certificate are configuration or security
    problems; an EOF or reset is not (that stays a connection failure).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PeerIdentityError):
            return f"TLS: {current.args[0] if current.args else current}"
        if isinstance(current, ssl.SSLCertVerificationError):
            return f"TLS: server certificate refused: {current.verify_message or current.reason}"
        if isinstance(current, ssl.SSLError) and "ALERT" in str(current.reason or "").upper():
            return f"TLS: the server refused the handshake ({current.reason}): check our client certificate"
        if isinstance(current, ssl.SSLError) and "VERSION" in str(current.reason or "").upper():
            return f"TLS: no common protocol version ({current.reason})"
        current = current.__cause__ or current.__context__
    return None
