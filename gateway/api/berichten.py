"""``/api/v1/berichten``: what happened to each message, for back-office and operators."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from connectors.istandaard.retourcodes import meaning
from gateway.api.auth import require_law, require_scope
from gateway.api.problems import PROBLEM_JSON, Problem
from gateway.api_keys import LAWS, SCOPE_BERICHTEN_READ, readable_laws
from gateway.runtime import Runtime
from gateway.store.tables import ApiClient, InboundMessage, Message, MessageState, MessageToewijzing
from gateway.store.tracking_tables import Deadline

router = APIRouter(prefix="/api/v1", tags=["berichten"])
_PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "problem+json"}
Reader = Annotated[ApiClient, Depends(require_scope(SCOPE_BERICHTEN_READ))]


class RetourCode(BaseModel):
    code: str
    betekenis: str


class Attempt(BaseModel):
    attempt: int
    started_at: datetime
    duration_ms: int
    outcome: str
    http_status: int | None
    code: str | None
    detail: str | None


class ToewijzingRetour(BaseModel):
    toewijzingnummer: int
    retour_codes: list[RetourCode]


class Answer(BaseModel):
    inbound_id: int
    type: str | None
    referentienummer: str | None
    received_at: datetime
    retour_codes: list[RetourCode]
    toewijzingen: list[ToewijzingRetour]
    href: str


class BerichtSummary(BaseModel):
    id: int
    type: str
    wet: str | None
    state: str
    route: str
    aanbieder: str
    referentienummer: str
    bericht_identificatie: str
    beschikking_id: int | None
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    answered_at: datetime | None
    retour_codes: list[RetourCode]
    href: str


class Termijn(BaseModel):
    """A deadline on this message: its retour within 3 werkdagen (OP090)."""

    soort: str
    werkdagen: int
    uiterlijk: datetime
    voldaan_op: datetime | None
    #: Set once, when the deadline passed unmet; the event ``deadline.verlopen`` fired then.
    te_laat_sinds: datetime | None
    afgehandeld_op: datetime | None


class BerichtDetail(BerichtSummary):
    termijnen: list[Termijn]
    te_laat: bool
    next_attempt_at: datetime | None
    last_error: str | None
    toewijzingnummers: list[int]
    attempt_log: list[Attempt]
    answer: Answer | None
    payload_href: str


class BerichtList(BaseModel):
    items: list[BerichtSummary]
    next_cursor: int | None


def _codes(codes: list[Any] | None) -> list[RetourCode]:
    return [RetourCode(code=c, betekenis=meaning(c)) for c in codes or []]


def _summary_fields(m: Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "type": m.message_type,
        "wet": m.law,
        "state": m.state,
        "route": m.route,
        "aanbieder": m.receiver,
        "referentienummer": m.referentienummer,
        "bericht_identificatie": m.bericht_identificatie,
        "beschikking_id": m.beschikking_id,
        "attempts": m.attempts,
        "created_at": m.created_at,
        "delivered_at": m.delivered_at,
        "answered_at": m.answered_at,
        "retour_codes": _codes(m.retour_codes),
        "href": f"/api/v1/berichten/{m.id}",
    }


def _aware(moment: datetime) -> datetime:
    """A filter time without a zone is read as UTC, as every time in this API is."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _get(session: Session, message_id: int, client: ApiClient) -> Message:
    message = session.get(
        Message,
        message_id,
        options=[selectinload(Message.attempt_log), selectinload(Message.toewijzing_links)],
    )
    if message is None:
        raise Problem(404, "not-found", "No such bericht", f"bericht {message_id} does not exist")
    if message.law in LAWS:
        require_law(client, message.law, "read")  # scopes per law (jeugdwet:read, wmo:read)
    return message


