"""Alerts fire once per subject and state change, as events; overview sees the same picture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from gateway.clock import FrozenClock
from gateway.deadlines import DeadlineKind, open_deadline, scan_overdue
from gateway.ops.actions import mark_overdue_handled, unpark_message
from gateway.ops.alerts import (
    ALERT_RAISED,
    EVENTS_PER_KIND,
    acknowledge_alert,
    evaluate_alerts,
    failing_routes,
    list_alerts,
)
from gateway.ops.errors import Forbidden
from gateway.ops.operators import Role
from gateway.ops.overview import overview
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.security_tables import AuditEntry
from gateway.store.tables import DeliveryAttempt, Event, Message
from gateway.store.tracking_tables import Deadline
from tests.gateway.ops_helpers import cheap, insert_messages, three_operators

START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _frozen(runtime: Runtime) -> tuple[Runtime, FrozenClock]:
    clock = FrozenClock(START)
    base = cheap(runtime)
    return Runtime(base.settings, base.engine, base.sessions, clock), clock


def _events(runtime: Runtime) -> list[Event]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Event).where(Event.type == ALERT_RAISED).order_by(Event.id)))


def _attempt(runtime: Runtime, message_id: int, no: int, outcome: str, at: datetime) -> None:
    with transaction(runtime.sessions) as session:
        session.add(
            DeliveryAttempt(
                message_id=message_id,
                attempt_no=no,
                worker="w",
                started_at=at,
                finished_at=at + timedelta(seconds=1),
                duration_ms=1000,
                outcome=outcome,
                http_status=503 if outcome != "delivered" else 200,
                applied=True,
            )
        )


def test_a_parked_message_alerts_once_per_state_change(runtime: Runtime) -> None:
    runtime, _clock = _frozen(runtime)
    operator = three_operators(runtime)[Role.OPERATOR]
    [message_id] = insert_messages(runtime, 1, state="parked", attempts=2)
    assert evaluate_alerts(runtime) == 1
    assert evaluate_alerts(runtime) == 0  # the same state: nothing new
    [event] = _events(runtime)
    assert event.message_id == message_id and event.data["kind"] == "parked" and event.data["count"] == 2
    assert event.data["window_start"] is not None and event.data["window_end"] is not None

    with transaction(runtime.sessions) as session:
        unpark_message(session, runtime, operator, message_id, "the aanbieder fixed its endpoint")
    assert evaluate_alerts(runtime) == 0  # queued again: no alert
    with transaction(runtime.sessions) as session:  # ... and parked again after a third attempt
        session.execute(update(Message).where(Message.id == message_id).values(state="parked", attempts=3))
    assert evaluate_alerts(runtime) == 1
    assert evaluate_alerts(runtime) == 0
    with runtime.sessions() as session:
        alerts = list_alerts(session, kind="parked")
    assert [a.count for a in alerts] == [3, 2] and all(a.status == "open" for a in alerts)
    with transaction(runtime.sessions) as session:
        acknowledge_alert(session, runtime, operator, alerts[0].id)
    with runtime.sessions() as session:
        assert [a.id for a in list_alerts(session, status="open")] == [alerts[1].id]


def test_many_alerts_at_once_make_one_summary_event(runtime: Runtime) -> None:
    runtime, _clock = _frozen(runtime)
    insert_messages(runtime, EVENTS_PER_KIND + 5, state="parked")
    assert evaluate_alerts(runtime) == EVENTS_PER_KIND + 5
    [event] = _events(runtime)
    assert event.data["alerts"] == EVENTS_PER_KIND + 5 and event.data["routes"] == ["ggk:99990001"]


def test_an_overdue_retour_alerts_once(runtime: Runtime) -> None:
    runtime, clock = _frozen(runtime)
    [message_id] = insert_messages(runtime, 1, state="delivered")
    with transaction(runtime.sessions) as session:
        open_deadline(session, runtime, DeadlineKind.RETOUR, message_id=message_id, start=clock.now())
    assert evaluate_alerts(runtime) == 0
    clock.advance(timedelta(days=7))
    scan_overdue(runtime)
    assert evaluate_alerts(runtime) == 1
    assert evaluate_alerts(runtime) == 0
    [event] = _events(runtime)
    assert event.data["kind"] == "overdue" and event.message_id == message_id
    with runtime.sessions() as session:
        picture = overview(session, runtime)
        [deadline_id] = session.scalars(select(Deadline.id)).all()
    assert picture.overdue == 1 and picture.parties[0].routes[0].overdue == 1

    ops = three_operators(runtime)
    viewer, operator = ops[Role.VIEWER], ops[Role.OPERATOR]
    with transaction(runtime.sessions) as session, pytest.raises(Forbidden):
        mark_overdue_handled(session, runtime, viewer, deadline_id, "called the aanbieder")
    with transaction(runtime.sessions) as session:
        mark_overdue_handled(session, runtime, operator, deadline_id, "called the aanbieder")
    with runtime.sessions() as session:
        assert overview(session, runtime).overdue == 0
        handled = session.get(Deadline, deadline_id)
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "deadline.handled")).one()
    assert handled is not None and handled.handled_by == operator.name
    assert entry.target == f"deadline:{deadline_id}" and entry.reason == "called the aanbieder"


def test_failing_routes_find_the_last_success_also_before_the_lookback(runtime: Runtime) -> None:
    """The scan reads the last day's attempts; a route without a success in that day still
    gets its older last success (the alert's episode), and healthy routes stay out."""
    runtime, clock = _frozen(runtime)
    minutes = runtime.settings.ops.route_failing_minutes
    [old_route] = insert_messages(runtime, 1, state="queued", attempts=0, route="ggk:99990001")
    [recovered] = insert_messages(runtime, 1, state="queued", attempts=0, route="ggk:99990002")
    [healthy] = insert_messages(runtime, 1, state="queued", attempts=0, route="ggk:99990003")
    _attempt(runtime, old_route, 1, "delivered", START - timedelta(days=3))
    _attempt(runtime, old_route, 2, "retryable", START - timedelta(days=2))  # before the lookback
    _attempt(runtime, old_route, 3, "retryable", START)
    _attempt(runtime, recovered, 1, "retryable", START - timedelta(hours=2))
    _attempt(runtime, recovered, 2, "delivered", START - timedelta(hours=1))
    _attempt(runtime, healthy, 1, "delivered", START)
    clock.advance(timedelta(minutes=minutes + 1))
    with runtime.sessions() as session:
        found = failing_routes(session, runtime)
    assert list(found) == ["ggk:99990001"]
    assert found["ggk:99990001"].last_success == START - timedelta(days=3) + timedelta(seconds=1)
    assert (found["ggk:99990001"].since, found["ggk:99990001"].failures) == (START, 1)
    assert evaluate_alerts(runtime) == 1
    clock.advance(timedelta(days=2))  # the success long out of the lookback: the same episode
    _attempt(runtime, old_route, 4, "retryable", clock.now() - timedelta(hours=1))
    assert evaluate_alerts(runtime) == 0


def test_a_route_failing_for_n_minutes_alerts_once_per_episode(runtime: Runtime) -> None:
    runtime, clock = _frozen(runtime)
    minutes = runtime.settings.ops.route_failing_minutes
    [message_id] = insert_messages(runtime, 1, state="queued", attempts=0)
    _attempt(runtime, message_id, 1, "delivered", START - timedelta(hours=1))
    _attempt(runtime, message_id, 2, "retryable", START)
    clock.advance(timedelta(minutes=minutes - 1))
    _attempt(runtime, message_id, 3, "retryable", clock.now())
    assert evaluate_alerts(runtime) == 0  # failing, but not yet for N minutes
    clock.advance(timedelta(minutes=2))
    _attempt(runtime, message_id, 4, "unknown", clock.now())
    assert evaluate_alerts(runtime) == 1
    clock.advance(timedelta(minutes=10))
    _attempt(runtime, message_id, 5, "retryable", clock.now())
    assert evaluate_alerts(runtime) == 0  # the same episode
    [event] = _events(runtime)
    assert event.data["kind"] == "route_failing" and event.data["count"] == 3
    with runtime.sessions() as session:
        assert overview(session, runtime).failing_routes == ["ggk:99990001"]
    _attempt(runtime, message_id, 6, "delivered", clock.now())  # recovered ...
    clock.advance(timedelta(minutes=1))
    _attempt(runtime, message_id, 7, "retryable", clock.now())  # ... and failing again
    clock.advance(timedelta(minutes=minutes + 1))
    assert evaluate_alerts(runtime) == 1  # a new episode: a new alert
    with runtime.sessions() as session:
        assert len(list_alerts(session, kind="route_failing")) == 2
