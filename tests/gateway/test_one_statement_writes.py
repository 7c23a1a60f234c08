"""PostgreSQL's one-statement writes leave exactly what the statement-by-statement way leaves.

On PostgreSQL the delivery worker writes a result (the message, the attempt row, the
retour deadline's restart, the event) and the retour path stores a retour (the inbound
row, the message, its links, the deadline met, the event) each as one statement with
data-modifying CTEs. Here every scenario runs twice on the same PostgreSQL database -
once that way, once statement by statement (as on SQLite) - on a frozen clock, and the
rows both leave behind are compared: messages, attempts, deadlines, events, inbound rows,
toewijzing links, webhook deliveries.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text

from connectors.ggk import Retourbericht, Systeem, render_du01, soap_request
from connectors.istandaard import parse_toewijzing, render_toewijzing_retour
from gateway.api.beschikking_models import BeschikkingIn
from gateway.clock import FrozenClock
from gateway.deadlines import scan_overdue
from gateway.delivery import worker as worker_module
from gateway.delivery.outcome import Outcome, OutcomeKind
from gateway.delivery.worker import Claimed, DeliveryWorker
from gateway.inbound import ggk_retours
from gateway.inbound.ggk_dispatch import handle_ggk_soap
from gateway.intake import accept_beschikking
from gateway.outbox import PARTY_GGK
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import Message
from gateway.webhooks import PARTY_WEBHOOK
from tests.conftest import _empty_postgres_database, beschikking_body, make_settings

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DELIVERED = Outcome(OutcomeKind.DELIVERED, 200)
PERMANENT = Outcome(OutcomeKind.PERMANENT, 500, "IB002", "ongeldige ontvanger")
RETRYABLE = Outcome(OutcomeKind.RETRYABLE, 503, None, "HTTP 503")
WEBHOOK = {"name": "backoffice", "url": "http://127.0.0.1:9/hook", "secret": "s" * 16, "events": []}

#: Per table, the columns compared (random references and encrypted bodies left out).
COLUMNS = {
    "messages": "id, party, route, state, attempts, next_attempt_at, first_attempt_at, lease_owner, "
    "lease_expires_at, last_outcome, last_error, possibly_delivered, delivered_at, answered_at, "
    "answer_inbound_id, retour_codes, updated_at",
    "delivery_attempts": "id, message_id, attempt_no, worker, started_at, finished_at, duration_ms, "
    "outcome, http_status, code, detail, applied",
    "deadlines": "*",
    "events": "id, type, message_id, beschikking_id, data::text, created_at",
    "inbound_messages": "id, party, operation, message_type, status, matched_message_id, retour_codes, "
    "error, received_at",
    "message_toewijzingen": "message_id, toewijzing_id, retour_codes",
}


class Scripted:
    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)

    def send(self, wire_body: bytes, *, after_unknown: bool, operation: str = "") -> Outcome:
        return self.outcomes.pop(0) if self.outcomes else DELIVERED


def claim_ggk(worker: DeliveryWorker) -> Claimed:
    """The due GGk message, claimed; webhook deliveries due before it are delivered first."""
    for claimed in worker.claim(20):
        if claimed.party == PARTY_GGK:
            return claimed
        worker.deliver(claimed)
    raise AssertionError("no GGk message was due")


@pytest.fixture
def fresh_database(postgres_database: str) -> Callable[[], str]:
    def empty() -> str:
        engine = create_engine(postgres_database)
        with engine.begin() as connection:
            _empty_postgres_database(connection)
        engine.dispose()
        return postgres_database

    return empty


def snapshot(connection: Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [
            tuple(row)
            for row in connection.execute(text(f"SELECT {columns} FROM {table} ORDER BY 1, 2"))  # noqa: S608
        ]
        for table, columns in COLUMNS.items()
    }


def retour_for(rt: Runtime, message_id: int) -> tuple[bytes, str]:
    with rt.sessions() as session:
        stored = session.get(Message, message_id)
        assert stored is not None
        retour = render_toewijzing_retour(
            parse_toewijzing(stored.payload), identificatie_retour="R1", dagtekening_retour=T0.date()
        )
        envelope = render_du01(
            Retourbericht(
                zender=Systeem(stored.receiver, "MockAanbieder"),
                ontvanger=Systeem(stored.sender, "GGk"),
                referentienummer=str(uuid.uuid4()),
                cross_refnummer=stored.referentienummer,
                tijdstip=T0.replace(tzinfo=None),
                functie="JW302",
                payload=retour,
            )
        )
    body, headers = soap_request(envelope, "ggk_Du01")
    return body, headers["SOAPAction"]


Scenario = Callable[[Runtime, FrozenClock, DeliveryWorker], None]


def deliver_then_retour(rt: Runtime, clock: FrozenClock, worker: DeliveryWorker) -> None:
    claimed = claim_ggk(worker)
    clock.advance(timedelta(seconds=1))
    worker.deliver(claimed)
    clock.advance(timedelta(seconds=2))
    assert handle_ggk_soap(rt, *retour_for(rt, claimed.id)).status_code == 200


def retour_overtakes_the_record(rt: Runtime, clock: FrozenClock, worker: DeliveryWorker) -> None:
    claimed = claim_ggk(worker)
    clock.advance(timedelta(seconds=1))
    assert handle_ggk_soap(rt, *retour_for(rt, claimed.id)).status_code == 200
    clock.advance(timedelta(seconds=1))
    worker.deliver(claimed)


def late_retour(rt: Runtime, clock: FrozenClock, worker: DeliveryWorker) -> None:
    """Past due, not yet scanned: the late event first, then the retour's."""
    claimed = claim_ggk(worker)
    worker.deliver(claimed)
    clock.advance(timedelta(days=9))
    assert handle_ggk_soap(rt, *retour_for(rt, claimed.id)).status_code == 200


