"""Search the outbox (``messages``, every party: GGk, SVB, CAK, CORV, webhooks).

Keys: a BSN (looked up by its keyed hash - the BSN itself is never stored in a search
index nor shown in the result, see :mod:`gateway.bsn`), toewijzingnummer,
beschikkingnummer, referentienummer (``messages.referentienummer``), a CORV message's
ebMS MessageId (``corv_outbound``) or BerichtIdentificatie, message type, party, route,
state, a creation date range, and "overdue only". Results are newest first, paged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from gateway.bsn import keyed_hash, mask, passes_elfproef
from gateway.ops.errors import InvalidInput
from gateway.runtime import Runtime
from gateway.store.corv_tables import CorvOutbound
from gateway.store.tables import Beschikking, Message, MessageState, MessageToewijzing
from gateway.store.tracking_tables import Deadline

MAX_PAGE_SIZE = 200
_Select = TypeVar("_Select", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True)
class SearchQuery:
    """Every field optional; given fields are combined with AND."""

    #: 9 digits passing the 11-proef; searched by its keyed hash, never echoed back.
    bsn: str | None = None
    toewijzingnummer: int | None = None
    beschikkingnummer: str | None = None
    #: The envelope's referentienummer, an ebMS MessageId, or the payload's BerichtIdentificatie.
    referentienummer: str | None = None
    message_type: str | None = None
    party: str | None = None
    route: str | None = None
    state: str | None = None
    #: Created at or after / before (aware datetimes; naive ones are read as UTC).
    created_from: datetime | None = None
    created_until: datetime | None = None
    #: Only messages with an overdue deadline nobody marked handled.
    overdue: bool = False

    def as_filter(self) -> dict[str, Any]:
        """The query as JSON-able data without the BSN (stored with a replay job, shown to people)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in (None, False, ""):
                continue
            if f.name == "bsn":
                out["bsn"] = mask(str(value))
            elif isinstance(value, datetime):
                out[f.name] = value.isoformat()
            else:
                out[f.name] = value
        return out


@dataclass(frozen=True)
class MessageRow:
    id: int
    party: str
    route: str
    message_type: str
    law: str | None
    state: str
    receiver: str
    referentienummer: str
    bericht_identificatie: str
    beschikking_id: int | None
    beschikkingnummer: str | None
    #: ``*****0006``: the last four digits, enough to tell two clients apart.
    bsn_masked: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    answered_at: datetime | None
    retour_codes: list[str]
    replay_of_id: int | None
    last_error: str | None


@dataclass(frozen=True)
class SearchPage:
    items: list[MessageRow]
    total: int
    page: int
    page_size: int
    query: SearchQuery = field(default_factory=SearchQuery)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def validate_query(query: SearchQuery) -> None:
    """Raise :class:`InvalidInput` for a malformed BSN, an unknown state or an empty range."""
    if query.bsn is not None and not passes_elfproef(query.bsn.strip()):
        raise InvalidInput("bsn: 9 digits that pass the 11-proef")
    if query.state is not None and query.state not in MessageState.ALL:
        raise InvalidInput(f"state: one of {', '.join(MessageState.ALL)}")
    if (
        query.created_from is not None
        and query.created_until is not None
        and _aware(query.created_from) >= _aware(query.created_until)
    ):
        raise InvalidInput("created_from must be before created_until")


def filtered(statement: _Select, runtime: Runtime, query: SearchQuery) -> _Select:
    """Add the query's conditions to a SELECT over ``messages`` (shared with replay jobs)."""
    validate_query(query)
    if query.bsn:
        statement = statement.where(
            Message.bsn_hash == keyed_hash(query.bsn.strip(), runtime.settings.hash_key)
        )
    if query.toewijzingnummer is not None:
        statement = statement.where(
            exists().where(
                MessageToewijzing.message_id == Message.id,
                MessageToewijzing.toewijzing_id == query.toewijzingnummer,
            )
        )
    if query.beschikkingnummer:
        statement = statement.where(
            Message.beschikking_id.in_(
                select(Beschikking.id).where(Beschikking.beschikkingnummer == query.beschikkingnummer.strip())
            )
        )
    if query.referentienummer:
        ref = query.referentienummer.strip()
        statement = statement.where(
            or_(
                Message.referentienummer == ref,
                Message.bericht_identificatie == ref,
                Message.id.in_(select(CorvOutbound.message_id).where(CorvOutbound.ebms_message_id == ref)),
            )
        )
    if query.message_type:
        statement = statement.where(Message.message_type == query.message_type.strip().upper())
    if query.party:
        statement = statement.where(Message.party == query.party.strip().lower())
    if query.route:
        statement = statement.where(Message.route == query.route.strip())
    if query.state:
        statement = statement.where(Message.state == query.state)
    if query.created_from is not None:
        statement = statement.where(Message.created_at >= _aware(query.created_from))
    if query.created_until is not None:
        statement = statement.where(Message.created_at < _aware(query.created_until))
    if query.overdue:
        statement = statement.where(
            exists().where(
                Deadline.message_id == Message.id,
                Deadline.overdue_at.is_not(None),
                Deadline.handled_at.is_(None),
            )
        )
    return statement


def search_messages(
    session: Session, runtime: Runtime, query: SearchQuery, *, page: int = 1, page_size: int = 50
) -> SearchPage:
    """One page of matching messages, newest first, with the total count."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page >= 1 and 1 <= page_size <= {MAX_PAGE_SIZE}")
    total = session.scalar(filtered(select(func.count(Message.id)), runtime, query)) or 0
    rows = session.execute(
        filtered(
            select(Message, Beschikking.beschikkingnummer, Beschikking.bsn).outerjoin(
                Beschikking, Beschikking.id == Message.beschikking_id
            ),
            runtime,
            query,
        )
        .order_by(Message.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return SearchPage(
        items=[row_of(m, nummer, bsn) for m, nummer, bsn in rows],
        total=total,
        page=page,
        page_size=page_size,
        query=query,
    )


def row_of(m: Message, beschikkingnummer: str | None, bsn: str | None) -> MessageRow:
    return MessageRow(
        id=m.id,
        party=m.party,
        route=m.route,
        message_type=m.message_type,
        law=m.law,
        state=m.state,
        receiver=m.receiver,
        referentienummer=m.referentienummer,
        bericht_identificatie=m.bericht_identificatie,
        beschikking_id=m.beschikking_id,
        beschikkingnummer=beschikkingnummer,
        bsn_masked=mask(bsn) if bsn else None,
        attempts=m.attempts,
        created_at=m.created_at,
        updated_at=m.updated_at,
        delivered_at=m.delivered_at,
        answered_at=m.answered_at,
        retour_codes=[str(c) for c in m.retour_codes or []],
        replay_of_id=m.replay_of_id,
        last_error=m.last_error,
    )


def matching_ids(session: Session, runtime: Runtime, query: SearchQuery, *, limit: int) -> list[int]:
    """Ids of all matching messages, oldest first, at most ``limit`` (+1 to detect overflow)."""
    return list(
        session.scalars(filtered(select(Message.id), runtime, query).order_by(Message.id).limit(limit + 1))
    )
