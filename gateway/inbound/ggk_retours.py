"""Processing what arrives from the GGk: Du01 retours and asynchronous Fo01 errors.

Everything received is stored - matched, unmatched or invalid - before we answer, so
an operator can always see it. A retour is matched to our message by the envelope's
crossRefnummer (our Di01's referentienummer). A repeated Du01 (same referentienummer)
is acknowledged again but processed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Row, Select, Table, bindparam, exists, func, insert, or_, select, update
from sqlalchemy import text as sa_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from connectors.ggk import (
    EnvelopeError,
    Fo01,
    Retourbericht,
    Systeem,
    new_referentienummer,
    render_bv03,
    render_fo03_fault,
)
from connectors.istandaard import identify, parse_retour, parse_toewijzing_retour
from connectors.istandaard.errors import PayloadRejected
from connectors.istandaard.retourcodes import ACCEPTED, NOT_ASSESSED
from gateway import eigen_bijdrage, pgb, tracing
from gateway.deadlines import DeadlineKind, meet_deadline, meet_retour_deadline
from gateway.events import (
    INBOUND_UNMATCHED,
    MESSAGE_REJECTED,
    RETOUR_RECEIVED,
    record_event,
    wanted_by_webhooks,
)
from gateway.outbox import PARTY_GGK, ggk_route
from gateway.runtime import Runtime
from gateway.store.database import transaction, write_transaction
from gateway.store.tables import Event, InboundMessage, Message, MessageState, MessageToewijzing
from gateway.store.tracking_tables import Deadline

log = structlog.get_logger("gateway.inbound")

#: Codes that do not mean "refused": accepted, and not assessed (because of another error).
_NON_ERROR_CODES = frozenset({ACCEPTED, NOT_ASSESSED})
#: Applying a retour never reads what we sent: not loaded (nor decrypted) with the message
#: (the CAK's hook), loaded on access should a later step need it.
_NOT_NEEDED_FOR_A_RETOUR = (defer(Message.payload), defer(Message.wire_body))


@dataclass(frozen=True, slots=True)
class SoapReply:
    status_code: int
    body: bytes


def bv03(runtime: Runtime, to: Systeem, cross_ref: str) -> SoapReply:
    return _bv03(runtime, to, cross_ref)


def _gemeente(runtime: Runtime) -> Systeem:
    return Systeem(organisatie=runtime.settings.gemeentecode, applicatie=runtime.settings.applicatie)


def _bv03(runtime: Runtime, to: Systeem, cross_ref: str) -> SoapReply:
    return SoapReply(200, render_bv03(_gemeente(runtime), to, new_referentienummer(), cross_ref))


def store_invalid(runtime: Runtime, body: bytes, exc: EnvelopeError) -> None:
    with transaction(runtime.sessions) as session:
        session.add(
            InboundMessage(
                party=PARTY_GGK,
                operation="unknown",
                status="invalid",
                error=str(exc),
                body=body,
                received_at=runtime.clock.now(),
            )
        )


def handle_du01(runtime: Runtime, body: bytes, envelope: Retourbericht) -> SoapReply:
    """Store a Du01 and, when it answers one of our messages, apply its retour.

    The inbound row is inserted once, with its final status (matched, unmatched, invalid
    or duplicate), after the message it answers was looked up and locked: one INSERT
    instead of an INSERT and an UPDATE per retour. All in one transaction, so it is still
    stored before we answer. A repeated Du01 is not looked up first: its INSERT fails on
    the unique referentienummer before anything is applied, the transaction rolls back and
    it is acknowledged as a duplicate - one query less for every Du01 that is new.

    Why Core statements (the message's few columns read, the inbound row inserted) and no
    ORM objects: loading the message and flushing the inbound row through the unit of
    work were the largest part of the gateway's CPU per retour. Same rows, same values,
    same order of statements that matter (the lock before the insert), same transaction.
    """
    now = runtime.clock.now()
    try:
        answered, read = _answered_at_once(runtime, body, envelope, now)
        if answered:
            return _bv03(runtime, envelope.zender, envelope.referentienummer)
        # The write lock before the message is read (SQLite ignores FOR UPDATE), or two
        # different retours for one message could both see it unanswered.
        with write_transaction(runtime.sessions, runtime.engine) as session:
            connection = session.connection()
            inbound = _inbound_row(body, envelope, now, "unmatched")
            message = connection.execute(_LOCK_ANSWERED, {"cross_ref": envelope.cross_refnummer}).first()
            if message is None:
                inbound_id = _insert_inbound(connection, inbound)
                record_event(
                    session,
                    runtime,
                    INBOUND_UNMATCHED,
                    inbound_id=inbound_id,
                    type=envelope.functie,
                    cross_refnummer=envelope.cross_refnummer,
                )
                log.warning(
                    "inbound_unmatched",
                    inbound_id=inbound_id,
                    functie=envelope.functie,
                    cross_refnummer=envelope.cross_refnummer,
                )
                return _bv03(runtime, envelope.zender, envelope.referentienummer)
            inbound["matched_message_id"] = message.id
            tracing.annotate({"gateway.message_id": message.id})  # the correlation id
            try:
                codes, product_codes = read or _read_retour(envelope.functie, envelope.payload)
            except PayloadRejected as exc:
                inbound["status"] = "invalid"
                inbound["error"] = f"{exc.code}: {exc.reason}"
                inbound_id = _insert_inbound(connection, inbound)
                log.warning(
                    "inbound_payload_invalid", inbound_id=inbound_id, message_id=message.id, code=exc.code
                )
                return SoapReply(
                    500,
                    render_fo03_fault(
                        exc.code,
                        "client",
                        exc.reason,
                        zender=_gemeente(runtime),
                        ontvanger=envelope.zender,
                        cross_ref=envelope.referentienummer,
                    ),
                )
            inbound["retour_codes"] = codes
            if message.state in MessageState.AWAITING_ANSWER:
                inbound["status"] = "matched"
                _apply_retour(session, runtime, message, inbound, codes, product_codes)
            else:
                inbound["status"] = "duplicate"
                inbound["error"] = f"message {message.id} was already {message.state}"
                inbound_id = _insert_inbound(connection, inbound)
                log.warning(
                    "retour_for_finished_message",
                    message_id=message.id,
                    state=message.state,
                    inbound_id=inbound_id,
                )
    except IntegrityError:
        # A repeated Du01 (now or at the same moment): the first one stored it; nothing applied.
        # Any other integrity error must not be acknowledged as a duplicate (the GGk would not
        # send it again and the retour would be lost): it is raised, answered 500, and retried.
        with runtime.sessions() as session:
            if not _seen_before(session, envelope.referentienummer):
                raise
        log.info("inbound_duplicate", referentienummer=envelope.referentienummer)
    return _bv03(runtime, envelope.zender, envelope.referentienummer)


def _inbound_row(body: bytes, envelope: Retourbericht, now: datetime, status: str) -> dict[str, Any]:
    """The inbound row of a Du01 (its first columns, in the order both ways of storing it use)."""
    return {
        "party": PARTY_GGK,
        "operation": "ggk_Du01",
        "message_type": envelope.functie,
        "referentienummer": envelope.referentienummer,
        "cross_refnummer": envelope.cross_refnummer,
        "sender": envelope.zender.organisatie,
        "receiver": envelope.ontvanger.organisatie,
        "status": status,
        "body": body,
        "payload": envelope.payload,
        "received_at": now,
    }


#: What :func:`_read_retour` gives: all codes, and per toewijzing its product codes.
_RetourCodes = tuple[list[str], dict[int, tuple[str, ...]]]


def _answered_at_once(
    runtime: Runtime, body: bytes, envelope: Retourbericht, now: datetime
) -> tuple[bool, _RetourCodes | None]:
    """PostgreSQL: the usual retour - it answers a message awaiting one - stored and applied in one statement.

    :data:`_ANSWER_AT_ONCE` locks the message, stores the inbound row, answers the message,
    gives its toewijzing links ``[]``, meets the retour deadline and records the event,
    in autocommit: one round trip instead of BEGIN, the lock, the store-and-answer and
    COMMIT. It writes only when the message exists, awaits an answer, is not the CAK's (its
    hook needs the ORM objects) and its retour deadline is not past due unreported (that one
    is met with its late event first); and only for a readable retour without product
    codes, with no webhook wanting its event. Returns whether it wrote, and the retour's
    codes when it read them (so the transaction's path does not parse the payload again);
    when it did not write, nothing was written and the transaction in :func:`handle_du01`
    handles the retour as before (the unmatched, duplicate, invalid, late, CAK and webhook
    cases). A repeated Du01 fails on the unique referentienummer as there.
    """
    autocommit = runtime.autocommit_engine
    if autocommit is None or wanted_by_webhooks(runtime, RETOUR_RECEIVED):
        # A webhook's delivery is written with the event: both must commit with the retour,
        # or a failure between two commits would leave the retour applied and the
        # back-office never told (the GGk's re-send is then a duplicate). One transaction.
        return False, None
    try:
        read = codes, product_codes = _read_retour(envelope.functie, envelope.payload)
    except Exception:
        # PayloadRejected: stored as invalid with its Fo03 answer there; anything else: as
        # before this path existed (an unmatched retour is stored without being read).
        return False, None
    if any(product_codes.values()):
        return False, read
    refused = [c for c in codes if c not in _NON_ERROR_CODES]
    state = MessageState.REJECTED if refused else MessageState.ANSWERED
    inbound = {**_inbound_row(body, envelope, now, "matched"), "retour_codes": codes}
    with autocommit.connect() as connection:
        if not _one_statement(connection):
            return False, read
        # The moments from the clock in the order the transaction's path takes them.
        answered_at = runtime.clock.now()
        params: dict[str, Any] = {f"i_{name}": value for name, value in inbound.items()}
        params.update(
            cross_ref=envelope.cross_refnummer,
            cak_route=ggk_route(eigen_bijdrage.CAK),
            m_state=state,
            m_answered_at=answered_at,
            m_delivered_at=answered_at,
            m_retour_codes=codes,
            m_lease_owner=None,
            m_lease_expires_at=None,
            m_updated_at=answered_at,
            codes=[],
            met_kind=DeadlineKind.RETOUR.value,
            met_now=runtime.clock.now(),
        )
        params.update(
            e_type=RETOUR_RECEIVED,
            e_data=_retour_event_data(inbound, codes, refused),
            e_created_at=runtime.clock.now(),
        )
        written = connection.execute(_ANSWER_AT_ONCE, params).first()
    if written is None:
        return False, read
    tracing.annotate({"gateway.message_id": written.message_id})  # the correlation id
    log.info(
        "retour_received", message_id=written.message_id, inbound_id=written.id, codes=codes, state=state
    )
    return True, read


def _insert_inbound(connection: Connection, values: dict[str, Any]) -> int:
    """INSERT one inbound row with exactly the columns given (as ``session.add`` would); its id.

    Columns not given are left out, not written as None: an unset JSON column stays SQL
    NULL, as it did when the row was an ORM object.
    """
    inserted = connection.execute(_INSERT_INBOUND, values).inserted_primary_key
    assert inserted is not None  # a single-row INSERT always knows its key
    return int(inserted[0])


def _read_retour(functie: str, payload: bytes) -> _RetourCodes:
    """The codes of any retour (302, 320, the SVB's and CAK's); for a 302 also per toewijzing."""
    reader = pgb.RETOUR_READERS.get(functie.upper()) or eigen_bijdrage.RETOUR_READERS.get(functie.upper())
    if reader is not None:
        return reader(payload)
    _law, number = identify(payload)
    if number == 302:
        retour = parse_toewijzing_retour(payload)
        return list(retour.all_codes()), retour.product_codes
    return list(parse_retour(payload).all_codes()), {}


def _seen_before(session: Session, referentienummer: str) -> bool:
    return (
        session.scalar(select(InboundMessage.id).where(InboundMessage.referentienummer == referentienummer))
        is not None
    )


def _apply_retour(
    session: Session,
    runtime: Runtime,
    message: _LockedMessage,
    inbound: dict[str, Any],
    codes: list[str],
    product_codes: dict[int, tuple[str, ...]],
) -> None:
    """Store the retour (``inbound``: its row) and answer ``message`` (locked, awaiting an answer).

    On PostgreSQL the inbound row's INSERT, the message's UPDATE and the UPDATE of its
    toewijzing links without codes are one statement (data-modifying CTEs): two round
    trips less per retour. SQLite runs the same three statements one by one.
    """
    refused = [c for c in codes if c not in _NON_ERROR_CODES]
    now = runtime.clock.now()
    state = MessageState.REJECTED if refused else MessageState.ANSWERED
    answer = {
        "answered_message_id": message.id,
        "state": state,
        "answered_at": now,
        "delivered_at": message.delivered_at or now,
        "retour_codes": codes,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now,
    }
    coded = {toewijzing_id: list(codes) for toewijzing_id, codes in product_codes.items() if codes}
    connection = session.connection()
    evented = False
    if _one_statement(connection) and tuple(inbound) == _STORED_RETOUR_COLUMNS:
        params = {f"i_{name}": value for name, value in inbound.items()}
        params.update({f"m_{name}": value for name, value in answer.items()})
        params.update(link_message_id=message.id, coded=list(coded), codes=[])
        # The retour deadline is met (and the event recorded) in the same statement, as
        # meet_retour_deadline and record_event would: the moments from the clock in their order.
        params.update(
            met_kind=DeadlineKind.RETOUR.value, met_message_id=message.id, met_now=runtime.clock.now()
        )
        evented = not wanted_by_webhooks(runtime, RETOUR_RECEIVED)
        if evented:
            params.update(
                e_type=RETOUR_RECEIVED,
                e_message_id=message.id,
                e_beschikking_id=message.beschikking_id,
                e_data=_retour_event_data(inbound, codes, refused),
                e_created_at=runtime.clock.now(),
            )
        written = connection.execute(_STORE_AND_ANSWER[evented], params).one()
        inbound_id = int(written.id)
        if written.late:
            # Past due and not yet reported: the statement left the deadline (and the event)
            # alone; met here, with its one late event first, then the retour's event below.
            meet_retour_deadline(session, runtime, message.id)
            evented = False
        _store_coded_links(connection, message.id, coded)
    else:
        inbound_id = _insert_inbound(connection, inbound)
        meet_retour_deadline(session, runtime, message.id)
        connection.execute(_UPDATE_MESSAGE, {**answer, "answer_inbound_id": inbound_id})
        _store_product_codes(session, message.id, product_codes)
    if not evented:
        record_event(
            session,
            runtime,
            RETOUR_RECEIVED,
            message_id=message.id,
            beschikking_id=message.beschikking_id,
            **_retour_event_data(inbound, codes, refused),
        )
    log.info("retour_received", message_id=message.id, inbound_id=inbound_id, codes=codes, state=state)
    if message.route == ggk_route(eigen_bijdrage.CAK):
        # The CAK's hook works on the ORM objects: loaded (after the writes above) only here.
        answered = session.get(Message, message.id, options=_NOT_NEEDED_FOR_A_RETOUR)
        stored = session.get(InboundMessage, inbound_id, options=(defer(InboundMessage.body),))
        assert answered is not None and stored is not None  # both written in this transaction
        eigen_bijdrage.on_retour(session, runtime, answered, stored, codes)  # herstel task / CAK deadline


#: Applying a retour writes with Core statements on the session's connection: the ORM
#: unit of work (a flush of the message, loading and flushing its toewijzing links) cost
#: a large part of the CPU per retour. Same rows, same values, same transaction.
_MESSAGES: Table = Message.__table__  # type: ignore[assignment]  # a Table, typed FromClause
_LINKS: Table = MessageToewijzing.__table__  # type: ignore[assignment]
_UPDATE_MESSAGE = update(_MESSAGES).where(_MESSAGES.c.id == bindparam("answered_message_id"))
_UPDATE_LINK = (
    update(_LINKS)
    .where(
        _LINKS.c.message_id == bindparam("link_message_id"), _LINKS.c.toewijzing_id == bindparam("link_id")
    )
    .values(retour_codes=bindparam("codes", type_=_LINKS.c.retour_codes.type))
)

_INBOUND: Table = InboundMessage.__table__  # type: ignore[assignment]
_INSERT_INBOUND = insert(_INBOUND)
#: The message a retour answers, locked: only the columns applying the retour reads.
_LOCK_ANSWERED = (
    select(
        _MESSAGES.c.id,
        _MESSAGES.c.state,
        _MESSAGES.c.delivered_at,
        _MESSAGES.c.beschikking_id,
        _MESSAGES.c.route,
    )
    .where(_MESSAGES.c.referentienummer == bindparam("cross_ref"))
    .with_for_update()
)

#: A row of ``_LOCK_ANSWERED``: id, state, delivered_at, beschikking_id, route.
_LockedMessage = Row[Any, Any, Any, Any, Any]

_UNCODED_LINKS = (
    update(_LINKS)
    .where(
        _LINKS.c.message_id == bindparam("link_message_id"),
        _LINKS.c.toewijzing_id.not_in(bindparam("coded", expanding=True)),
    )
    .values(retour_codes=bindparam("codes", type_=_LINKS.c.retour_codes.type))
)


def _store_product_codes(
    session: Session, message_id: int, product_codes: dict[int, tuple[str, ...]]
) -> None:
    """Each toewijzing link of the message gets its codes from the retour; the others ``[]``."""
    coded = {toewijzing_id: list(codes) for toewijzing_id, codes in product_codes.items() if codes}
    connection = session.connection()
    connection.execute(_UNCODED_LINKS, {"link_message_id": message_id, "coded": list(coded), "codes": []})
    _store_coded_links(connection, message_id, coded)


def _store_coded_links(connection: Connection, message_id: int, coded: dict[int, list[str]]) -> None:
    """The links the retour gave codes (the others were set ``[]`` before)."""
    if coded:
        connection.execute(
            _UPDATE_LINK,
            [
                {"link_message_id": message_id, "link_id": toewijzing_id, "codes": codes}
                for toewijzing_id, codes in coded.items()
            ],
        )


#: The columns of a matched retour's inbound row, in the order ``handle_du01`` gives them.
_STORED_RETOUR_COLUMNS = (
    "party",
    "operation",
    "message_type",
    "referentienummer",
    "cross_refnummer",
    "sender",
    "receiver",
    "status",
    "body",
    "payload",
    "received_at",
    "matched_message_id",
    "retour_codes",
)
_ANSWER_COLUMNS = (
    "state",
    "answered_at",
    "delivered_at",
    "retour_codes",
    "lease_owner",
    "lease_expires_at",
    "updated_at",
)


def _one_statement(connection: Connection) -> bool:
    """Whether a retour is stored as :data:`_STORE_AND_ANSWER` (PostgreSQL) or statement by statement.

    A function of its own so a test can run the statement-by-statement way on PostgreSQL
    too and compare what both leave in the database.
    """
    return connection.dialect.name == "postgresql"


def _retour_event_data(inbound: dict[str, Any], codes: list[str], refused: list[str]) -> dict[str, Any]:
    """The ``retour.ontvangen`` event's data (one definition for both ways it is stored)."""
    return {"type": inbound["message_type"], "retour_codes": codes, "refused": bool(refused)}


def _store_and_answer(event: bool) -> Select[Any]:
    """PostgreSQL: INSERT the inbound row, UPDATE the message and its uncoded links, meet the
    retour deadline and (``event``) record the event; the row's id and whether the deadline is late.

    ``WITH stored AS (INSERT ... RETURNING id), answered AS (UPDATE messages SET ...,
    answer_inbound_id = (SELECT id FROM stored) ...), links AS (UPDATE ...), met AS (UPDATE
    deadlines ...), evented AS (INSERT INTO events ...) SELECT id, late FROM stored``: the same
    statements as on SQLite, in one round trip. A repeated Du01 still fails on its unique
    referentienummer, and the whole statement with it.

    The deadline is met here only when it is in time (or already reported overdue): a
    deadline past due and not yet reported is left open and ``late`` comes back true, so
    :func:`gateway.deadlines.meet_retour_deadline` meets it and records its one late event
    before the retour's event, as when the statements ran one by one (no event is inserted
    here then). ``met_now`` is the moment it is met, as ``meet_retour_deadline`` takes it.
    """
    stored = (
        insert(_INBOUND)
        .values(
            {name: bindparam(f"i_{name}", type_=_INBOUND.c[name].type) for name in _STORED_RETOUR_COLUMNS}
        )
        .returning(_INBOUND.c.id)
        .cte("stored")
    )
    answered = (
        update(_MESSAGES)
        .where(_MESSAGES.c.id == bindparam("m_answered_message_id"))
        .values(
            {
                **{name: bindparam(f"m_{name}", type_=_MESSAGES.c[name].type) for name in _ANSWER_COLUMNS},
                "answer_inbound_id": select(stored.c.id).scalar_subquery(),
            }
        )
        .cte("answered")
    )
    met_now = bindparam("met_now", type_=_DEADLINES.c.met_at.type)
    open_deadline = (
        (_DEADLINES.c.kind == bindparam("met_kind"))
        & (_DEADLINES.c.message_id == bindparam("met_message_id"))
        & _DEADLINES.c.met_at.is_(None)
    )
    late = exists().where(open_deadline, _DEADLINES.c.overdue_at.is_(None), _DEADLINES.c.due_at < met_now)
    met = (
        update(_DEADLINES)
        .where(open_deadline, or_(_DEADLINES.c.overdue_at.is_not(None), _DEADLINES.c.due_at >= met_now))
        .values(met_at=met_now)
        .cte("met")
    )
    ctes = [answered, _UNCODED_LINKS.cte("links"), met]
    if event:
        values = [bindparam(f"e_{name}", type_=_EVENTS.c[name].type) for name in _EVENT_COLUMNS]
        ctes.append(
            insert(_EVENTS).from_select(list(_EVENT_COLUMNS), select(*values).where(~late)).cte("evented")
        )
    return select(stored.c.id, late.label("late")).add_cte(*ctes)


_DEADLINES: Table = Deadline.__table__  # type: ignore[assignment]
_EVENTS: Table = Event.__table__  # type: ignore[assignment]
#: The columns of the event row, as ``record_event`` inserts them.
_EVENT_COLUMNS = ("type", "message_id", "beschikking_id", "data", "created_at")
#: With the event in the statement (no webhook wants it: nothing needs its id) or without.
_STORE_AND_ANSWER = {event: _store_and_answer(event) for event in (False, True)}


#: The states awaiting an answer, as a literal condition (fixed values: no parameter to
#: expand per execution, the same SQL text every time).
_AWAITING_AN_ANSWER = sa_text(
    "messages.state IN (" + ", ".join(f"'{state}'" for state in MessageState.AWAITING_ANSWER) + ")"
)


def _answer_at_once() -> Select[Any]:
    """PostgreSQL: :func:`_store_and_answer` with the message's lock and checks folded in.

    See :func:`_answered_at_once` for when it is used.

    ``WITH locked AS (SELECT id, beschikking_id FROM messages WHERE referentienummer =
    :cross_ref AND state IN (awaiting an answer) AND route <> :cak_route AND NOT <its retour
    deadline past due unreported> FOR UPDATE), stored AS (INSERT INTO inbound_messages ...
    SELECT ... FROM locked RETURNING id, matched_message_id), answered AS (UPDATE messages
    ...), links AS (...), met AS (...), evented AS (...) SELECT stored.id, ...``: every write
    selects from ``stored``, which has a row only when ``locked`` has one, so the statement
    writes all of it or nothing. ``FOR UPDATE`` re-checks the conditions on the newest
    version of a row another retour changed meanwhile (read committed), so of two retours
    for one message only the first answers it here; the other writes nothing and takes
    the transaction's path (a duplicate).
    """
    late = exists().where(
        _DEADLINES.c.kind == bindparam("met_kind"),
        _DEADLINES.c.message_id == _MESSAGES.c.id,
        _DEADLINES.c.met_at.is_(None),
        _DEADLINES.c.overdue_at.is_(None),
        _DEADLINES.c.due_at < bindparam("met_now", type_=_DEADLINES.c.met_at.type),
    )
    locked = (
        select(_MESSAGES.c.id, _MESSAGES.c.beschikking_id)
        .where(
            _MESSAGES.c.referentienummer == bindparam("cross_ref"),
            _AWAITING_AN_ANSWER,
            _MESSAGES.c.route != bindparam("cak_route"),
            ~late,
        )
        .with_for_update(of=_MESSAGES)
        .cte("locked")
    )
    inbound_columns = [name for name in _STORED_RETOUR_COLUMNS if name != "matched_message_id"]
    stored = (
        insert(_INBOUND)
        .from_select(
            [*inbound_columns, "matched_message_id"],
            select(
                *(bindparam(f"i_{name}", type_=_INBOUND.c[name].type) for name in inbound_columns),
                locked.c.id,
            ),
        )
        .returning(_INBOUND.c.id, _INBOUND.c.matched_message_id)
        .cte("stored")
    )
    # The one answered message, as an InitPlan value: its rows are found through their
    # indexes on message id whatever the planner's statistics say (an ``IN (SELECT ...)``
    # semi-join may scan instead). ``stored`` has at most one row: the referentienummer is unique.
    answered_id = select(stored.c.matched_message_id).scalar_subquery()
    answer: dict[str, Any] = {
        name: bindparam(f"m_{name}", type_=_MESSAGES.c[name].type) for name in _ANSWER_COLUMNS
    }
    # As ``message.delivered_at or now``: the delivery moment kept when the worker wrote it.
    answer["delivered_at"] = func.coalesce(_MESSAGES.c.delivered_at, answer["delivered_at"])
    answered = (
        update(_MESSAGES)
        .where(_MESSAGES.c.id == answered_id)
        .values({**answer, "answer_inbound_id": select(stored.c.id).scalar_subquery()})
        .cte("answered")
    )
    links = (
        update(_LINKS)
        .where(_LINKS.c.message_id == answered_id)
        .values(retour_codes=bindparam("codes", type_=_LINKS.c.retour_codes.type))
        .cte("links")
    )
    met_now = bindparam("met_now", type_=_DEADLINES.c.met_at.type)
    met = (
        update(_DEADLINES)
        .where(
            _DEADLINES.c.kind == bindparam("met_kind"),
            _DEADLINES.c.message_id == answered_id,
            _DEADLINES.c.met_at.is_(None),
        )
        .values(met_at=met_now)
        .cte("met")
    )
    evented = (
        insert(_EVENTS)
        .from_select(
            list(_EVENT_COLUMNS),
            select(
                bindparam("e_type", type_=_EVENTS.c.type.type),
                stored.c.matched_message_id,
                locked.c.beschikking_id,
                bindparam("e_data", type_=_EVENTS.c.data.type),
                bindparam("e_created_at", type_=_EVENTS.c.created_at.type),
            ).join_from(stored, locked, locked.c.id == stored.c.matched_message_id),
        )
        .cte("evented")
    )
    ctes = [answered, links, met, evented]
    return (
        select(stored.c.id, stored.c.matched_message_id.label("message_id"), locked.c.beschikking_id)
        .join_from(stored, locked, locked.c.id == stored.c.matched_message_id)
        .add_cte(*ctes)
    )


_ANSWER_AT_ONCE = _answer_at_once()


def handle_fo01(runtime: Runtime, body: bytes, fo01: Fo01) -> SoapReply:
    now = runtime.clock.now()
    try:
        with transaction(runtime.sessions) as session:
            if _seen_before(session, fo01.referentienummer):
                return _bv03(runtime, fo01.zender, fo01.referentienummer)
            inbound = InboundMessage(
                party=PARTY_GGK,
                operation="Fo01",
                message_type="Fo01",
                referentienummer=fo01.referentienummer,
                cross_refnummer=fo01.cross_ref,
                sender=fo01.zender.organisatie,
                receiver=fo01.ontvanger.organisatie,
                status="unmatched",
                retour_codes=[fo01.code],
                error=f"{fo01.code}: {fo01.omschrijving}",
                body=body,
                received_at=now,
            )
            session.add(inbound)
            session.flush()
            message = session.scalars(
                select(Message).where(Message.referentienummer == fo01.cross_ref).with_for_update()
            ).first()
            if message is None:
                record_event(
                    session,
                    runtime,
                    INBOUND_UNMATCHED,
                    inbound_id=inbound.id,
                    type="Fo01",
                    cross_refnummer=fo01.cross_ref,
                )
                log.warning(
                    "inbound_unmatched", inbound_id=inbound.id, functie="Fo01", cross_refnummer=fo01.cross_ref
                )
            else:
                inbound.matched_message_id = message.id
                tracing.annotate({"gateway.message_id": message.id})  # the correlation id
                inbound.status = "matched"
                if message.state in MessageState.AWAITING_ANSWER:
                    meet_deadline(session, runtime, DeadlineKind.RETOUR, message_id=message.id)
                    message.state = MessageState.REJECTED
                    message.answered_at = now
                    message.answer_inbound_id = inbound.id
                    message.retour_codes = [fo01.code]
                    message.last_error = f"Fo01 {fo01.code}: {fo01.omschrijving}"
                    message.updated_at = now
                    record_event(
                        session,
                        runtime,
                        MESSAGE_REJECTED,
                        message_id=message.id,
                        beschikking_id=message.beschikking_id,
                        code=fo01.code,
                        omschrijving=fo01.omschrijving,
                    )
                log.warning("message_rejected_fo01", message_id=message.id, code=fo01.code)
    except IntegrityError:
        log.info("inbound_duplicate", referentienummer=fo01.referentienummer)
    return _bv03(runtime, fo01.zender, fo01.referentienummer)
