"""Deadlines in werkdagen on a frozen clock, on SQLite and PostgreSQL: an unanswered
heenbericht becomes overdue once, a met deadline never does, holidays move the due date."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import NL, FrozenClock
from gateway.deadlines import (
    DeadlineKind,
    OverdueScanner,
    mark_handled,
    meet_deadline,
    meet_retour_deadline,
    open_deadline,
    overdue_unhandled,
    report_received,
    restart_retour_deadline,
    scan_overdue,
)
from gateway.events import DEADLINE_OVERDUE
from gateway.outbox import enqueue_ggk_heenbericht
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import Event, InboundMessage, Message, MessageState
from gateway.store.tracking_tables import Deadline
from tests.conftest import make_settings

#: Wednesday 4 March 2026, 10:00 in Zoetermeer.
START = datetime(2026, 3, 4, 10, 0, tzinfo=NL)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def rt(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Runtime]:
    runtime = Runtime.create(make_settings(database_url, tmp_path), clock)
    yield runtime
    runtime.close()


def at_local(clock: FrozenClock, moment: datetime) -> None:
    """Move the frozen clock forward to a Dutch local moment."""
    delta = moment.astimezone(UTC) - clock.now()
    assert delta >= timedelta(0)
    clock.advance(delta)


def send_heenbericht(rt: Runtime, *, delivered: bool = True) -> int:
    """A heenbericht in the outbox with its retour deadline, as the outbox opens it, and
    (``delivered``) delivered at once, as the worker records it."""
    with transaction(rt.sessions) as session:
        message = enqueue_ggk_heenbericht(
            session,
            rt,
            functie="JW301",
            law="jeugdwet",
            receiver="99990001",
            render_payload=lambda ident: f"<bericht id='{ident}'/>".encode(),
            beschikking_id=None,
            bsn_hash=None,
        )
        open_deadline(session, rt, DeadlineKind.RETOUR, message_id=message.id, start=rt.clock.now())
        if delivered:
            deliver(session, rt, message.id)
        return message.id


def deliver(session: Session, rt: Runtime, message_id: int) -> None:
    message = session.get(Message, message_id)
    assert message is not None
    message.state, message.delivered_at = MessageState.DELIVERED, rt.clock.now()
    restart_retour_deadline(session, rt, message_id, rt.clock.now())


def inbound(rt: Runtime, message_type: str) -> int:
    with transaction(rt.sessions) as session:
        row = InboundMessage(
            party="ggk",
            operation="ggk_Di01",
            message_type=message_type,
            status="accepted",
            body=b"<envelope/>",
            received_at=rt.clock.now(),
        )
        session.add(row)
        session.flush()
        return row.id


def overdue_events(rt: Runtime) -> list[Event]:
    with rt.sessions() as session:
        return list(session.scalars(select(Event).where(Event.type == DEADLINE_OVERDUE).order_by(Event.id)))


def deadline(rt: Runtime, **subject: int) -> Deadline:
    with rt.sessions() as session:
        return session.scalars(select(Deadline).filter_by(**subject)).one()


def test_a_heenbericht_without_retour_is_overdue_after_3_werkdagen(rt: Runtime, clock: FrozenClock) -> None:
    message_id = send_heenbericht(rt)
    due = deadline(rt, message_id=message_id).due_at
    # Wednesday + 3 werkdagen = Monday 9 March, to the end of that Dutch day.
    assert due.astimezone(NL) == datetime(2026, 3, 9, 23, 59, 59, 999000, tzinfo=NL)

    at_local(clock, datetime(2026, 3, 9, 23, 0, tzinfo=NL))
    assert scan_overdue(rt) == 0
    assert overdue_events(rt) == []

    at_local(clock, datetime(2026, 3, 10, 0, 0, 1, tzinfo=NL))
    assert scan_overdue(rt) == 1
    [event] = overdue_events(rt)
    assert event.message_id == message_id
    assert event.data["kind"] == "retour"
    assert event.data["werkdagen"] == 3
    assert event.data["late"] is False
    row = deadline(rt, message_id=message_id)
    assert row.overdue_at == clock.now() and row.met_at is None


def test_a_met_deadline_never_fires(rt: Runtime, clock: FrozenClock) -> None:
    message_id = send_heenbericht(rt)
    clock.advance(timedelta(days=1))
    with transaction(rt.sessions) as session:
        met = meet_deadline(session, rt, DeadlineKind.RETOUR, message_id=message_id)
        assert met is not None and met.met_at == clock.now() and met.overdue_at is None
    clock.advance(timedelta(days=30))
    assert scan_overdue(rt) == 0
    assert overdue_events(rt) == []
    with transaction(rt.sessions) as session:  # a second retour meets nothing
        assert meet_deadline(session, rt, DeadlineKind.RETOUR, message_id=message_id) is None


def test_repeated_scans_do_not_duplicate(rt: Runtime, clock: FrozenClock) -> None:
    ids = [send_heenbericht(rt) for _ in range(5)]
    clock.advance(timedelta(days=10))
    assert scan_overdue(rt, batch_size=2) == 5  # three batches, all of them
    for _ in range(3):
        assert scan_overdue(rt) == 0
    clock.advance(timedelta(days=10))
    assert scan_overdue(rt) == 0
    assert sorted(e.message_id for e in overdue_events(rt) if e.message_id) == ids


def test_concurrent_scanners_report_each_deadline_once(rt: Runtime, clock: FrozenClock) -> None:
    count = 24
    for _ in range(count):
        send_heenbericht(rt)
    clock.advance(timedelta(days=10))
    results: list[int] = []
    errors: list[BaseException] = []

    def scan() -> None:
        try:
            results.append(scan_overdue(rt, batch_size=3))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=scan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sum(results) == count
    events = overdue_events(rt)
    assert len(events) == count
    assert len({e.data["deadline_id"] for e in events}) == count


def test_a_weekend_and_holidays_shift_the_due_date(rt: Runtime, clock: FrozenClock) -> None:
    # Thursday 24 December 2026: Christmas (Fri), the weekend, then Mon 28, Tue 29, Wed 30.
    at_local(clock, datetime(2026, 12, 24, 9, 0, tzinfo=NL))
    message_id = send_heenbericht(rt)
    assert deadline(rt, message_id=message_id).due_at.astimezone(NL).date() == date(2026, 12, 30)
    at_local(clock, datetime(2026, 12, 30, 12, 0, tzinfo=NL))  # 3 calendar werkdagen without the holiday
    assert scan_overdue(rt) == 0
    at_local(clock, datetime(2026, 12, 31, 0, 0, 1, tzinfo=NL))
    assert scan_overdue(rt) == 1


def test_a_verzoek_answer_is_due_in_5_werkdagen_over_ascension(rt: Runtime, clock: FrozenClock) -> None:
    at_local(clock, datetime(2026, 5, 13, 15, 0, tzinfo=NL))  # Wednesday before Hemelvaartsdag
    vot = inbound(rt, "JW315")
    with transaction(rt.sessions) as session:
        opened = open_deadline(session, rt, DeadlineKind.ANTWOORD_VERZOEK, inbound_id=vot, start=clock.now())
        again = open_deadline(session, rt, DeadlineKind.ANTWOORD_VERZOEK, inbound_id=vot, start=clock.now())
        assert again.id == opened.id  # idempotent
    assert deadline(rt, inbound_id=vot).due_at.astimezone(NL).date() == date(2026, 5, 21)


def test_a_late_retour_is_reported_once_when_it_arrives(rt: Runtime, clock: FrozenClock) -> None:
    message_id = send_heenbericht(rt)
    clock.advance(timedelta(days=8))  # past due, and the scanner has not run
    with transaction(rt.sessions) as session:
        met = meet_deadline(session, rt, DeadlineKind.RETOUR, message_id=message_id)
        assert met is not None and met.overdue_at == clock.now() and met.met_at == clock.now()
    assert scan_overdue(rt) == 0
    [event] = overdue_events(rt)
    assert event.data["late"] is True


def test_a_retour_after_the_scan_adds_no_event(rt: Runtime, clock: FrozenClock) -> None:
    message_id = send_heenbericht(rt)
    clock.advance(timedelta(days=8))
    assert scan_overdue(rt) == 1
    clock.advance(timedelta(hours=1))
    with transaction(rt.sessions) as session:
        met = meet_deadline(session, rt, DeadlineKind.RETOUR, message_id=message_id)
        assert met is not None and met.met_at == clock.now()
        assert met.overdue_at is not None and met.overdue_at < clock.now()
    assert len(overdue_events(rt)) == 1


@pytest.mark.parametrize("days", [1, 8])
def test_meeting_a_retour_deadline_without_loading_it_is_meet_deadline(
    rt: Runtime, clock: FrozenClock, days: int
) -> None:
    """The retour path's Core variant: same marks, the same once-only late event."""
    message_id = send_heenbericht(rt)
    clock.advance(timedelta(days=days))
    with transaction(rt.sessions) as session:
        assert meet_retour_deadline(session, rt, message_id) is True
    row = deadline(rt, message_id=message_id)
    assert row.met_at == clock.now()
    late = days > 3
    assert row.overdue_at == (clock.now() if late else None)
    assert [e.data["late"] for e in overdue_events(rt)] == ([True] if late else [])
    clock.advance(timedelta(days=30))
    assert scan_overdue(rt) == 0
    with transaction(rt.sessions) as session:  # a second retour meets nothing, records nothing
        assert meet_retour_deadline(session, rt, message_id) is False
    assert len(overdue_events(rt)) == (1 if late else 0)
    assert deadline(rt, message_id=message_id).met_at == clock.now() - timedelta(days=30)


