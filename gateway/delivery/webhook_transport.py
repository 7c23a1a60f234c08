"""Sending a stored webhook (an outbox row of party ``webhook``) and classifying the answer.

The stored body names its subscription and carries its ``Webhook-Id``; the URL and
secret are looked up in the *current* settings at each attempt, so a corrected URL or
a rotated secret also applies to deliveries still waiting for a retry. The signature
and timestamp are made per attempt (see :mod:`gateway.webhooks`).

Classification, like the GGk transport's, never raises:

- 2xx: delivered;
- 408, 425, 429, 5xx, refused connection: retryable (it did not arrive, or come back later);
- timeout after sending, dropped connection: unknown (retried; the receiver deduplicates
  on ``Webhook-Id``);
- other 4xx, 3xx (redirects are not followed: a webhook URL that moved is a configuration
  error, and following could hand the signed event to another host), a subscription
  that no longer exists: permanent - parked for an operator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import httpx

from gateway.clock import Clock, SystemClock
from gateway.delivery.outcome import Outcome, OutcomeKind
from gateway.settings import WebhookSubscription
from gateway.webhooks import OPERATION_WEBHOOK, signed_headers

_RETRYABLE_STATUS = frozenset({408, 425, 429})


class WebhookTransport:
    def __init__(
        self,
        subscriptions: Iterable[WebhookSubscription],
        client: httpx.Client,
        clock: Clock | None = None,
    ) -> None:
        self.subscriptions = {subscription.name: subscription for subscription in subscriptions}
        self.client = client
        self.clock = clock or SystemClock()

    def send(self, wire_body: bytes, *, after_unknown: bool, operation: str = OPERATION_WEBHOOK) -> Outcome:
        try:
            document = json.loads(wire_body)
            name = str(document["subscription"])
            webhook_id = str(document["webhook_id"])
        except (ValueError, KeyError, TypeError):
            return Outcome(OutcomeKind.PERMANENT, detail="not a stored webhook body")
        subscription = self.subscriptions.get(name)
        if subscription is None:
            return Outcome(OutcomeKind.PERMANENT, detail=f"webhook subscription {name!r} is not configured")
        headers = signed_headers(
            subscription.secret, webhook_id, wire_body, timestamp=int(self.clock.now().timestamp())
        )
        try:
            response = self.client.post(subscription.url, content=wire_body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return Outcome(OutcomeKind.RETRYABLE, detail=f"not sent: {type(exc).__name__}")
        except httpx.TimeoutException as exc:
            return Outcome(OutcomeKind.UNKNOWN, detail=f"sent, no answer: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return Outcome(OutcomeKind.UNKNOWN, detail=f"sent, connection failed: {type(exc).__name__}")
        except Exception as exc:  # an invalid URL and the like: never raise to the worker
            return Outcome(OutcomeKind.UNKNOWN, detail=f"send failed: {type(exc).__name__}")
        return classify(response.status_code)


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome(OutcomeKind.DELIVERED, status)
    if status in _RETRYABLE_STATUS or status >= 500:
        return Outcome(OutcomeKind.RETRYABLE, status, None, f"HTTP {status}")
    return Outcome(OutcomeKind.PERMANENT, status, None, f"HTTP {status}")