def retour_after_the_scan(rt: Runtime, clock: FrozenClock, worker: DeliveryWorker) -> None:
    claimed = claim_ggk(worker)
    worker.deliver(claimed)
    clock.advance(timedelta(days=9))
    assert scan_overdue(rt) == 1
    clock.advance(timedelta(hours=1))
    assert handle_ggk_soap(rt, *retour_for(rt, claimed.id)).status_code == 200


def parked(rt: Runtime, clock: FrozenClock, worker: DeliveryWorker) -> None:
    claimed = claim_ggk(worker)
    clock.advance(timedelta(seconds=1))
    worker.deliver(claimed)


def retried_then_delivered_twice(rt: Runtime, clock: FrozenClock, worker: DeliveryWorker) -> None:
    """A retryable try, then the retried send delivered; a repeated retour is a duplicate."""
    claimed = claim_ggk(worker)
    worker.deliver(claimed)
    clock.advance(timedelta(hours=2))
    again = claim_ggk(worker)
    worker.deliver(again)
    body, action = retour_for(rt, again.id)
    assert handle_ggk_soap(rt, body, action).status_code == 200
    assert handle_ggk_soap(rt, *retour_for(rt, again.id)).status_code == 200  # another Du01


def zombie_result_then_retour(rt: Runtime, clock: FrozenClock, worker: DeliveryWorker) -> None:
    """The lease expires mid-send and a rescuer re-queues the message; the late result then
    fails its guard (the autocommit statement writes nothing, the transaction completes the
    rescuer's attempt row and keeps the delivery moment); the re-send is answered."""
    claimed = claim_ggk(worker)
    clock.advance(timedelta(seconds=rt.settings.delivery.lease_s + 1))
    assert worker.rescue_expired_leases() >= 1  # with webhooks, a claimed webhook delivery too
    clock.advance(timedelta(seconds=1))
    worker.deliver(claimed)  # stale: not applied
    clock.advance(timedelta(hours=2))
    again = claim_ggk(worker)
    worker.deliver(again)
    clock.advance(timedelta(seconds=2))
    assert handle_ggk_soap(rt, *retour_for(rt, again.id)).status_code == 200


