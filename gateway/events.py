"""Events for the back-office feed. Stable, dotted names; data without BSNs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from gateway.bulk_ids import assign_ids
from gateway.runtime import Runtime
from gateway.store.tables import Event
from gateway.webhooks import fan_out, subscribed

BESCHIKKING_ACCEPTED = "beschikking.geaccepteerd"
MESSAGE_DELIVERED = "bericht.afgeleverd"
MESSAGE_PARKED = "bericht.geparkeerd"
MESSAGE_EXPIRED = "bericht.verlopen"
RETOUR_RECEIVED = "retour.ontvangen"
MESSAGE_REJECTED = "bericht.afgewezen"
INBOUND_UNMATCHED = "inbound.niet_gekoppeld"
#: A chain deadline (in werkdagen) passed unmet, or was met late; once per deadline.
DEADLINE_OVERDUE = "deadline.verlopen"
#: CORV (justice chain): answers to our VTO / terugkoppeling, and what the chain sends us.
CORV_VTO_ACCEPTED = "corv.vto.geaccepteerd"
CORV_VTO_REJECTED = "corv.vto.afgewezen"
CORV_TERUGKOPPELING_ACCEPTED = "corv.terugkoppeling.geaccepteerd"
CORV_TERUGKOPPELING_REJECTED = "corv.terugkoppeling.afgewezen"
CORV_NOTIFICATIE_RECEIVED = "corv.notificatie.ontvangen"
CORV_NOTIFICATIE_UNKNOWN_ZAAK = "corv.notificatie.onbekende_zaak"
CORV_NOTIFICATIEJR_RECEIVED = "corv.notificatiejr.ontvangen"
CORV_ZORGMELDING_RECEIVED = "corv.zorgmelding.ontvangen"


def record_event(
    session: Session,
    runtime: Runtime,
    type_: str,
    *,
    message_id: int | None = None,
    beschikking_id: int | None = None,
    **data: Any,
) -> Event:
    """Store one event now, in the caller's transaction, and fan it out to webhooks.

    Why a Core INSERT and not ``session.add``: an ORM object per delivery and per retour,
    flushed through the unit of work, cost a fifth of the worker's CPU per message. The
    row is inserted at once (the id comes back from the INSERT, so :func:`fan_out` needs
    no flush of its own); whatever the session still has pending is flushed first, so
    rows the event refers to exist and events keep the order they were recorded in.
    The returned :class:`Event` carries the stored values and id but is not in the session.
    """
    event = new_event(runtime, type_, message_id=message_id, beschikking_id=beschikking_id, **data)
    session.flush()  # pending rows first: foreign keys, and the ids' order of recording
    result = session.connection().execute(
        _INSERT_EVENT,
        {
            "type": type_,
            "message_id": message_id,
            "beschikking_id": beschikking_id,
            "data": data,
            "created_at": event.created_at,
        },
    )
    inserted = result.inserted_primary_key
    assert inserted is not None  # a single-row INSERT always knows its key
    event.id = inserted[0]
    fan_out(session, runtime, event)
    return event


_EVENTS: Table = Event.__table__  # type: ignore[assignment]  # a Table, typed FromClause
_INSERT_EVENT = insert(_EVENTS)


def new_event(
    runtime: Runtime,
    type_: str,
    *,
    message_id: int | None = None,
    beschikking_id: int | None = None,
    **data: Any,
) -> Event:
    """The event :func:`record_event` would store, not yet added (for :func:`record_events`)."""
    return Event(
        type=type_,
        message_id=message_id,
        beschikking_id=beschikking_id,
        data=data,
        created_at=runtime.clock.now(),
    )


def wanted_by_webhooks(runtime: Runtime, event_type: str) -> bool:
    """Whether a webhook subscription wants ``event_type``: then recording it fans it out
    (and needs the event's id), so a one-statement write must leave it to ``record_event``."""
    return any(subscribed(subscription, event_type) for subscription in runtime.settings.webhooks)


def record_events(session: Session, runtime: Runtime, events: list[Event]) -> list[Event]:
    """Record many events at once, each as :func:`record_event` would.

    Why: a webhook row needs its event's id, so :func:`record_event` flushes per event
    when someone subscribed; here one flush gives all the ids (bulk intake).
    """
    assign_ids(session, events)
    session.add_all(events)
    if any(wanted_by_webhooks(runtime, e.type) for e in events):
        session.flush()
    for event in events:
        fan_out(session, runtime, event)
    return events


def record_new_events(
    session: Session,
    runtime: Runtime,
    type_: str,
    subjects: list[tuple[int | None, int | None, dict[str, Any], datetime]],
) -> None:
    """Record events of one type, each as :func:`record_events` would: ``subjects`` are
    (message_id, beschikking_id, data, created_at), recorded in this order.

    Why: when no webhook wants the type (the usual case), nothing needs the events' ids
    or objects, so they go in as one Core ``executemany`` - no ORM object, no flush; the
    rows they refer to must be in the database already. With a subscriber they take
    :func:`record_events`' way (their ids are the webhook deliveries' references).
    """
    if not subjects:
        return
    if wanted_by_webhooks(runtime, type_):
        events = [
            Event(type=type_, message_id=message_id, beschikking_id=beschikking_id, data=data, created_at=at)
            for message_id, beschikking_id, data, at in subjects
        ]
        record_events(session, runtime, events)
        return
    session.connection().execute(
        _INSERT_EVENT,
        [
            {
                "type": type_,
                "message_id": message_id,
                "beschikking_id": beschikking_id,
                "data": data,
                "created_at": at,
            }
            for message_id, beschikking_id, data, at in subjects
        ],
    )
