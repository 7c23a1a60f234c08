"""Wiring a delivery worker to its transports from the settings."""

from __future__ import annotations

import httpx

from gateway.delivery.ggk_transport import GgkSoapTransport
from gateway.delivery.webhook_transport import WebhookTransport
from gateway.delivery.worker import DeliveryWorker
from gateway.outbox import PARTY_GGK
from gateway.runtime import Runtime
from gateway.webhooks import PARTY_WEBHOOK


def http_client(runtime: Runtime) -> httpx.Client:
    delivery = runtime.settings.delivery
    timeout = httpx.Timeout(delivery.send_timeout_s, connect=delivery.connect_timeout_s)
    return httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=delivery.concurrency * 2))


def build_worker(runtime: Runtime, client: httpx.Client | None = None) -> DeliveryWorker:
    """A worker with one transport per chain party, sharing one connection pool."""
    owned = client is None
    client = client or http_client(runtime)
    return DeliveryWorker(
        runtime,
        {
            PARTY_GGK: GgkSoapTransport(runtime.settings.effective_ggk_url, client),
            PARTY_WEBHOOK: WebhookTransport(runtime.settings.webhooks, client, runtime.clock),
        },
        on_close=client.close if owned else None,
    )