def test_a_retour_deadline_met_after_the_scan_adds_no_event(rt: Runtime, clock: FrozenClock) -> None:
    message_id = send_heenbericht(rt)
    clock.advance(timedelta(days=8))
    assert scan_overdue(rt) == 1
    clock.advance(timedelta(hours=1))
    with transaction(rt.sessions) as session:
        assert meet_retour_deadline(session, rt, message_id) is True
    row = deadline(rt, message_id=message_id)
    assert row.met_at == clock.now() and row.overdue_at == clock.now() - timedelta(hours=1)
    assert len(overdue_events(rt)) == 1


def test_a_start_reported_more_than_5_werkdagen_late(rt: Runtime, clock: FrozenClock) -> None:
    on_time, late = inbound(rt, "JW305"), inbound(rt, "JW305")
    with transaction(rt.sessions) as session:
        # Reported Wednesday 4 March: a start on Monday 2 March is in time (due Mon 9 March) ...
        ok = report_received(
            session, rt, DeadlineKind.MELDING_START_STOP, inbound_id=on_time, event_date=date(2026, 3, 2)
        )
        assert ok.met_at is not None and ok.overdue_at is None
        # ... a start on Friday 20 February was due by Friday 27 February.
        missed = report_received(
            session, rt, DeadlineKind.MELDING_START_STOP, inbound_id=late, event_date=date(2026, 2, 20)
        )
        assert missed.overdue_at is not None
        assert missed.due_at.astimezone(NL).date() == date(2026, 2, 27)
    [event] = overdue_events(rt)
    assert event.data["inbound_id"] == late and event.data["late"] is True
    assert scan_overdue(rt) == 0


