"""The transactional outbox: a message is stored - payload and exact wire bytes - in
the same transaction as the business change that caused it; delivery comes later.

The envelope (with its referentienummer) is fixed here, once. Every re-send puts the
same bytes on the wire, so the chain's duplicate detection recognises it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from connectors.ggk import Heenbericht, Systeem, new_referentienummer, render_di01, soap_request
from gateway.clock import local_now
from gateway.runtime import Runtime
from gateway.store.tables import Message, MessageState

PARTY_GGK = "ggk"
GGK_DI01 = "ggk_Di01"


def ggk_route(receiver: str) -> str:
    return f"{PARTY_GGK}:{receiver}"


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
    now = runtime.clock.now()
    settings = runtime.settings
    message = Message(
        party=PARTY_GGK,
        route=ggk_route(receiver),
        message_type=functie,
        law=law,
        state=MessageState.ACCEPTED,
        sender=settings.gemeentecode,
        receiver=receiver,
        referentienummer=new_referentienummer(),
        bericht_identificatie="",
        beschikking_id=beschikking_id,
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
    message.payload = render_payload(message.bericht_identificatie)
    message.wire_body = _wire_body(runtime, message)
    message.state = MessageState.QUEUED
    message.next_attempt_at = now
    return message


def _wire_body(runtime: Runtime, message: Message) -> bytes:
    settings = runtime.settings
    envelope = render_di01(
        Heenbericht(
            zender=Systeem(organisatie=settings.gemeentecode, applicatie=settings.applicatie),
            ontvanger=Systeem(organisatie=message.receiver, applicatie="GGk"),
            referentienummer=message.referentienummer,
            tijdstip=local_now(runtime.clock).replace(tzinfo=None),
            functie=message.message_type,
            payload=message.payload,
            bestandsnaam=f"{message.message_type}_{message.bericht_identificatie}.xml",
            referentienummer_bericht=message.bericht_identificatie,
        )
    )
    body, _headers = soap_request(envelope, GGK_DI01)
    return body
