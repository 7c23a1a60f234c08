"""What the CORV hub posts to ``/corv/ebms``: ebMS checks, duplicates, jz0100 handling.

One received message, one transaction: its ebMS MessageId (with our exact answer, for
duplicates), its StUF zender + referentienummer (StUF016), the stored message, the link
to a VTO or message, the zorgmelding task and the events - all committed before the
answer leaves. A duplicate MessageId gets the stored answer again and nothing runs twice.

- ebMS refusals (unknown OIN, CPAId, malformed multipart ...) -> MessageError (the hub stops);
- a standalone Acknowledgment -> our message is acknowledged (no more retries);
- notificatie / notificatiejr / zorgmelding -> ack + Bv01 (XSD error: ack + Fo03 StUF055;
  duplicate zender + referentienummer: ack + Fo03 StUF016, no event);
- a Bv01 / Fo01 / Fo03 for our VTO or terugkoppeling -> ack; state + event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.corv import (
    STUF_DUPLICATE,
    Fout,
    Notificatie,
    Notificatiejr,
    StufAnswer,
    StufError,
    Stuurgegevens,
    Systeem,
    bv01,
    fo03,
    parse_inbound,
    render_answer,
)
from connectors.ebms import (
    CORV_SERVICE,
    EbmsError,
    Inconsistent,
    MessageHeader,
    MessageKind,
    ReceivedMessage,
    ValueNotRecognized,
    build_ack,
    build_message_error,
    parse_message,
)
from gateway import tracing
from gateway.clock import local_now
from gateway.corv.answers import FunctionalAnswer, apply_answer, find_message, mark_acked
from gateway.corv.config import duplicate_window, party_by_oin
from gateway.corv.inbound_di01 import soort_of, store_notificatie, store_notificatiejr, store_zorgmelding
from gateway.corv.outbound import spool_dir
from gateway.runtime import Runtime
from gateway.store.corv_tables import (
    CorvInbound,
    CorvOutbound,
    CorvReceived,
    CorvStufReferentie,
)
from gateway.store.database import transaction
from gateway.store.tables import Message, MessageState

log = structlog.get_logger("gateway.corv")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content_type: str | None
    body: bytes


EMPTY = Reply(200, None, b"")


def to_functional(answer: StufAnswer) -> FunctionalAnswer:
    sg = answer.stuurgegevens
    return FunctionalAnswer(
        soort=answer.berichtcode.lower(),
        code=answer.fout.code if answer.fout is not None else None,
        omschrijving=answer.fout.omschrijving if answer.fout is not None else None,
        zender=_zender(sg),
        referentienummer=sg.referentienummer or None,
        cross_refnummer=sg.cross_refnummer,
    )


def parse_answer(payload: bytes) -> FunctionalAnswer:
    """A synchronous StUF answer (2nd part of an ack) -> FunctionalAnswer; StufError if it is none."""
    parsed = parse_inbound(payload)
    if not isinstance(parsed, StufAnswer):
        raise StufError(f"{type(parsed).__name__} is not a Bv01/Fo01/Fo03")
    return to_functional(parsed)


def _zender(sg: Stuurgegevens) -> str:
    return f"{sg.zender.organisatie}/{sg.zender.applicatie}"[:100]


#: Judges the sender of a parsed message (the chain listener's certificate check): an
#: ebMS SecurityFailure to refuse it with, or None to go on.
Authorise = Callable[[MessageHeader], EbmsError | None]


def handle_ebms(
    runtime: Runtime, content_type: str | None, body: BinaryIO, authorise: Authorise | None = None
) -> Reply:
    """Process one POST to ``/corv/ebms``; returns what to answer (never raises for bad input).

    ``authorise`` refusals are answered with a MessageError and leave no trace in the
    store (the sender is not who may send this; nothing of it is kept).
    """
    settings = runtime.settings
    try:
        received = parse_message(
            content_type,
            body,
            max_bytes=settings.corv.max_message_bytes,
            own_party=settings.corv.oin,
            spool_dir=str(spool_dir(settings)),
        )
    except EbmsError as exc:
        return _refuse(runtime, exc, None)
    with received:
        header = received.header
        if header is None:  # a MessageError without header: nothing to link it to
            log.warning("corv_error_without_header", errors=[e.code for e in received.errors])
            return EMPTY
        # On the request's span (gateway.tracing; nothing when tracing is off).
        tracing.annotate({"gateway.party": "corv", "gateway.action": header.action})
        refused = authorise(header) if authorise is not None else None
        if refused is not None:
            log.warning("corv_message_refused", code=refused.error_code, reason=refused.description)
            error_type, error_body = build_message_error(refused, received=header)
            return Reply(500, error_type, error_body)
        party = party_by_oin(settings, header.from_party)
        try:
            if party is None:
                raise ValueNotRecognized(
                    "From/PartyId is not a CORV party known here", location="eb:From/eb:PartyId"
                )
            if header.to_party != settings.corv.oin:
                raise ValueNotRecognized("To/PartyId is not this gemeente's OIN", location="eb:To/eb:PartyId")
            if header.cpa_id != party.cpa_id:
                raise ValueNotRecognized("CPAId is not the CPA agreed with this party", location="eb:CPAId")
            if received.kind is MessageKind.USER and header.service != CORV_SERVICE:
                raise ValueNotRecognized("Service is not the CORV service", location="eb:Service")
        except EbmsError as exc:
            return _refuse(runtime, exc, header)
        if received.kind is MessageKind.ACK:
            with transaction(runtime.sessions) as session:
                known = mark_acked(session, runtime, received.acked_message_id or "")
            log.info("corv_ack_received", known=known)
            return EMPTY
        if received.kind is MessageKind.ERROR:
            _record_async_error(runtime, header, received)
            return EMPTY
        expires = runtime.clock.now() + duplicate_window(party, settings)
        return _user_message(runtime, header, received, expires)


def _refuse(runtime: Runtime, exc: EbmsError, header: MessageHeader | None) -> Reply:
    log.warning("corv_message_refused", code=exc.error_code, reason=exc.description)
    try:
        with transaction(runtime.sessions) as session:
            session.add(
                CorvInbound(
                    ebms_message_id=header.message_id[:200] if header else None,
                    ref_to_message_id=header.ref_to_message_id if header else None,
                    conversation_id=header.conversation_id[:200] if header else None,
                    from_oin=header.from_party if header else None,
                    action=header.action[:40] if header else None,
                    soort="invalid",
                    status="invalid",
                    koppeling="n.v.t.",
                    inhoud={"ebms_error": exc.error_code},
                    error=str(exc)[:2000],
                    received_at=runtime.clock.now(),
                )
            )
    except Exception:
        log.exception("corv_refusal_not_stored")
    content_type, body = build_message_error(exc, received=header)
    return Reply(500, content_type, body)


def _record_async_error(runtime: Runtime, header: MessageHeader, received: ReceivedMessage) -> None:
    """A MessageError about one of our messages, sent on its own: park that message."""
    error = received.first_error()
    text = f"{error.error_code}: {error.description}" if error is not None else "MessageError"
    with transaction(runtime.sessions) as session:
        message_id = session.scalar(
            select(CorvOutbound.message_id).where(CorvOutbound.ebms_message_id == header.ref_to_message_id)
        )
        if message_id is None:
            log.warning("corv_error_for_unknown_message")
            return
        outbound = session.get(CorvOutbound, message_id, with_for_update=True)
        assert outbound is not None
        outbound.message_error = text[:2000]
        message = session.get(Message, message_id, with_for_update=True)
        if message is not None and message.state == MessageState.QUEUED:
            message.state = MessageState.PARKED
            message.last_error = f"permanent: {text}"[:2000]
            message.updated_at = runtime.clock.now()


def _stored_reply(session: Session, message_id: str) -> Reply | None:
    stored = session.get(CorvReceived, message_id)
    if stored is None:
        return None
    return Reply(stored.response_status, stored.response_content_type or None, bytes(stored.response_body))


def _user_message(
    runtime: Runtime, header: MessageHeader, received: ReceivedMessage, expires: datetime
) -> Reply:
    with runtime.sessions() as session:
        again = _stored_reply(session, header.message_id)
    if again is not None:
        log.info("corv_duplicate_message_id", action=header.action)
        return again
    part = received.payload
    if part is None:
        return _refuse(
            runtime, Inconsistent("the user message has no payload part", location="eb:Manifest"), header
        )
    payload = part.read()
    for _attempt in range(3):
        try:
            with transaction(runtime.sessions) as session:
                again = _stored_reply(session, header.message_id)
                if again is not None:
                    return again
                reply, inbound_id = _process(session, runtime, header, payload)
                session.execute(delete(CorvReceived).where(CorvReceived.expires_at < runtime.clock.now()))
                session.add(
                    CorvReceived(
                        ebms_message_id=header.message_id,
                        from_oin=header.from_party,
                        inbound_id=inbound_id,
                        response_status=reply.status,
                        response_content_type=reply.content_type or "",
                        response_body=reply.body,
                        received_at=runtime.clock.now(),
                        expires_at=expires,
                    )
                )
            return reply
        except IntegrityError:
            # The same message (or StUF reference) arrived concurrently: look again.
            log.info("corv_concurrent_duplicate")
    raise RuntimeError("could not store the CORV message")


def _inbound(header: MessageHeader, payload: bytes, now: datetime, **fields: Any) -> CorvInbound:
    return CorvInbound(
        ebms_message_id=header.message_id[:200],
        ref_to_message_id=header.ref_to_message_id,
        conversation_id=header.conversation_id[:200],
        from_oin=header.from_party,
        action=header.action[:40],
        payload=payload,
        received_at=now,
        **fields,
    )


def _fallback_stuurgegevens(runtime: Runtime, header: MessageHeader, exc: StufError) -> Stuurgegevens:
    known = getattr(exc, "stuurgegevens", None)
    if isinstance(known, Stuurgegevens):
        return known
    return Stuurgegevens(
        zender=Systeem(organisatie=header.from_party, applicatie="CORV"),
        ontvanger=Systeem(organisatie=runtime.settings.corv.oin, applicatie=runtime.settings.applicatie),
        referentienummer="onbekend",
        tijdstip=local_now(runtime.clock).replace(tzinfo=None),
    )


def _ack(header: MessageHeader, answer: StufAnswer | None) -> Reply:
    content_type, body = build_ack(header, stuf_answer=render_answer(answer) if answer is not None else None)
    return Reply(200, content_type, body)


def _process(
    session: Session, runtime: Runtime, header: MessageHeader, payload: bytes
) -> tuple[Reply, int | None]:
    """Store and handle one user message; returns the answer and the stored row's id."""
    now = runtime.clock.now()
    tijdstip = local_now(runtime.clock).replace(tzinfo=None)
    try:
        parsed = parse_inbound(payload)
    except StufError as exc:
        invalid = _inbound(
            header,
            payload,
            now,
            soort="invalid",
            status="invalid",
            koppeling="n.v.t.",
            inhoud={"stuf_code": exc.code},
            error=str(exc)[:2000],
        )
        session.add(invalid)
        session.flush()
        log.warning("corv_stuf_refused", code=exc.code, action=header.action)
        fallback = _fallback_stuurgegevens(runtime, header, exc)
        return _ack(header, fo03(fallback, exc.fout(), tijdstip=tijdstip)), invalid.id
    sg = parsed.stuurgegevens
    if isinstance(parsed, StufAnswer):
        answer = to_functional(parsed)
        inbound = _inbound(
            header,
            payload,
            now,
            soort=answer.soort,
            status="accepted",
            koppeling="unmatched",
            stuf_zender=answer.zender,
            stuf_referentienummer=answer.referentienummer,
            cross_refnummer=answer.cross_refnummer,
            inhoud={"code": answer.code, "omschrijving": answer.omschrijving, "synchroon": False},
        )
        session.add(inbound)
        session.flush()
        message = find_message(session, header.ref_to_message_id, answer.cross_refnummer)
        if message is not None:
            apply_answer(session, runtime, message, inbound, answer)
        else:
            log.warning("corv_answer_unmatched", soort=answer.soort)
        return _ack(header, None), inbound.id
    zender = _zender(sg)
    duplicate = session.get(CorvStufReferentie, (zender, sg.referentienummer))
    if duplicate is not None:
        again = _inbound(
            header,
            payload,
            now,
            soort=soort_of(parsed),
            status="duplicate",
            koppeling="n.v.t.",
            stuf_zender=zender,
            stuf_referentienummer=sg.referentienummer,
            inhoud={"duplicaat_van": duplicate.inbound_id},
        )
        session.add(again)
        session.flush()
        log.info("corv_stuf_duplicate", action=header.action)
        fout = Fout(STUF_DUPLICATE, "zender en referentienummer zijn al eerder ontvangen")
        return _ack(header, fo03(sg, fout, tijdstip=tijdstip)), again.id
    inbound = _inbound(
        header,
        payload,
        now,
        soort=soort_of(parsed),
        status="accepted",
        koppeling="n.v.t.",
        stuf_zender=zender,
        stuf_referentienummer=sg.referentienummer,
        cross_refnummer=sg.cross_refnummer,
        inhoud={},
    )
    session.add(inbound)
    session.flush()
    session.add(
        CorvStufReferentie(
            zender=zender, referentienummer=sg.referentienummer, inbound_id=inbound.id, received_at=now
        )
    )
    if isinstance(parsed, Notificatie):
        store_notificatie(session, runtime, inbound, parsed)
    elif isinstance(parsed, Notificatiejr):
        store_notificatiejr(session, runtime, inbound, parsed)
    else:
        store_zorgmelding(session, runtime, inbound, parsed)
    session.flush()
    return _ack(header, bv01(sg, tijdstip=tijdstip)), inbound.id