@router.get("/berichten/{message_id}", response_model=BerichtDetail, responses={404: _PROBLEM, 401: _PROBLEM})
def get_bericht(message_id: int, request: Request, client: Reader) -> BerichtDetail:
    """State, attempts, envelope ids and the retour of one outbound message."""
    runtime: Runtime = request.app.state.runtime
    with runtime.sessions() as session:
        m = _get(session, message_id, client)
        answer = None
        if m.answer_inbound_id is not None:
            inbound = session.get(InboundMessage, m.answer_inbound_id)
            if inbound is not None:
                answer = Answer(
                    inbound_id=inbound.id,
                    type=inbound.message_type,
                    referentienummer=inbound.referentienummer,
                    received_at=inbound.received_at,
                    retour_codes=_codes(inbound.retour_codes),
                    toewijzingen=[
                        ToewijzingRetour(
                            toewijzingnummer=link.toewijzing_id, retour_codes=_codes(link.retour_codes)
                        )
                        for link in m.toewijzing_links
                        if link.retour_codes
                    ],
                    href=f"/api/v1/berichten/{m.id}/retour",
                )
        deadlines = session.scalars(
            select(Deadline).where(Deadline.message_id == m.id).order_by(Deadline.id)
        ).all()
        return BerichtDetail(
            **_summary_fields(m),
            termijnen=[
                Termijn(
                    soort=d.kind,
                    werkdagen=d.werkdagen,
                    uiterlijk=d.due_at,
                    voldaan_op=d.met_at,
                    te_laat_sinds=d.overdue_at,
                    afgehandeld_op=d.handled_at,
                )
                for d in deadlines
            ],
            te_laat=any(d.overdue_at is not None and d.handled_at is None for d in deadlines),
            next_attempt_at=m.next_attempt_at if m.state == MessageState.QUEUED else None,
            last_error=m.last_error,
            toewijzingnummers=sorted(link.toewijzing_id for link in m.toewijzing_links),
            attempt_log=[
                Attempt(
                    attempt=a.attempt_no,
                    started_at=a.started_at,
                    duration_ms=a.duration_ms,
                    outcome=a.outcome,
                    http_status=a.http_status,
                    code=a.code,
                    detail=a.detail,
                )
                for a in m.attempt_log
            ],
            answer=answer,
            payload_href=f"/api/v1/berichten/{m.id}/payload",
        )


@router.get(
    "/berichten/{message_id}/payload", responses={200: {"content": {"application/xml": {}}}, 404: _PROBLEM}
)
def get_payload(message_id: int, request: Request, client: Reader) -> Response:
    """The payload XML exactly as it was sent (inside the envelope)."""
    runtime: Runtime = request.app.state.runtime
    with runtime.sessions() as session:
        return Response(_get(session, message_id, client).payload, media_type="application/xml")


@router.get(
    "/berichten/{message_id}/retour", responses={200: {"content": {"application/xml": {}}}, 404: _PROBLEM}
)
def get_retour(message_id: int, request: Request, client: Reader) -> Response:
    """The retour payload XML (e.g. the JW302) that answered this message."""
    runtime: Runtime = request.app.state.runtime
    with runtime.sessions() as session:
        m = _get(session, message_id, client)
        inbound = session.get(InboundMessage, m.answer_inbound_id) if m.answer_inbound_id else None
        if inbound is None or inbound.payload is None:
            raise Problem(404, "not-found", "No retour yet", f"bericht {message_id} has no retour payload")
        return Response(inbound.payload, media_type="application/xml")


@router.get("/berichten", response_model=BerichtList, responses={401: _PROBLEM, 422: _PROBLEM})
def list_berichten(
    request: Request,
    client: Reader,
    state: Annotated[str | None, Query(description=f"one of {', '.join(MessageState.ALL)}")] = None,
    type: Annotated[str | None, Query(description="message type, e.g. JW301")] = None,
    aanbieder: Annotated[str | None, Query(pattern=r"^[0-9A-Z]{3,8}$")] = None,
    beschikking_id: int | None = None,
    toewijzingnummer: int | None = None,
    created_from: datetime | None = None,
    created_until: datetime | None = None,
    cursor: Annotated[int | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> BerichtList:
    """Messages, newest first, filtered; page with ``cursor``."""
    if state is not None and state not in MessageState.ALL:
        raise Problem(
            422, "validation", "Unknown state", f"state must be one of {', '.join(MessageState.ALL)}"
        )
    runtime: Runtime = request.app.state.runtime
    query = select(Message).order_by(Message.id.desc()).limit(limit + 1)
    if state:
        query = query.where(Message.state == state)
    if type:
        query = query.where(Message.message_type == type.upper())
    if aanbieder:
        query = query.where(Message.receiver == aanbieder)
    if beschikking_id is not None:
        query = query.where(Message.beschikking_id == beschikking_id)
    if toewijzingnummer is not None:
        query = query.join(MessageToewijzing).where(MessageToewijzing.toewijzing_id == toewijzingnummer)
    if created_from is not None:
        query = query.where(Message.created_at >= _aware(created_from))
    if created_until is not None:
        query = query.where(Message.created_at < _aware(created_until))
    if cursor is not None:
        query = query.where(Message.id < cursor)
    readable = readable_laws(client)
    if len(readable) < len(LAWS):  # only the laws this client may read (and law-less messages)
        query = query.where(or_(Message.law.in_(readable), Message.law.not_in(LAWS), Message.law.is_(None)))
    with runtime.sessions() as session:
        rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return BerichtList(
        items=[BerichtSummary(**_summary_fields(m)) for m in rows],
        next_cursor=rows[-1].id if more and rows else None,
    )


__all__ = ["router"]