SCENARIOS: dict[str, tuple[Scenario, tuple[Outcome, ...]]] = {
    "deliver_then_retour": (deliver_then_retour, (DELIVERED,)),
    "retour_overtakes_the_record": (retour_overtakes_the_record, (DELIVERED,)),
    "late_retour": (late_retour, (DELIVERED,)),
    "retour_after_the_scan": (retour_after_the_scan, (DELIVERED,)),
    "parked": (parked, (PERMANENT,)),
    "retried_then_delivered": (retried_then_delivered_twice, (RETRYABLE, DELIVERED)),
    "zombie_result": (zombie_result_then_retour, (DELIVERED, DELIVERED)),
}


def run(
    database_url: str, tmp_path: Path, name: str, *, webhooks: list[str] | None
) -> dict[str, list[tuple[Any, ...]]]:
    scenario, outcomes = SCENARIOS[name]
    clock = FrozenClock(T0)
    settings = make_settings(
        database_url,
        tmp_path,
        webhooks=[] if webhooks is None else [{**WEBHOOK, "events": webhooks}],
        retry={"initial_delay_s": 60, "multiplier": 2, "max_delay_s": 3600, "jitter_s": 0, "horizon_days": 1},
    )
    rt = Runtime.create(settings, clock)
    try:
        with transaction(rt.sessions) as session:
            body = beschikking_body(beschikkingnummer="JW-FOLD-1")
            accept_beschikking(session, rt, BeschikkingIn.model_validate(body), None)
        transports = {PARTY_GGK: Scripted(*outcomes), PARTY_WEBHOOK: Scripted()}
        worker = DeliveryWorker(rt, transports, worker_id="worker-fold")
        try:
            scenario(rt, clock, worker)
        finally:
            worker.close()
        with rt.engine.connect() as connection:
            return snapshot(connection)
    finally:
        rt.close()


@pytest.fixture
def statement_by_statement(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], None]]:
    def choose(one_statement: bool) -> None:
        monkeypatch.setattr(worker_module, "_one_statement", lambda _c: one_statement)
        monkeypatch.setattr(ggk_retours, "_one_statement", lambda _c: one_statement)

    yield choose


# A webhook for every event, and one for the retour events only: then the worker's event
# is written in its statement while the retour's is fanned out, and the reverse.
@pytest.mark.parametrize(
    "webhooks", [None, [], ["retour.*"]], ids=["no_webhook", "webhook_all", "webhook_retour_only"]
)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_one_statement_and_statement_by_statement_leave_the_same_rows(
    fresh_database: Callable[[], str],
    tmp_path: Path,
    statement_by_statement: Callable[[bool], None],
    name: str,
    webhooks: list[str] | None,
) -> None:
    statement_by_statement(False)
    expected = run(fresh_database(), tmp_path / "a", name, webhooks=webhooks)
    statement_by_statement(True)
    folded = run(fresh_database(), tmp_path / "b", name, webhooks=webhooks)
    assert folded == expected
    # The scenario did what it says (so the comparison covers the folded statements).
    assert expected["delivery_attempts"]
    if name != "parked":
        assert expected["inbound_messages"]
    if webhooks is not None and (not webhooks or name != "parked"):
        assert any(row[1] == "webhook" for row in expected["messages"])


def test_a_late_retour_records_the_late_event_before_the_retour_event(
    fresh_database: Callable[[], str], tmp_path: Path
) -> None:
    rows = run(fresh_database(), tmp_path, "late_retour", webhooks=None)
    types = [row[1] for row in rows["events"]]
    assert types[-2:] == ["deadline.verlopen", "retour.ontvangen"]
    [deadline] = rows["deadlines"]
    assert deadline is not None


