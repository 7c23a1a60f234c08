"""Webhooks through the outbox and the real delivery worker, to a receiver on real loopback
HTTP that checks every signature - on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import select

from gateway.delivery.ggk_transport import GgkSoapTransport
from gateway.delivery.outcome import OutcomeKind
from gateway.delivery.webhook_transport import WebhookTransport
from gateway.delivery.worker import DeliveryWorker
from gateway.events import DEADLINE_OVERDUE, MESSAGE_DELIVERED, record_event
from gateway.runtime import Runtime
from gateway.settings import WebhookSubscription
from gateway.store.database import transaction
from gateway.store.tables import Message
from gateway.webhooks import PARTY_WEBHOOK, fan_out, signed_headers, verify_signature
from tests.conftest import make_settings
from tests.live_server import free_port, live_server

SECRET = "whsec-test-0637-" + "k" * 24


@dataclass
class Receiver:
    """What the receiving back-office saw; it can be told to fail the next N requests."""

    secret: str = SECRET
    fail_times: int = 0
    fail_status: int = 503
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hooks/{name}")
        async def hook(name: str, request: Request) -> Response:
            body = await request.body()
            valid = verify_signature(self.secret, request.headers, body)
            with self.lock:
                self.requests.append(
                    {"name": name, "headers": dict(request.headers), "body": body, "valid": valid}
                )
                if self.fail_times > 0:
                    self.fail_times -= 1
                    return Response(status_code=self.fail_status)
            return Response(status_code=204 if valid else 401)

        @app.post("/status/{code}")
        async def status(code: int) -> Response:
            return Response(status_code=code)

        @app.post("/slow")
        async def slow() -> Response:
            await asyncio.sleep(1.5)
            return Response(status_code=204)

        return app

    def valid_bodies(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests if r["name"] == name and r["valid"]]


@dataclass
class Setup:
    runtime: Runtime
    worker: DeliveryWorker
    receiver: Receiver
    base_url: str


@contextmanager
def setup_for(
    database_url: str, tmp_path: Path, receiver: Receiver, subscriptions: list[dict[str, Any]]
) -> Iterator[Setup]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    for subscription in subscriptions:
        subscription.setdefault("url", f"{base_url}/hooks/{subscription['name']}")
        subscription.setdefault("secret", SECRET)
    runtime = Runtime.create(make_settings(database_url, tmp_path, webhooks=subscriptions))
    client = httpx.Client(timeout=httpx.Timeout(2.0, connect=1.0))
    worker = DeliveryWorker(
        runtime,
        {
            "ggk": GgkSoapTransport(runtime.settings.effective_ggk_url, client),
            PARTY_WEBHOOK: WebhookTransport(runtime.settings.webhooks, client),
        },
        on_close=client.close,
    )
    try:
        with live_server(receiver.app(), port):
            yield Setup(runtime, worker, receiver, base_url)
    finally:
        worker.close()
        runtime.close()


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def one(database_url: str, tmp_path: Path, receiver: Receiver) -> Iterator[Setup]:
    """One subscription, to every event."""
    with setup_for(database_url, tmp_path, receiver, [{"name": "backoffice"}]) as setup:
        yield setup


def record(runtime: Runtime, type_: str, *, message_id: int | None = None, **data: Any) -> int:
    """Record an event and fan it out in one transaction, as ``record_event`` will."""
    with transaction(runtime.sessions) as session:
        event = record_event(session, runtime, type_, message_id=message_id, **data)
        fan_out(session, runtime, event)
        session.flush()
        return event.id


def webhook_rows(runtime: Runtime, event_id: int | None = None) -> list[Message]:
    query = select(Message).where(Message.party == PARTY_WEBHOOK).order_by(Message.id)
    if event_id is not None:
        query = query.where(Message.bericht_identificatie == str(event_id))
    with runtime.sessions() as session:
        return list(session.scalars(query))


def deliver_until(setup: Setup, message_id: int, *states: str, timeout_s: float = 10) -> Message:
    deadline = time.monotonic() + timeout_s
    while True:
        setup.worker.run_once()
        with setup.runtime.sessions() as session:
            message = session.get(Message, message_id)
            assert message is not None
            if message.state in states:
                list(message.attempt_log)  # load while the session is open
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"webhook {message_id} stayed {message.state}, wanted {states}")
        time.sleep(0.02)


def test_an_event_reaches_the_receiver_signed(one: Setup) -> None:
    event_id = record(one.runtime, DEADLINE_OVERDUE, kind="retour", deadline_id=7)
    [row] = webhook_rows(one.runtime, event_id)
    assert (row.route, row.receiver, row.message_type, row.operation) == (
        "webhook:backoffice",
        "backoffice",
        DEADLINE_OVERDUE,
        "webhook",
    )
    message = deliver_until(one, row.id, "delivered")
    assert [a.outcome for a in message.attempt_log] == ["delivered"]
    [request] = one.receiver.requests
    assert request["valid"] is True
    assert request["headers"]["webhook-id"] == row.referentienummer
    assert request["headers"]["webhook-signature"].startswith("v1=")
    assert request["headers"]["content-type"] == "application/json"
    body = json.loads(request["body"])
    assert body["id"] == event_id and body["type"] == DEADLINE_OVERDUE
    assert body["data"] == {"kind": "retour", "deadline_id": 7}
    assert body["webhook_id"] == row.referentienummer
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert request["body"] == row.wire_body  # exactly the stored bytes


def test_a_503_is_retried_with_the_same_webhook_id(one: Setup) -> None:
    one.receiver.fail_times = 2
    event_id = record(one.runtime, DEADLINE_OVERDUE, kind="retour")
    [row] = webhook_rows(one.runtime, event_id)
    message = deliver_until(one, row.id, "delivered")
    assert [(a.outcome, a.http_status) for a in message.attempt_log] == [
        ("retryable", 503),
        ("retryable", 503),
        ("delivered", 204),
    ]
    requests = one.receiver.requests
    assert len(requests) == 3 and all(r["valid"] for r in requests)
    assert {r["headers"]["webhook-id"] for r in requests} == {row.referentienummer}
    assert {r["body"] for r in requests} == {row.wire_body}


def test_a_wrong_secret_is_detected_and_parks_the_webhook(one: Setup) -> None:
    one.receiver.secret = "another-secret-the-gateway-does-not-know"
    event_id = record(one.runtime, DEADLINE_OVERDUE, kind="retour")
    [row] = webhook_rows(one.runtime, event_id)
    message = deliver_until(one, row.id, "parked")
    assert [(a.outcome, a.http_status) for a in message.attempt_log] == [("permanent", 401)]
    [request] = one.receiver.requests
    assert request["valid"] is False
    assert verify_signature(SECRET, request["headers"], request["body"]) is True


def test_verify_signature_rejects_tampering_wrong_secrets_and_replays() -> None:
    body = b'{"id":1,"type":"deadline.verlopen"}'
    now = int(time.time())
    headers = signed_headers(SECRET, "4b3c1a2e-0000-4000-8000-000000000001", body, timestamp=now)
    assert verify_signature(SECRET, headers, body)
    assert not verify_signature(SECRET, headers, body.replace(b"1", b"2"))
    assert not verify_signature(SECRET + "x", headers, body)
    assert not verify_signature(SECRET, {**headers, "Webhook-Id": "another-id"}, body)
    assert not verify_signature(SECRET, {k: v for k, v in headers.items() if k != "Webhook-Signature"}, body)
    assert not verify_signature(SECRET, {**headers, "Webhook-Timestamp": "yesterday"}, body)
    # An old (replayed) request fails unless the age check is switched off.
    later = datetime.fromtimestamp(now, UTC) + timedelta(minutes=10)
    assert not verify_signature(SECRET, headers, body, now=later)
    assert verify_signature(SECRET, headers, body, now=later, tolerance_s=None)
    # During a secret rotation the header carries several signatures; one match suffices.
    rotated = signed_headers("the-new-secret-0637-abcdef", headers["Webhook-Id"], body, timestamp=now)
    both = {**headers, "Webhook-Signature": f"{rotated['Webhook-Signature']} {headers['Webhook-Signature']}"}
    assert verify_signature(SECRET, both, body)
    assert verify_signature("the-new-secret-0637-abcdef", both, body)


def test_each_subscription_gets_only_the_events_it_asked_for(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    subscriptions: list[dict[str, Any]] = [
        {"name": "alles"},
        {"name": "termijnen", "events": [DEADLINE_OVERDUE]},
        {"name": "berichten", "events": ["bericht.*"]},
    ]
    with setup_for(database_url, tmp_path, receiver, subscriptions) as setup:
        overdue = record(setup.runtime, DEADLINE_OVERDUE, kind="retour")
        delivered = record(setup.runtime, MESSAGE_DELIVERED, detail="ok")
        unmatched = record(setup.runtime, "inbound.niet_gekoppeld")
        assert sorted(r.receiver for r in webhook_rows(setup.runtime, overdue)) == ["alles", "termijnen"]
        assert sorted(r.receiver for r in webhook_rows(setup.runtime, delivered)) == ["alles", "berichten"]
        assert [r.receiver for r in webhook_rows(setup.runtime, unmatched)] == ["alles"]
        for row in webhook_rows(setup.runtime):
            deliver_until(setup, row.id, "delivered")
        # Delivered concurrently: each arrives once, in no promised order.
        assert sorted(b["id"] for b in receiver.valid_bodies("alles")) == sorted(
            [overdue, delivered, unmatched]
        )
        assert [b["id"] for b in receiver.valid_bodies("termijnen")] == [overdue]
        assert [b["id"] for b in receiver.valid_bodies("berichten")] == [delivered]


def test_nothing_is_queued_without_a_subscription(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    with setup_for(
        database_url, tmp_path, receiver, [{"name": "termijnen", "events": [DEADLINE_OVERDUE]}]
    ) as setup:
        record(setup.runtime, MESSAGE_DELIVERED)
        assert webhook_rows(setup.runtime) == []
        setup.worker.run_once()
        assert receiver.requests == []
    with setup_for(database_url, tmp_path / "none", receiver, []) as setup:
        record(setup.runtime, DEADLINE_OVERDUE)
        assert webhook_rows(setup.runtime) == []


def test_news_about_a_webhook_delivery_is_not_fanned_out_again(one: Setup) -> None:
    event_id = record(one.runtime, DEADLINE_OVERDUE, kind="retour")
    [row] = webhook_rows(one.runtime, event_id)
    deliver_until(one, row.id, "delivered")
    # What the worker records about that delivery must not become a webhook itself.
    record(one.runtime, MESSAGE_DELIVERED, message_id=row.id)
    assert [r.id for r in webhook_rows(one.runtime)] == [row.id]


def test_fan_out_twice_in_one_transaction_queues_once(one: Setup) -> None:
    with transaction(one.runtime.sessions) as session:
        event = record_event(session, one.runtime, DEADLINE_OVERDUE)
        first = fan_out(session, one.runtime, event)
        assert fan_out(session, one.runtime, event) == []
    assert len(first) <= 1  # 0 once record_event fans out by itself
    assert len(webhook_rows(one.runtime)) == 1


def _wire(name: str) -> bytes:
    return json.dumps({"id": 1, "type": "t", "webhook_id": "id-1", "subscription": name}).encode()


def test_the_transport_classifies_every_answer(receiver: Receiver) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    closed = f"http://127.0.0.1:{free_port()}/hooks/x"
    urls = {
        "ok": f"{base}/status/200",
        "accepted": f"{base}/status/202",
        "timeout408": f"{base}/status/408",
        "busy": f"{base}/status/429",
        "error": f"{base}/status/500",
        "notfound": f"{base}/status/404",
        "gone": f"{base}/status/410",
        "moved": f"{base}/status/301",
        "slow": f"{base}/slow",
        "closed": closed,
    }
    subscriptions = [WebhookSubscription(name=n, url=u, secret=SECRET) for n, u in urls.items()]
    expected = {
        "ok": OutcomeKind.DELIVERED,
        "accepted": OutcomeKind.DELIVERED,
        "timeout408": OutcomeKind.RETRYABLE,
        "busy": OutcomeKind.RETRYABLE,
        "error": OutcomeKind.RETRYABLE,
        "notfound": OutcomeKind.PERMANENT,
        "gone": OutcomeKind.PERMANENT,
        "moved": OutcomeKind.PERMANENT,
        "slow": OutcomeKind.UNKNOWN,
        "closed": OutcomeKind.RETRYABLE,
    }
    with live_server(receiver.app(), port), httpx.Client(timeout=httpx.Timeout(0.5, connect=1.0)) as client:
        transport = WebhookTransport(subscriptions, client)
        got = {name: transport.send(_wire(name), after_unknown=False).kind for name in urls}
        assert got == expected
        removed = transport.send(_wire("removed"), after_unknown=False)
        assert removed.kind is OutcomeKind.PERMANENT and "not configured" in (removed.detail or "")
        garbage = transport.send(b"<not json>", after_unknown=True)
        assert garbage.kind is OutcomeKind.PERMANENT
