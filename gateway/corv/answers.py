"""Acknowledgements and functional answers (Bv01 / Fo01 / Fo03) to our CORV messages.

An answer finds its message by the ebMS RefToMessageId (sync answers, and async
answers that carry it) or else by the StUF crossRefnummer (= our referentienummer).
Bv01 -> the message is ``answered`` (a VTO ``accepted``); Fo01/Fo03 -> ``rejected``
with the StUF code and text; each with an event for the back-office. An answer that
matches nothing is kept (unmatched) for the operators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.events import (
    CORV_TERUGKOPPELING_ACCEPTED,
    CORV_TERUGKOPPELING_REJECTED,
    CORV_VTO_ACCEPTED,
    CORV_VTO_REJECTED,
    MESSAGE_DELIVERED,
    record_event,
)
from gateway.runtime import Runtime
from gateway.store.corv_tables import CorvInbound, CorvOutbound, CorvVto, CorvZorgmelding
from gateway.store.database import transaction
from gateway.store.tables import Message, MessageState

log = structlog.get_logger("gateway.corv")

BV01 = "bv01"
FO01 = "fo01"
FO03 = "fo03"


@dataclass(frozen=True, slots=True)
class FunctionalAnswer:
    """A StUF Bv01/Fo01/Fo03 in the gateway's terms."""

    soort: str
    code: str | None = None
    omschrijving: str | None = None
    zender: str | None = None
    referentienummer: str | None = None
    cross_refnummer: str | None = None


def find_message(
    session: Session, ref_to_message_id: str | None, cross_refnummer: str | None
) -> Message | None:
    """Our outbound CORV message an answer refers to, by ebMS MessageId, else by StUF crossRef."""
    if ref_to_message_id:
        message_id = session.scalar(
            select(CorvOutbound.message_id).where(CorvOutbound.ebms_message_id == ref_to_message_id)
        )
        if message_id is not None:
            return session.get(Message, message_id, with_for_update=True)
    if cross_refnummer:
        return session.scalars(
            select(Message)
            .where(Message.party == "corv", Message.referentienummer == cross_refnummer)
            .with_for_update()
        ).first()
    return None


def apply_answer(
    session: Session, runtime: Runtime, message: Message, inbound: CorvInbound, answer: FunctionalAnswer
) -> None:
    """Record ``answer`` on ``message`` (and its VTO or terugkoppeling), with an event."""
    now = runtime.clock.now()
    accepted = answer.soort == BV01
    inbound.matched_message_id = message.id
    inbound.koppeling = "matched"
    if message.state in MessageState.AWAITING_ANSWER:
        message.state = MessageState.ANSWERED if accepted else MessageState.REJECTED
        message.answered_at = now
        message.answer_inbound_id = inbound.id
        message.retour_codes = [answer.code] if answer.code else []
        message.updated_at = now
    vto = session.scalars(select(CorvVto).where(CorvVto.message_id == message.id)).first()
    if vto is not None:
        inbound.vto_id = vto.id
        inbound.zaak_identificatie = inbound.zaak_identificatie or vto.zaak_identificatie
        if vto.answer != "pending":
            log.warning("corv_late_answer", vto_id=vto.id, answer=answer.soort, earlier=vto.answer)
            return
        vto.answer = "accepted" if accepted else "rejected"
        vto.fout_code = None if accepted else answer.code
        vto.fout_tekst = None if accepted else answer.omschrijving
        vto.answer_inbound_id = inbound.id
        vto.answered_at = now
        record_event(
            session,
            runtime,
            CORV_VTO_ACCEPTED if accepted else CORV_VTO_REJECTED,
            message_id=message.id,
            vto_id=vto.id,
            zaak_identificatie=vto.zaak_identificatie,
            soort=answer.soort,
            code=answer.code,
            omschrijving=answer.omschrijving,
        )
        return
    zorgmelding = session.scalars(
        select(CorvZorgmelding).where(CorvZorgmelding.terugkoppeling_message_id == message.id)
    ).first()
    record_event(
        session,
        runtime,
        CORV_TERUGKOPPELING_ACCEPTED if accepted else CORV_TERUGKOPPELING_REJECTED,
        message_id=message.id,
        zorgmelding_id=zorgmelding.id if zorgmelding is not None else None,
        soort=answer.soort,
        code=answer.code,
        omschrijving=answer.omschrijving,
    )


