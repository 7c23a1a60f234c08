"""One message as an operator sees it: what happened, in order, and what it relates to.

The payload is pretty-printed with personal data masked (:mod:`gateway.ops.masking`);
only a privacy officer may see the BSN and the unmasked payload, through
:func:`reveal_personal_data`, which writes an audit record (``bsn.revealed``) first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from connectors.istandaard.law import Law
from connectors.istandaard.retourcodes import meaning
from gateway.ops.audit_trail import audit, checked_reason
from gateway.ops.errors import NotFound
from gateway.ops.masking import find_bsn, pretty
from gateway.ops.operators import OperatorInfo, Role, require_role
from gateway.ops.replay import NOT_REPLAYED_PARTIES, REPLAYABLE_STATES
from gateway.ops.search import MessageRow, row_of
from gateway.runtime import Runtime
from gateway.store.cak_tables import CakMelding
from gateway.store.corv_tables import CorvInbound, CorvVto
from gateway.store.ops_tables import RouteControl
from gateway.store.tables import Beschikking, Event, InboundMessage, Message, MessageState, MessageToewijzing
from gateway.store.tracking_tables import Deadline


@dataclass(frozen=True)
class AttemptInfo:
    attempt_no: int
    worker: str
    started_at: datetime
    finished_at: datetime
    duration_ms: int
    #: delivered | retryable | permanent | unknown
    outcome: str
    http_status: int | None
    code: str | None
    detail: str | None
    #: False: the result came too late to change the message (its lease had been rescued).
    applied: bool


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    #: accepted | attempt | delivered | answer | event | deadline_overdue | deadline_met | replayed
    kind: str
    title: str
    detail: str | None = None
    outcome: str | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class RetourCodeInfo:
    code: str
    meaning: str
    #: Set when the code is about one toewijzing of the message (product level).
    toewijzingnummer: int | None = None


@dataclass(frozen=True)
class RelatedLink:
    """Another message (``message_id``) or an inbound one (``inbound_id``) and how it relates.

    ``relation``: retour (the answer we received) | answers (the inbound heenbericht our
    retour answers) | replay_of | replayed_as | same_toewijzing (an earlier or later
    message for the same toewijzing: a change or correction) | corrigeert |
    notificatie (CORV: what the Raad sent about our VTO; ``corv_inbound_id``).
    """

    relation: str
    message_id: int | None
    inbound_id: int | None
    message_type: str | None
    #: The message's state, or the inbound message's status.
    state: str | None
    at: datetime | None
    #: A CORV message received (``corv_inbound``), e.g. a notificatie of our VTO.
    corv_inbound_id: int | None = None


@dataclass(frozen=True)
class DeadlineInfo:
    id: int
    kind: str
    werkdagen: int
    due_at: datetime
    met_at: datetime | None
    overdue_at: datetime | None
    handled_at: datetime | None
    handled_by: str | None


@dataclass(frozen=True)
class EnvelopeIds:
    referentienummer: str
    bericht_identificatie: str
    operation: str
    sender: str
    receiver: str
    #: The answer's referentienummer (its crossRefnummer points at ours).
    answer_referentienummer: str | None
    answer_cross_refnummer: str | None


@dataclass(frozen=True)
class MessageDetail:
    message: MessageRow
    envelope: EnvelopeIds
    next_attempt_at: datetime | None
    possibly_delivered: bool
    attempts: list[AttemptInfo]
    timeline: list[TimelineEntry]
    #: Pretty-printed, personal data masked.
    payload: str
    answer_type: str | None
    answer_payload: str | None
    retour_codes: list[RetourCodeInfo]
    related: list[RelatedLink]
    deadlines: list[DeadlineInfo]
    route_paused: bool
    can_replay: bool
    can_park: bool
    can_unpark: bool


@dataclass(frozen=True)
class RevealedData:
    """What a privacy officer asked to see; every instance is backed by an audit record."""

    message_id: int
    bsn: str | None
    payload: str
    answer_payload: str | None


def _law(law: str | None) -> Law | None:
    try:
        return Law(law) if law else None
    except ValueError:
        return None


def _load(session: Session, message_id: int) -> Message:
    message = session.get(
        Message,
        message_id,
        options=[selectinload(Message.attempt_log), selectinload(Message.toewijzing_links)],
    )
    if message is None:
        raise NotFound(f"no message {message_id}")
    return message


def message_detail(session: Session, runtime: Runtime, message_id: int) -> MessageDetail:
    """Everything about one outbound message; any role may read it (it is masked)."""
    m = _load(session, message_id)
    beschikking = session.get(Beschikking, m.beschikking_id) if m.beschikking_id else None
    answer = session.get(InboundMessage, m.answer_inbound_id) if m.answer_inbound_id else None
    law = _law(m.law)
    deadlines = session.scalars(
        select(Deadline).where(Deadline.message_id == m.id).order_by(Deadline.id)
    ).all()
    events = session.scalars(select(Event).where(Event.message_id == m.id).order_by(Event.id)).all()
    replays = session.scalars(select(Message).where(Message.replay_of_id == m.id).order_by(Message.id)).all()
    attempts = [
        AttemptInfo(
            attempt_no=a.attempt_no,
            worker=a.worker,
            started_at=a.started_at,
            finished_at=a.finished_at,
            duration_ms=a.duration_ms,
            outcome=a.outcome,
            http_status=a.http_status,
            code=a.code,
            detail=a.detail,
            applied=a.applied,
        )
        for a in m.attempt_log
    ]
    timeline = [TimelineEntry(m.created_at, "accepted", f"{m.message_type} accepted into the outbox")]
    timeline += [
        TimelineEntry(
            a.started_at,
            "attempt",
            f"attempt {a.attempt_no}: {a.outcome}",
            detail=" ".join(str(p) for p in (a.http_status, a.code, a.detail) if p) or None,
            outcome=a.outcome,
            duration_ms=a.duration_ms,
        )
        for a in attempts
    ]
    if answer is not None:
        codes = ", ".join(str(c) for c in answer.retour_codes or []) or "no codes"
        timeline.append(
            TimelineEntry(answer.received_at, "answer", f"{answer.message_type or 'answer'} received", codes)
        )
    timeline += [TimelineEntry(e.created_at, "event", e.type) for e in events]
    for d in deadlines:
        if d.overdue_at is not None:
            timeline.append(TimelineEntry(d.overdue_at, "deadline_overdue", f"{d.kind} deadline missed"))
        if d.met_at is not None:
            timeline.append(TimelineEntry(d.met_at, "deadline_met", f"{d.kind} deadline met"))
    timeline += [TimelineEntry(r.created_at, "replayed", f"replayed as message {r.id}") for r in replays]
    timeline.sort(key=lambda entry: entry.at)

    # Codes about one toewijzing carry its number; the message's own list repeats them, so
    # only the codes not attributed to a toewijzing are shown without one.
    per_toewijzing = [
        RetourCodeInfo(str(c), meaning(str(c), law), link.toewijzing_id)
        for link in m.toewijzing_links
        for c in link.retour_codes or []
    ]
    attributed = {c.code for c in per_toewijzing}
    retour_codes = [
        RetourCodeInfo(str(c), meaning(str(c), law)) for c in m.retour_codes or [] if str(c) not in attributed
    ]
    retour_codes += per_toewijzing
    paused = session.scalar(select(RouteControl.paused).where(RouteControl.route == m.route)) or False
    return MessageDetail(
        message=row_of(
            m,
            beschikking.beschikkingnummer if beschikking else None,
            beschikking.bsn if beschikking else None,
        ),
        envelope=EnvelopeIds(
            referentienummer=m.referentienummer,
            bericht_identificatie=m.bericht_identificatie,
            operation=m.operation,
            sender=m.sender,
            receiver=m.receiver,
            answer_referentienummer=answer.referentienummer if answer else None,
            answer_cross_refnummer=answer.cross_refnummer if answer else None,
        ),
        next_attempt_at=m.next_attempt_at if m.state == MessageState.QUEUED else None,
        possibly_delivered=m.possibly_delivered,
        attempts=attempts,
        timeline=timeline,
        payload=pretty(m.payload or m.wire_body),
        answer_type=answer.message_type if answer else None,
        answer_payload=pretty(answer.payload or answer.body) if answer else None,
        retour_codes=retour_codes,
        related=_related(session, m, answer, replays),
        deadlines=[
            DeadlineInfo(
                d.id, d.kind, d.werkdagen, d.due_at, d.met_at, d.overdue_at, d.handled_at, d.handled_by
            )
            for d in deadlines
        ],
        route_paused=bool(paused),
        can_replay=m.state in REPLAYABLE_STATES and m.party not in NOT_REPLAYED_PARTIES and not replays,
        can_park=m.state in (MessageState.QUEUED, MessageState.ACCEPTED),
        can_unpark=m.state == MessageState.PARKED,
    )


def _related(
    session: Session, m: Message, answer: InboundMessage | None, replays: Sequence[Message]
) -> list[RelatedLink]:
    links: list[RelatedLink] = []
    if answer is not None:
        links.append(
            RelatedLink("retour", None, answer.id, answer.message_type, answer.status, answer.received_at)
        )
    if m.answers_inbound_id is not None:
        inbound = session.get(InboundMessage, m.answers_inbound_id)
        if inbound is not None:
            links.append(
                RelatedLink(
                    "answers", None, inbound.id, inbound.message_type, inbound.status, inbound.received_at
                )
            )
    if m.replay_of_id is not None:
        original = session.get(Message, m.replay_of_id)
        if original is not None:
            links.append(
                RelatedLink(
                    "replay_of", original.id, None, original.message_type, original.state, original.created_at
                )
            )
    links += [RelatedLink("replayed_as", r.id, None, r.message_type, r.state, r.created_at) for r in replays]
    # A correction names the message it corrects (CAK herstel: ``cak_meldingen``).
    melding = session.scalar(select(CakMelding).where(CakMelding.message_id == m.id))
    other_id = melding.corrects_message_id if melding is not None else None
    other = session.get(Message, other_id) if other_id is not None else None
    if other is not None:
        links.append(
            RelatedLink("corrigeert", other.id, None, other.message_type, other.state, other.created_at)
        )
    links += _corv_links(session, m)
    toewijzing_ids = [link.toewijzing_id for link in m.toewijzing_links]
    if toewijzing_ids:
        others = session.scalars(
            select(Message)
            .where(
                Message.id.in_(
                    select(MessageToewijzing.message_id).where(
                        MessageToewijzing.toewijzing_id.in_(toewijzing_ids)
                    )
                ),
                Message.id != m.id,
            )
            .order_by(Message.id)
            .limit(20)
        ).all()
        seen = {link.message_id for link in links}
        links += [
            RelatedLink("same_toewijzing", o.id, None, o.message_type, o.state, o.created_at)
            for o in others
            if o.id not in seen
        ]
    return links


def _corv_links(session: Session, m: Message) -> list[RelatedLink]:
    """CORV: what the justice chain sent about this message (notificaties of our VTO, answers)."""
    if m.party != "corv":
        return []
    vto_id = session.scalar(select(CorvVto.id).where(CorvVto.message_id == m.id))
    condition = CorvInbound.matched_message_id == m.id
    if vto_id is not None:
        condition = condition | (CorvInbound.vto_id == vto_id)
    rows = session.scalars(select(CorvInbound).where(condition).order_by(CorvInbound.id).limit(50)).all()
    return [
        RelatedLink(
            "notificatie" if row.soort.startswith("notificatie") else "answer",
            None,
            None,
            row.action or row.soort,
            row.status,
            row.received_at,
            corv_inbound_id=row.id,
        )
        for row in rows
    ]


def reveal_personal_data(
    session: Session, runtime: Runtime, operator: OperatorInfo, message_id: int, reason: str
) -> RevealedData:
    """The BSN and the unmasked payload of one message - privacy officers only, audited.

    The audit record (``bsn.revealed``, target ``bericht:<id>``) is written in the
    caller's transaction before anything is returned: commit it, or show nothing.
    """
    require_role(operator, Role.PRIVACY_OFFICER)
    why = checked_reason(reason)
    m = _load(session, message_id)
    beschikking = session.get(Beschikking, m.beschikking_id) if m.beschikking_id else None
    answer = session.get(InboundMessage, m.answer_inbound_id) if m.answer_inbound_id else None
    audit(session, runtime, operator, "bsn.revealed", target=f"bericht:{m.id}", reason=why)
    return RevealedData(
        message_id=m.id,
        bsn=beschikking.bsn if beschikking is not None else find_bsn(m.payload),
        payload=pretty(m.payload or m.wire_body, masked=False),
        answer_payload=pretty(answer.payload or answer.body, masked=False) if answer else None,
    )
