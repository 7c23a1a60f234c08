"""Building an aanbieder's Di01 in tests and reading what the gateway answered."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import select

from connectors.ggk import Heenbericht, Systeem, new_referentienummer, render_di01, soap_headers, soap_request
from connectors.istandaard import Law, parse_retour
from connectors.istandaard.model import BerichtHeader, Product
from connectors.istandaard.model_inbound import ClientKort, RetourSamenvatting, VerkorteNaam
from gateway.store.tables import InboundMessage, Message
from tests.gateway.stack import Stack

AGB = "99990001"
GEMEENTE = "0637"


def header(law: Law, identificatie: str, agb: str = AGB, dagtekening: date | None = None) -> BerichtHeader:
    return BerichtHeader(
        law=law,
        afzender=agb,
        ontvanger=GEMEENTE,
        identificatie=identificatie,
        dagtekening=dagtekening or date.today(),
    )


def client(bsn: str = "999900006") -> ClientKort:
    return ClientKort(
        bsn=bsn,
        geboortedatum=date(2014, 3, 21),
        geslacht="2",
        naam=VerkorteNaam(achternaam="Jansen", voorletters="S"),
    )


def product(categorie: str = "45", code: str = "45A08") -> Product:
    return Product(categorie=categorie, code=code)


def post_di01(
    stack: Stack,
    payload: bytes,
    functie: str,
    *,
    agb: str = AGB,
    gemeente: str = GEMEENTE,
    referentienummer: str | None = None,
) -> tuple[str, httpx.Response]:
    ref = referentienummer or new_referentienummer()
    envelope = render_di01(
        Heenbericht(
            zender=Systeem(agb, "MockAanbieder"),
            ontvanger=Systeem(gemeente, "GGk"),
            referentienummer=ref,
            tijdstip=datetime.now(UTC).replace(tzinfo=None),
            functie=functie,
            payload=payload,
        )
    )
    body, _ = soap_request(envelope, "ggk_Di01")
    response = stack.api.post("/ggk/soap", content=body, headers=soap_headers("ggk_Di01"))
    return ref, response


def inbound(stack: Stack, referentienummer: str) -> InboundMessage:
    with stack.runtime.sessions() as session:
        row = session.scalars(
            select(InboundMessage).where(InboundMessage.referentienummer == referentienummer)
        ).one()
        session.expunge(row)
        return row


def answer(stack: Stack, referentienummer: str) -> Message:
    row = inbound(stack, referentienummer)
    assert row.answer_message_id is not None, f"no answer for inbound {row.id} ({row.status}: {row.error})"
    with stack.runtime.sessions() as session:
        message = session.get(Message, row.answer_message_id)
        assert message is not None
        session.expunge(message)
        return message


def retour(stack: Stack, referentienummer: str) -> RetourSamenvatting:
    message = answer(stack, referentienummer)
    assert message.operation == "ggk_Du01", message.operation
    return parse_retour(message.payload)


def wait_delivered(stack: Stack, message_id: int, timeout_s: float = 10) -> dict[str, Any]:
    return stack.wait_for_state(message_id, "delivered", "answered", "rejected", timeout_s=timeout_s)


def until(predicate: Any, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