def mark_acked(session: Session, runtime: Runtime, ebms_message_id: str) -> bool:
    """A standalone Acknowledgment: the message arrived. Stops its retries; False if unknown."""
    key = _outbound_key(session, ebms_message_id)
    outbound = session.get(CorvOutbound, key, with_for_update=True) if key is not None else None
    if outbound is None:
        return False
    now = runtime.clock.now()
    if outbound.acked_at is None:
        outbound.acked_at = now
    # Also while an attempt is in flight (SENDING): the hub has it, so it is delivered now,
    # not after that attempt's 5xx or timeout and a retry interval (3 h by default). The
    # worker's guarded result write then finds the message no longer its own and records
    # the attempt without applying it - as when a GGk retour overtakes the send.
    moved = session.execute(
        update(Message)
        .where(
            Message.id == outbound.message_id,
            Message.state.in_((MessageState.QUEUED, MessageState.SENDING)),
        )
        .values(
            state=MessageState.DELIVERED,
            delivered_at=now,
            updated_at=now,
            last_error=None,
            lease_owner=None,
            lease_expires_at=None,
        )
    )
    if moved.rowcount:  # type: ignore[attr-defined]
        record_event(
            session, runtime, MESSAGE_DELIVERED, message_id=outbound.message_id, code=None, detail="ack"
        )
    return True


def _outbound_key(session: Session, ebms_message_id: str) -> int | None:
    return session.scalar(
        select(CorvOutbound.message_id).where(CorvOutbound.ebms_message_id == ebms_message_id)
    )


#: Turns a StUF answer (Bv01/Fo01/Fo03 bytes) into a :class:`FunctionalAnswer`.
AnswerParser = Callable[[bytes], "FunctionalAnswer"]


class StoreRecorder:
    """The transport's view of the store: acks, sync answers and MessageErrors, each committed."""

    def __init__(self, runtime: Runtime, parse_answer: AnswerParser) -> None:
        self.runtime = runtime
        self.parse_answer = parse_answer

    def lookup(self, message_id: int) -> tuple[str, bool] | None:
        with self.runtime.sessions() as session:
            outbound = session.get(CorvOutbound, message_id)
            return None if outbound is None else (outbound.ebms_message_id, outbound.acked_at is not None)

    def record_ack(self, message_id: int, answer_content_type: str | None, answer: bytes | None) -> None:
        with transaction(self.runtime.sessions) as session:
            outbound = session.get(CorvOutbound, message_id, with_for_update=True)
            if outbound is None:
                return
            now = self.runtime.clock.now()
            if outbound.acked_at is None:
                outbound.acked_at = now
            if answer is None:
                return
            try:
                parsed = self.parse_answer(answer)
            except ValueError as exc:  # StufError: keep it for the operators; the ack stands
                log.warning("corv_sync_answer_unreadable", message_id=message_id)
                session.add(
                    CorvInbound(
                        ref_to_message_id=outbound.ebms_message_id,
                        from_oin=outbound.to_oin,
                        soort="invalid",
                        status="invalid",
                        koppeling="unmatched",
                        inhoud={"synchroon": True},
                        error=str(exc)[:2000],
                        payload=answer,
                        received_at=now,
                    )
                )
                return
            inbound = CorvInbound(
                ebms_message_id=None,
                ref_to_message_id=outbound.ebms_message_id,
                conversation_id=outbound.conversation_id,
                from_oin=outbound.to_oin,
                action=parsed.soort.capitalize(),
                soort=parsed.soort,
                status="accepted",
                koppeling="unmatched",
                stuf_zender=parsed.zender,
                stuf_referentienummer=parsed.referentienummer,
                cross_refnummer=parsed.cross_refnummer,
                inhoud={"code": parsed.code, "omschrijving": parsed.omschrijving, "synchroon": True},
                payload=answer,
                received_at=now,
            )
            session.add(inbound)
            session.flush()
            message = session.get(Message, message_id, with_for_update=True)
            if message is not None:
                apply_answer(session, self.runtime, message, inbound, parsed)

    def record_message_error(self, message_id: int, code: str, description: str) -> None:
        with transaction(self.runtime.sessions) as session:
            outbound = session.get(CorvOutbound, message_id, with_for_update=True)
            if outbound is not None:
                outbound.message_error = f"{code}: {description}"[:2000]