def accepted_and_delivered(rt: Runtime) -> Claimed:
    """One decision accepted and its GGk message delivered (awaiting its retour)."""
    with transaction(rt.sessions) as session:
        accept_beschikking(session, rt, BeschikkingIn.model_validate(beschikking_body()), None)
    worker = DeliveryWorker(rt, {PARTY_GGK: Scripted(), PARTY_WEBHOOK: Scripted()}, worker_id="w")
    try:
        claimed = claim_ggk(worker)
        worker.deliver(claimed)
    finally:
        worker.close()
    return claimed


def test_two_retours_for_one_message_at_once_answer_it_once(
    fresh_database: Callable[[], str], tmp_path: Path
) -> None:
    """Two different Du01s answer one message at the same moment: the message's row lock in
    the one-statement path lets the first answer it; the second waits, then sees it answered,
    writes nothing there and is stored by the transaction's path as a duplicate."""
    clock = FrozenClock(T0)
    rt = Runtime.create(make_settings(fresh_database(), tmp_path, webhooks=[]), clock)
    try:
        claimed = accepted_and_delivered(rt)
        retours = [retour_for(rt, claimed.id) for _ in range(2)]
        start = threading.Barrier(2)

        def post(retour: tuple[bytes, str]) -> int:
            start.wait()
            return handle_ggk_soap(rt, *retour).status_code

        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(post, retours)) == [200, 200]
        with rt.engine.connect() as connection:
            statuses = sorted(connection.execute(text("SELECT status FROM inbound_messages")).scalars().all())
            answered = connection.execute(
                text("SELECT state, answer_inbound_id IS NOT NULL FROM messages WHERE id = :id"),
                {"id": claimed.id},
            ).one()
            retour_events = connection.execute(
                text("SELECT count(*) FROM events WHERE type = 'retour.ontvangen'")
            ).scalar_one()
        assert statuses == ["duplicate", "matched"]
        assert tuple(answered) == ("answered", True)
        assert retour_events == 1
    finally:
        rt.close()


def test_a_failed_event_write_leaves_the_retour_unapplied_when_a_webhook_wants_it(
    fresh_database: Callable[[], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a webhook on ``retour.*`` the retour, its event and the webhook's delivery commit
    together: when writing the event fails, nothing of the retour is kept, and the GGk's
    re-send applies it then - the back-office is told once, not never."""
    clock = FrozenClock(T0)
    hook = {**WEBHOOK, "events": ["retour.*"]}
    rt = Runtime.create(make_settings(fresh_database(), tmp_path, webhooks=[hook]), clock)
    try:
        claimed = accepted_and_delivered(rt)
        retour = retour_for(rt, claimed.id)
        real_record_event = ggk_retours.record_event
        calls = []

        def failing_once(*args: Any, **kwargs: Any) -> Any:
            calls.append(args[2])
            if len(calls) == 1:
                raise RuntimeError("database gone")
            return real_record_event(*args, **kwargs)

        monkeypatch.setattr(ggk_retours, "record_event", failing_once)
        with pytest.raises(RuntimeError):
            handle_ggk_soap(rt, *retour)
        with rt.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM inbound_messages")).scalar_one() == 0
        assert handle_ggk_soap(rt, *retour).status_code == 200  # the GGk offers it again
        with rt.engine.connect() as connection:
            state = connection.execute(
                text("SELECT state FROM messages WHERE id = :id"), {"id": claimed.id}
            ).scalar_one()
            events = connection.execute(
                text("SELECT count(*) FROM events WHERE type = 'retour.ontvangen'")
            ).scalar_one()
            hooks = connection.execute(
                text("SELECT count(*) FROM messages WHERE party = 'webhook' AND payload IS NOT NULL")
            ).scalar_one()
        assert state == "answered"
        assert events == 1
        assert hooks >= 1
        assert calls == ["retour.ontvangen", "retour.ontvangen"]
    finally:
        rt.close()
