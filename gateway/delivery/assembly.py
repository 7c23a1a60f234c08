"""Wiring a delivery worker to its transports from the settings."""

from __future__ import annotations

import urllib.parse

import httpx

from gateway import tracing
from gateway.corv.config import PARTY_CORV, retry_policies
from gateway.corv.delivery import corv_transport
from gateway.delivery.ggk_transport import GgkSoapTransport
from gateway.delivery.soap_poster import SoapPoster, proxied
from gateway.delivery.webhook_transport import WebhookTransport
from gateway.delivery.worker import DeliveryWorker
from gateway.outbox import PARTY_GGK
from gateway.runtime import Runtime
from gateway.settings import OutboundTls
from gateway.tls.client import outbound_ssl_context, tls_http_client
from gateway.webhooks import PARTY_WEBHOOK


def http_client(runtime: Runtime) -> httpx.Client:
    delivery = runtime.settings.delivery
    timeout = httpx.Timeout(delivery.send_timeout_s, connect=delivery.connect_timeout_s)
    return httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=delivery.concurrency * 2))


def mutual_tls_client(runtime: Runtime, tls: OutboundTls, expected_oin: str = "") -> httpx.Client:
    """A client of its own for a party reached over mutual TLS (gateway.tls.client)."""
    delivery = runtime.settings.delivery
    return tls_http_client(
        tls,
        timeout=httpx.Timeout(delivery.send_timeout_s, connect=delivery.connect_timeout_s),
        limits=httpx.Limits(max_connections=delivery.concurrency * 2),
        expected_oin=expected_oin,
    )


def build_worker(runtime: Runtime, client: httpx.Client | None = None) -> DeliveryWorker:
    """A worker with one transport per chain party, sharing one connection pool."""
    owned = client is None
    client = client or http_client(runtime)
    ggk_tls = runtime.settings.ggk_tls
    ggk_client = mutual_tls_client(runtime, ggk_tls) if ggk_tls.enabled else client
    # CORV parties with `tls` configured: a mutual-TLS client each, checking the party's OIN.
    corv_clients = {
        party.oin: mutual_tls_client(runtime, party.tls, expected_oin=party.tls.server_oin or party.oin)
        for party in runtime.settings.corv.parties
        if party.tls.enabled
    }
    shared = client
    for traced in (client, ggk_client, *corv_clients.values()):
        tracing.propagate_on(traced)  # traceparent on every send when tracing is on

    ggk = GgkSoapTransport(runtime.settings.effective_ggk_url, ggk_client, ggk_poster(runtime))

    def close() -> None:
        ggk.close()  # the lean client's connections, if it has one
        if ggk_client is not shared:
            ggk_client.close()
        for corv_client in corv_clients.values():
            corv_client.close()
        if owned:
            shared.close()

    return DeliveryWorker(
        runtime,
        {
            PARTY_GGK: ggk,
            PARTY_WEBHOOK: WebhookTransport(runtime.settings.webhooks, client, runtime.clock),
            PARTY_CORV: corv_transport(runtime, client, corv_clients),
        },
        policies=retry_policies(runtime.settings),  # CORV: fixed interval, N retries per party
        on_close=close,
    )


def ggk_poster(runtime: Runtime) -> SoapPoster | None:
    """The lean client for the GGk where it does what httpx would (gateway.delivery.soap_poster)."""
    url = runtime.settings.effective_ggk_url
    tls = runtime.settings.ggk_tls
    parts = urllib.parse.urlsplit(url)
    if tracing.enabled() or proxied() or parts.username or parts.password:
        return None  # the traceparent hook, the environment's proxies, Basic auth: httpx's
    if parts.scheme == "https" and not tls.enabled:
        return None  # https with the system's trust store: httpx's (certifi), not ours
    context = outbound_ssl_context(tls) if tls.enabled else None
    if context is not None:
        context.set_alpn_protocols(["http/1.1"])  # as httpcore offers it
    delivery = runtime.settings.delivery
    return SoapPoster(
        url,
        context=context,
        connect_timeout_s=delivery.connect_timeout_s,
        send_timeout_s=delivery.send_timeout_s,
    )