def test_an_operator_marks_an_overdue_deadline_handled(rt: Runtime, clock: FrozenClock) -> None:
    message_id = send_heenbericht(rt)
    clock.advance(timedelta(days=8))
    scan_overdue(rt)
    with rt.sessions() as session:
        [row] = overdue_unhandled(session)
    with transaction(rt.sessions) as session:
        handled = mark_handled(session, rt, row.id, handled_by="operator@0637")
        assert handled.handled_at == clock.now()
    with rt.sessions() as session:
        assert list(overdue_unhandled(session)) == []
    assert deadline(rt, message_id=message_id).handled_by == "operator@0637"


def test_a_deadline_needs_one_subject_and_a_known_kind(rt: Runtime) -> None:
    with transaction(rt.sessions) as session:
        with pytest.raises(ValueError, match="exactly one subject"):
            open_deadline(session, rt, DeadlineKind.RETOUR, start=rt.clock.now())
        with pytest.raises(ValueError, match="unknown deadline kind"):
            open_deadline(session, rt, "koffie", message_id=1, start=rt.clock.now())


def test_the_background_scanner_reports_and_stops(rt: Runtime, clock: FrozenClock) -> None:
    send_heenbericht(rt)
    clock.advance(timedelta(days=8))
    stop = threading.Event()
    thread = threading.Thread(target=OverdueScanner(rt, interval_s=0.05).run, args=(stop,))
    thread.start()
    try:
        deadline_s = time.monotonic() + 10
        while not overdue_events(rt) and time.monotonic() < deadline_s:
            time.sleep(0.05)
        time.sleep(0.2)  # a few more rounds: still one event
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(overdue_events(rt)) == 1


def test_the_retour_period_runs_from_delivery_not_from_queueing(rt: Runtime, clock: FrozenClock) -> None:
    """A GGk outage must not make aanbieders late: until delivery nothing is overdue, and the
    3 werkdagen start when the message is delivered."""
    message_id = send_heenbericht(rt, delivered=False)  # Wednesday 4 March, 10:00
    at_local(clock, datetime(2026, 3, 12, 10, 0, tzinfo=NL))  # six werkdagen later, still undelivered
    assert scan_overdue(rt) == 0
    with transaction(rt.sessions) as session:
        deliver(session, rt, message_id)  # Thursday 12 March
    with rt.sessions() as session:
        deadline = session.scalars(select(Deadline).where(Deadline.message_id == message_id)).one()
        assert deadline.started_at == clock.now()
        assert deadline.due_at.astimezone(NL).date() == date(2026, 3, 17)  # Thu + 3 werkdagen = Tue
    at_local(clock, datetime(2026, 3, 17, 12, 0, tzinfo=NL))
    assert scan_overdue(rt) == 0
    at_local(clock, datetime(2026, 3, 18, 0, 30, tzinfo=NL))
    assert scan_overdue(rt) == 1


def test_a_retour_before_the_delivery_record_keeps_the_deadline_met(rt: Runtime, clock: FrozenClock) -> None:
    """The retour may overtake the worker's record of the delivery: the restart leaves it met."""
    message_id = send_heenbericht(rt, delivered=False)
    with transaction(rt.sessions) as session:
        meet_deadline(session, rt, DeadlineKind.RETOUR, message_id=message_id)
        deliver(session, rt, message_id)
    with rt.sessions() as session:
        deadline = session.scalars(select(Deadline).where(Deadline.message_id == message_id)).one()
        assert deadline.met_at is not None
    at_local(clock, datetime(2026, 4, 1, 10, 0, tzinfo=NL))
    assert scan_overdue(rt) == 0
