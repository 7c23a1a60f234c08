"""``GET /api/v1/events``: the back-office's pull feed of what happened."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from gateway.api.auth import require_scope
from gateway.api_keys import SCOPE_EVENTS_READ
from gateway.runtime import Runtime
from gateway.store.tables import ApiClient, Event

router = APIRouter(prefix="/api/v1", tags=["events"])


class EventOut(BaseModel):
    id: int
    type: str
    created_at: datetime
    bericht_id: int | None
    beschikking_id: int | None
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventOut]
    #: Pass as ``after`` to get the next page; stays the same when nothing new happened.
    last_id: int | None


@router.get("/events", response_model=EventPage)
def list_events(
    request: Request,
    _client: Annotated[ApiClient, Depends(require_scope(SCOPE_EVENTS_READ))],
    after: Annotated[int, Query(ge=0, description="the last event id already seen")] = 0,
    type: Annotated[str | None, Query(description="only events of this type")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPage:
    """Events in the order they happened, after a given id (at-least-once: keep ``last_id``)."""
    runtime: Runtime = request.app.state.runtime
    query = select(Event).where(Event.id > after).order_by(Event.id).limit(limit)
    if type:
        query = query.where(Event.type == type)
    with runtime.sessions() as session:
        rows = list(session.scalars(query))
    return EventPage(
        items=[
            EventOut(
                id=e.id,
                type=e.type,
                created_at=e.created_at,
                bericht_id=e.message_id,
                beschikking_id=e.beschikking_id,
                data=e.data,
            )
            for e in rows
        ],
        last_id=rows[-1].id if rows else (after or None),
    )
