"""Webhooks: every recorded event, pushed as a signed HTTP POST to the subscribers.

Push uses the same machinery as the chain messages, so it has the same guarantees:
:func:`fan_out` stores one outbox row (``messages``, party ``webhook``) per event and
matching subscription *in the event's own transaction*; the delivery worker sends it,
retries it with backoff, parks it on a refusal. Nothing is lost when the receiver is
down, and nothing is sent for an event whose transaction rolled back.

The request (Standard Webhooks style)::

    POST <subscription url>
    Content-Type: application/json
    Webhook-Id: <uuid>          the same on every retry: receivers deduplicate on it
    Webhook-Timestamp: <unix seconds of this attempt>
    Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>

    {"id": <event id>, "type": "deadline.verlopen", "created_at": "...", "data": {...},
     "bericht_id": ..., "beschikking_id": ..., "webhook_id": "<uuid>", "subscription": "<name>"}

The body is fixed when the row is stored (a retry sends the same bytes); the
timestamp and signature are made per attempt, so a receiver can refuse replays of old
requests. Receivers check requests with :func:`verify_signature`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
import weakref
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.runtime import Runtime
from gateway.settings import WebhookSubscription
from gateway.store.tables import Event, Message, MessageState

PARTY_WEBHOOK = "webhook"
OPERATION_WEBHOOK = "webhook"
SIGNATURE_VERSION = "v1"
#: Receivers should refuse requests signed longer ago than this (replays).
DEFAULT_TOLERANCE_S = 300.0
_SESSION_KEY = "webhook_fanned_out_events"


def webhook_route(name: str) -> str:
    return f"{PARTY_WEBHOOK}:{name}"


def subscribed(subscription: WebhookSubscription, event_type: str) -> bool:
    """Whether ``subscription`` wants ``event_type``: all events, an exact type, or ``prefix.*``."""
    if not subscription.events:
        return True
    for wanted in subscription.events:
        if wanted == event_type:
            return True
        if wanted.endswith(".*") and event_type.startswith(wanted[:-1]):
            return True
    return False


def event_body(event: Event, *, webhook_id: str, subscription: str) -> bytes:
    """The JSON the receiver gets: the event as the feed shows it, plus the delivery's id."""
    document: dict[str, Any] = {
        "id": event.id,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "data": event.data,
        "bericht_id": event.message_id,
        "beschikking_id": event.beschikking_id,
        "webhook_id": webhook_id,
        "subscription": subscription,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def fan_out(session: Session, runtime: Runtime, event: Event) -> list[Message]:
    """Queue ``event`` for every subscription that wants it, in the caller's transaction.

    Safe to call twice for the same event in one session (the second call does nothing).
    Events about a webhook delivery itself (delivered, parked ...) are never fanned out:
    that would feed webhooks with news about webhooks, without end.
    """
    subscriptions = [s for s in runtime.settings.webhooks if subscribed(s, event.type)]
    if not subscriptions:
        return []
    if event.message_id is not None and _is_webhook_message(session, event.message_id):
        return []
    if event.id is None:
        session.flush()  # the event id is the body's id and the rows' bericht_identificatie
    # Keyed by the event object, not its id: after a savepoint rollback (bulk intake retrying
    # a group line by line) a new event may get the id of one that was rolled back.
    done: weakref.WeakSet[Event] = session.info.setdefault(_SESSION_KEY, weakref.WeakSet())
    if event in done:
        return []
    done.add(event)
    now = runtime.clock.now()
    rows: list[Message] = []
    for subscription in subscriptions:
        webhook_id = str(uuid.uuid4())
        body = event_body(event, webhook_id=webhook_id, subscription=subscription.name)
        message = Message(
            party=PARTY_WEBHOOK,
            route=webhook_route(subscription.name),
            message_type=event.type[:30],
            operation=OPERATION_WEBHOOK,
            law=None,
            state=MessageState.QUEUED,
            sender=runtime.settings.gemeentecode,
            receiver=subscription.name,
            referentienummer=webhook_id,
            bericht_identificatie=str(event.id),
            beschikking_id=None,
            bsn_hash=None,
            payload=body,
            wire_body=body,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(message)
        rows.append(message)
    return rows


def _is_webhook_message(session: Session, message_id: int) -> bool:
    loaded = session.identity_map.get(Message.__mapper__.identity_key_from_primary_key((message_id,)))
    if isinstance(loaded, Message):
        return loaded.party == PARTY_WEBHOOK
    party = session.scalar(select(Message.party).where(Message.id == message_id))
    return party == PARTY_WEBHOOK


# -- signing -------------------------------------------------------------------------


def sign(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 over ``"<id>.<timestamp>.<body>"``."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, webhook_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        "Webhook-Id": webhook_id,
        "Webhook-Timestamp": stamp,
        "Webhook-Signature": f"{SIGNATURE_VERSION}={sign(secret, webhook_id, stamp, body)}",
    }


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: float | None = DEFAULT_TOLERANCE_S,
    now: datetime | None = None,
) -> bool:
    """Whether a webhook request is genuine: signed with ``secret``, over this body, recently.

    ``headers`` may be any mapping (a plain dict or a framework's case-insensitive one).
    ``Webhook-Signature`` may hold several space-separated ``v1=<hex>`` values (during a
    secret rotation); one match suffices. ``tolerance_s=None`` skips the age check.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    webhook_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not webhook_id or not stamp or not signatures:
        return False
    try:
        sent_at = int(stamp)
    except ValueError:
        return False
    if tolerance_s is not None:
        current = now.timestamp() if now is not None else time.time()
        if abs(current - sent_at) > tolerance_s:
            return False
    expected = sign(secret, webhook_id, stamp, body)
    for candidate in signatures.split():
        version, _, value = candidate.partition("=")
        if version == SIGNATURE_VERSION and hmac.compare_digest(value, expected):
            return True
    return False
