"""An aanbieder's heenbericht (305, 307, 315, 317, 323) arrives in a Di01: store it,
apply the standard's rules, and send the retour.

What the aanbieder gets back (IV028/IV032):
- the payload fails its XSD, has another law's namespace, or does not match the
  envelope's functie: no retour, an asynchronous ``Fo01`` with StUF055;
- BerichtIdentificatie used before for this message type (TR056): a retour with 9056
  in the header and every class "not assessed" (0233);
- otherwise the handler's decision: header only (OK), header 0001 (in-message error),
  or the full body with the failing classes' codes and 0200 elsewhere.

The Di01 itself is answered synchronously with Bv03 once it is stored; the retour or
Fo01 goes out through the outbox like any other message. The inbound row, the
handler's writes and the outgoing answer are one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.ggk import Heenbericht
from connectors.istandaard import Law, PayloadRejected, render_retour
from gateway.bsn import keyed_hash
from gateway.clock import local_now
from gateway.events import record_event
from gateway.inbound.context import NOT_ASSESSED, CustomAnswer, InboundContext, RetourDecision
from gateway.outbox import PARTY_GGK, enqueue_ggk_fo01, enqueue_ggk_retour
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import InboundMessage

log = structlog.get_logger("gateway.inbound")

MESSAGE_RECEIVED = "bericht.ontvangen"
DUPLICATE_IDENTIFICATIE = "9056"


@dataclass(frozen=True)
class InboundHandler:
    """How one message type (an envelope ``functie``) is read, judged and answered.

    ``parse`` raises :class:`PayloadRejected` for anything that is not a valid message of
    this type; ``decide`` applies the rules and returns a :class:`RetourDecision` (answered
    with the generic iStandaard retour) or a :class:`CustomAnswer`.
    """

    parse: Callable[[bytes], Any]
    decide: Callable[[Session, Runtime, InboundContext, Any], RetourDecision | CustomAnswer]
    #: The functie of our answer (``JW306``, ``WMO325`` ...).
    retour_functie: str
    #: The law the payload must be of (its namespace), or None for a law-free message.
    law: Law | None = None
    #: For a message that is not iJw/iWmo (the SVB's BAB): renders a header-level refusal
    #: (TR056 duplicate, wrong parties) as (payload, identificatie, dagtekening, header codes) -> retour.
    render_refusal: Callable[[bytes, str, date, list[str]], bytes] | None = None


def handle_di01(
    runtime: Runtime, body: bytes, envelope: Heenbericht, handlers: Mapping[str, InboundHandler]
) -> None:
    """Process one Di01 from an aanbieder; the caller answers Bv03 when this returns."""
    try:
        with transaction(runtime.sessions) as session:
            if session.scalar(
                select(InboundMessage.id).where(InboundMessage.referentienummer == envelope.referentienummer)
            ):
                log.info("inbound_duplicate", referentienummer=envelope.referentienummer)
                return
            inbound = InboundMessage(
                party=PARTY_GGK,
                operation="ggk_Di01",
                message_type=envelope.functie,
                referentienummer=envelope.referentienummer,
                sender=envelope.zender.organisatie,
                receiver=envelope.ontvanger.organisatie,
                status="received",
                body=body,
                payload=envelope.payload,
                received_at=runtime.clock.now(),
            )
            session.add(inbound)
            session.flush()
            _process(session, runtime, envelope, inbound, handlers)
    except IntegrityError:
        log.info("inbound_duplicate", referentienummer=envelope.referentienummer)


def _process(
    session: Session,
    runtime: Runtime,
    envelope: Heenbericht,
    inbound: InboundMessage,
    handlers: Mapping[str, InboundHandler],
) -> None:
    functie = envelope.functie.upper()
    handler = handlers.get(functie)
    try:
        if handler is None:
            raise PayloadRejected(f"a gemeente does not receive {envelope.functie[:30]!r} messages")
        bericht = handler.parse(envelope.payload)
        law: Law | None = getattr(bericht.header, "law", None)
        if handler.law is not None and law is not handler.law:
            actual = law.function_name(int(functie[-3:])) if law is not None else "message of no law"
            raise PayloadRejected(f"the payload is a {actual}, the envelope says {envelope.functie[:20]}")
    except PayloadRejected as exc:
        _refuse(session, runtime, envelope, inbound, exc)
        return
    header = bericht.header
    inbound.law = law.value if law is not None else None
    inbound.bericht_identificatie = header.identificatie
    bsn = _bsn_of(bericht)
    inbound.bsn_hash = keyed_hash(bsn, runtime.settings.hash_key) if bsn else None
    ctx = InboundContext(
        inbound_id=inbound.id,
        law=law or Law.WMO,
        aanbieder=header.afzender,
        gemeentecode=runtime.settings.gemeentecode,
        received_at=inbound.received_at,
        today=local_now(runtime.clock).date(),
        bericht_identificatie=header.identificatie,
    )
    if _identificatie_used_before(session, inbound):
        _answer(
            session,
            runtime,
            envelope,
            inbound,
            handler,
            RetourDecision(header_codes=[DUPLICATE_IDENTIFICATIE]),
            NOT_ASSESSED,
        )
        inbound.status = "refused"
        return
    if header.ontvanger != runtime.settings.gemeentecode or header.afzender != envelope.zender.organisatie:
        _answer(session, runtime, envelope, inbound, handler, RetourDecision.in_message_error(), NOT_ASSESSED)
        inbound.status = "refused"
        log.warning("inbound_wrong_parties", inbound_id=inbound.id, functie=envelope.functie)
        return
    outcome = handler.decide(session, runtime, ctx, bericht)
    _answer(session, runtime, envelope, inbound, handler, outcome, "0200")
    refused = outcome.refused
    inbound.status = "refused" if refused else "accepted"
    record_event(
        session,
        runtime,
        MESSAGE_RECEIVED,
        inbound_id=inbound.id,
        type=envelope.functie,
        aanbieder=header.afzender,
        refused=refused,
        retour_codes=inbound.retour_codes or [],
    )
    for event_type, data in outcome.events:
        record_event(session, runtime, event_type, inbound_id=inbound.id, **data)
    log.info("inbound_processed", inbound_id=inbound.id, functie=envelope.functie, refused=refused)


def _bsn_of(bericht: Any) -> str | None:
    client = getattr(bericht, "client", None)
    if client is not None:
        return str(client.bsn)
    bsn = getattr(bericht, "bsn", None)
    if bsn:
        return str(bsn)
    clienten: tuple[Any, ...] = getattr(bericht, "clienten", ())
    return str(clienten[0].bsn) if len(clienten) == 1 else None


def _identificatie_used_before(session: Session, inbound: InboundMessage) -> bool:
    """TR056: BerichtIdentificatie is unique per sender and message type."""
    return (
        session.scalar(
            select(InboundMessage.id).where(
                InboundMessage.sender == inbound.sender,
                InboundMessage.message_type == inbound.message_type,
                InboundMessage.bericht_identificatie == inbound.bericht_identificatie,
                InboundMessage.status.in_(("accepted", "refused")),
                InboundMessage.id != inbound.id,
            )
        )
        is not None
    )


def _answer(
    session: Session,
    runtime: Runtime,
    envelope: Heenbericht,
    inbound: InboundMessage,
    handler: InboundHandler,
    outcome: RetourDecision | CustomAnswer,
    default_code: str,
) -> None:
    """Queue our answer to the heenbericht as a Du01 back to its sender."""
    if isinstance(outcome, CustomAnswer):
        inbound.retour_codes = list(outcome.codes)
        custom = outcome

        def render(identificatie: str) -> bytes:
            return custom.render(identificatie, local_now(runtime.clock).date())

    elif handler.render_refusal is not None:
        inbound.retour_codes = _codes_of(outcome)
        refusal, header_codes = handler.render_refusal, list(outcome.header_codes)

        def render(identificatie: str) -> bytes:
            return refusal(envelope.payload, identificatie, local_now(runtime.clock).date(), header_codes)

    else:
        inbound.retour_codes = _codes_of(outcome)
        decision = outcome
        element_codes = dict(decision.element_codes)
        if default_code == NOT_ASSESSED and decision.header_codes and decision.header_codes != ["0001"]:
            # A cross-message error in the header: the body's classes were not assessed.
            element_codes.setdefault("Client", [NOT_ASSESSED])

        def render(identificatie: str) -> bytes:
            return render_retour(
                envelope.payload,
                identificatie_retour=identificatie,
                dagtekening_retour=local_now(runtime.clock).date(),
                header_codes=decision.header_codes,
                element_codes=element_codes or None,
                default_code=default_code,
            )

    message = enqueue_ggk_retour(
        session,
        runtime,
        functie=handler.retour_functie,
        law=inbound.law,
        receiver=envelope.zender.organisatie,
        cross_ref=envelope.referentienummer,
        cross_ref_bericht=inbound.bericht_identificatie,
        render_payload=render,
        answers_inbound_id=inbound.id,
        bsn_hash=inbound.bsn_hash,
    )
    inbound.answer_message_id = message.id


def _codes_of(decision: RetourDecision) -> list[str]:
    codes: list[str] = [*decision.header_codes]
    for path_codes in decision.element_codes.values():
        codes.extend(c for c in path_codes if c not in codes)
    return codes


def _refuse(
    session: Session, runtime: Runtime, envelope: Heenbericht, inbound: InboundMessage, exc: PayloadRejected
) -> None:
    inbound.status = "invalid"
    inbound.error = f"{exc.code}: {exc.reason}"
    details = f"{envelope.functie}-{envelope.applicatie_versie}{envelope.applicatie_subversie}"
    message = enqueue_ggk_fo01(
        session,
        runtime,
        receiver=envelope.zender.organisatie,
        cross_ref=envelope.referentienummer,
        code=exc.code,
        omschrijving=exc.reason,
        details=details[:30],
        answers_inbound_id=inbound.id,
    )
    inbound.answer_message_id = message.id
    record_event(
        session,
        runtime,
        MESSAGE_RECEIVED,
        inbound_id=inbound.id,
        type=envelope.functie,
        aanbieder=envelope.zender.organisatie,
        refused=True,
        retour_codes=[exc.code],
    )
    log.warning("inbound_payload_refused", inbound_id=inbound.id, code=exc.code, reason=exc.reason)


__all__ = ["InboundHandler", "Law", "handle_di01"]
