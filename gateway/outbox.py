"""The transactional outbox: a message is stored - payload and exact wire bytes - in
the same transaction as the business change that caused it; delivery comes later.

The envelope (with its referentienummer) is fixed here, once. Every re-send puts the
same bytes on the wire, so the chain's duplicate detection recognises it.

Three kinds of GGk traffic leave the gemeente:
- a heenbericht (``ggk_Di01``): a 301, a 319 ...; it awaits a retour;
- a retourbericht (``ggk_Du01``): our 306/308/316/318/325 to an aanbieder's message;
- an asynchronous ``Fo01``: an aanbieder's payload failed its XSD (StUF055).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from connectors.ggk import (
    Heenbericht,
    Retourbericht,
    Systeem,
    new_referentienummer,
    render_fo01,
    soap_di01,
    soap_du01,
)
from gateway import tracing
from gateway.clock import local_now
from gateway.deadlines import DeadlineKind, open_deadline
from gateway.runtime import Runtime
from gateway.store.tables import Message, MessageState

PARTY_GGK = "ggk"
GGK_DI01 = "ggk_Di01"
GGK_DU01 = "ggk_Du01"
GGK_FO01 = "Fo01"


def ggk_route(receiver: str) -> str:
    return f"{PARTY_GGK}:{receiver}"


def _new_message(
    session: Session,
    runtime: Runtime,
    *,
    operation: str,
    functie: str,
    law: str | None,
    receiver: str,
    beschikking_id: int | None,
    bsn_hash: str | None,
    answers_inbound_id: int | None,
) -> Message:
    now = runtime.clock.now()
    message = Message(
        party=PARTY_GGK,
        route=ggk_route(receiver),
        message_type=functie,
        operation=operation,
        law=law,
        state=MessageState.ACCEPTED,
        sender=runtime.settings.gemeentecode,
        receiver=receiver,
        referentienummer=new_referentienummer(),
        bericht_identificatie="",
        beschikking_id=beschikking_id,
        answers_inbound_id=answers_inbound_id,
        bsn_hash=bsn_hash,
        payload=b"",
        wire_body=b"",
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    session.flush()  # the row id becomes the payload's BerichtIdentificatie
    message.bericht_identificatie = str(message.id)
    tracing.event("message.created", {"gateway.message_id": message.id, "gateway.route": message.route})
    return message


def _queue(message: Message, runtime: Runtime, wire_body: bytes) -> Message:
    message.wire_body = wire_body
    message.state = MessageState.QUEUED
    message.next_attempt_at = runtime.clock.now()
    return message


def _gemeente(runtime: Runtime) -> Systeem:
    return Systeem(organisatie=runtime.settings.gemeentecode, applicatie=runtime.settings.applicatie)


def enqueue_ggk_heenbericht(
    session: Session,
    runtime: Runtime,
    *,
    functie: str,
    law: str | None,
    receiver: str,
    render_payload: Callable[[str], bytes],
    beschikking_id: int | None,
    bsn_hash: str | None,
) -> Message:
    """Store a heenbericht to ``receiver`` (an AGB code, ``SVB``, ``CAK``) via the GGk.

    ``render_payload`` gets the payload's BerichtIdentificatie (the message's row id,
    unique per sender) and returns the validated payload XML.
    """
    message = _new_message(
        session,
        runtime,
        operation=GGK_DI01,
        functie=functie,
        law=law,
        receiver=receiver,
        beschikking_id=beschikking_id,
        bsn_hash=bsn_hash,
        answers_inbound_id=None,
    )
    message.payload = render_payload(message.bericht_identificatie)
    body = soap_di01(
        Heenbericht(
            zender=_gemeente(runtime),
            ontvanger=Systeem(organisatie=receiver, applicatie="GGk"),
            referentienummer=message.referentienummer,
            tijdstip=local_now(runtime.clock).replace(tzinfo=None),
            functie=functie,
            payload=message.payload,
            bestandsnaam=f"{functie}_{message.bericht_identificatie}.xml",
            referentienummer_bericht=message.bericht_identificatie,
        )
    )
    if law is not None:
        # Every iJw/iWmo heenbericht is answered by exactly one retour within 3 werkdagen (OP090).
        open_deadline(session, runtime, DeadlineKind.RETOUR, message_id=message.id, start=runtime.clock.now())
    return _queue(message, runtime, body)


def enqueue_ggk_retour(
    session: Session,
    runtime: Runtime,
    *,
    functie: str,
    law: str | None,
    receiver: str,
    cross_ref: str,
    cross_ref_bericht: str | None,
    render_payload: Callable[[str], bytes],
    answers_inbound_id: int,
    bsn_hash: str | None,
) -> Message:
    """Store our retour (a Du01) to the heenbericht with referentienummer ``cross_ref``."""
    message = _new_message(
        session,
        runtime,
        operation=GGK_DU01,
        functie=functie,
        law=law,
        receiver=receiver,
        beschikking_id=None,
        bsn_hash=bsn_hash,
        answers_inbound_id=answers_inbound_id,
    )
    message.payload = render_payload(message.bericht_identificatie)
    body = soap_du01(
        Retourbericht(
            zender=_gemeente(runtime),
            ontvanger=Systeem(organisatie=receiver, applicatie="GGk"),
            referentienummer=message.referentienummer,
            cross_refnummer=cross_ref,
            tijdstip=local_now(runtime.clock).replace(tzinfo=None),
            functie=functie,
            payload=message.payload,
            bestandsnaam=f"{functie}_{message.bericht_identificatie}.xml",
            referentienummer_bericht=message.bericht_identificatie,
            cross_refnummer_bericht=cross_ref_bericht,
        )
    )
    return _queue(message, runtime, body)


def enqueue_ggk_fo01(
    session: Session,
    runtime: Runtime,
    *,
    receiver: str,
    cross_ref: str,
    code: str,
    omschrijving: str,
    details: str | None,
    answers_inbound_id: int,
) -> Message:
    """Store an asynchronous Fo01: the heenbericht ``cross_ref`` is refused (e.g. StUF055)."""
    message = _new_message(
        session,
        runtime,
        operation=GGK_FO01,
        functie="Fo01",
        law=None,
        receiver=receiver,
        beschikking_id=None,
        bsn_hash=None,
        answers_inbound_id=answers_inbound_id,
    )
    body = render_fo01(
        code,
        "client",
        omschrijving,
        zender=_gemeente(runtime),
        ontvanger=Systeem(organisatie=receiver, applicatie="GGk"),
        cross_ref=cross_ref,
        referentienummer=message.referentienummer,
        details=details,
        tijdstip=local_now(runtime.clock).replace(tzinfo=None),
    )
    return _queue(message, runtime, body)
