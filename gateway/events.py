"""Events for the back-office feed. Stable, dotted names; data without BSNs."""

from __future__ import annotations

from typing import Any

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
    event = new_event(runtime, type_, message_id=message_id, beschikking_id=beschikking_id, **data)
    session.add(event)
    fan_out(session, runtime, event)
    return event


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


def record_events(session: Session, runtime: Runtime, events: list[Event]) -> list[Event]:
    """Record many events at once, each as :func:`record_event` would.

    Why: a webhook row needs its event's id, so :func:`record_event` flushes per event
    when someone subscribed; here one flush gives all the ids (bulk intake).
    """
    assign_ids(session, events)
    session.add_all(events)
    if any(subscribed(s, e.type) for s in runtime.settings.webhooks for e in events):
        session.flush()
    for event in events:
        fan_out(session, runtime, event)
    return events
