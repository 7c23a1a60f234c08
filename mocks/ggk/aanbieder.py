"""What a mock aanbieder answers to a heenbericht: a Du01 with its 302/320 retour, or a Fo01.

Pure: takes the decoded Di01 and the rule in force, returns the SOAP request to post
back to the gemeente. The payload is handled by the project's own iJw/iWmo connector,
exactly as the gateway would handle an inbound 301, so the mock checks what the real
receiving side checks: a payload that fails its XSD earns a Fo01 with StUF055.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from connectors.ggk import (
    Heenbericht,
    Operation,
    Retourbericht,
    Systeem,
    new_referentienummer,
    render_fo01,
    soap_headers,
)
from connectors.istandaard import (
    PayloadRejected,
    parse_antwoord,
    parse_toewijzing,
    render_retour,
    render_toewijzing_retour,
)
from connectors.istandaard.errors import accept_payload, assert_rendered_valid
from connectors.istandaard.model import BerichtHeader
from connectors.istandaard.toewijzing import build_header, read_header, serialize
from connectors.istandaard.xml_names import (
    XSD_VERSIE,
    build_retourcodes,
    build_xsd_versie,
    child,
    sub,
    tags,
)
from mocks.ggk.aanbieders import AANBIEDER_APPLICATIE
from mocks.ggk.behaviour import Behaviour
from mocks.ggk.templates import Du01Templates, RetourHeaderTemplates

#: The functies a mock aanbieder answers with a retour (302 / 320); other functies get none.
ANSWERED_FUNCTIES = frozenset({"JW301", "WMO301", "JW319", "WMO319"})
TOEWIJZING, TOEWIJZING_RETOUR = 301, 302
#: Every party's Du01s (aanbieders, SVB, CAK), from templates the connector validated.
DU01_TEMPLATES = Du01Templates()
#: Header-only 302s, from templates the tree builder made (each one still validated).
RETOUR_HEADERS = RetourHeaderTemplates()
#: The one class of a 319, where a ``reject`` at level ``product`` puts its codes.
ANTWOORD_CLASS = "Antwoord"


@dataclass(frozen=True, slots=True)
class Answer:
    """A SOAP request for the gemeente's inbound endpoint, and what it means for the ledger."""

    operation: Operation
    body: bytes
    headers: dict[str, str]
    #: ``retour_sent`` or ``fo01_sent:<code>`` once delivered.
    outcome: str
    referentienummer: str


def answer_heenbericht(h: Heenbericht, behaviour: Behaviour, *, now: datetime) -> Answer | None:
    """The aanbieder's answer to ``h`` under ``behaviour``; ``None`` when it sends nothing."""
    functie = h.functie.upper()
    if behaviour.mode == "no_retour" or functie not in ANSWERED_FUNCTIES:
        return None
    agb = h.ontvanger.organisatie
    aanbieder = Systeem(organisatie=agb, applicatie=AANBIEDER_APPLICATIE)
    gemeente = Systeem(organisatie=h.zender.organisatie, applicatie="GGk")
    identificatie_retour = uuid.uuid4().hex[:12]
    try:
        if functie.endswith("319"):
            retour, retour_functie, heen_identificatie = _antwoord_retour(
                h.payload, behaviour, identificatie_retour, now.date()
            )
        else:
            retour, retour_functie, heen_identificatie = _toewijzing_retour(
                h.payload, behaviour, identificatie_retour, now.date()
            )
    except PayloadRejected as exc:
        return fo01_answer(h, exc, zender=aanbieder, ontvanger=gemeente, now=now)
    return du01_answer(
        h,
        zender=aanbieder,
        ontvanger=gemeente,
        functie=retour_functie,
        payload=retour,
        identificatie_retour=identificatie_retour,
        heen_identificatie=heen_identificatie,
        now=now,
    )


def fo01_answer(
    h: Heenbericht, exc: PayloadRejected, *, zender: Systeem, ontvanger: Systeem, now: datetime
) -> Answer:
    """A party's asynchronous refusal of ``h`` (its payload is not acceptable)."""
    ref = new_referentienummer()
    body = render_fo01(
        exc.code or "StUF055",
        "client",
        exc.reason,
        zender=zender,
        ontvanger=ontvanger,
        cross_ref=h.referentienummer,
        referentienummer=ref,
        details=f"{h.functie}-{h.applicatie_versie}{h.applicatie_subversie}"[:30],
        tijdstip=now,
    )
    return Answer("Fo01", body, soap_headers("Fo01"), f"fo01_sent:{exc.code}", ref)


def du01_answer(
    h: Heenbericht,
    *,
    zender: Systeem,
    ontvanger: Systeem,
    functie: str,
    payload: bytes,
    identificatie_retour: str,
    heen_identificatie: str,
    now: datetime,
) -> Answer:
    """A party's retour on ``h`` in a Du01 (crossRefnummer = the Di01's referentienummer)."""
    ref = new_referentienummer()
    du01 = Retourbericht(
        zender=zender,
        ontvanger=ontvanger,
        referentienummer=ref,
        cross_refnummer=h.referentienummer,
        tijdstip=now,
        functie=functie,
        payload=payload,
        referentienummer_bericht=identificatie_retour,
        cross_refnummer_bericht=heen_identificatie,
        functie_versie=h.functie_versie,
        functie_subversie=h.functie_subversie,
    )
    return Answer("ggk_Du01", DU01_TEMPLATES.render(du01), soap_headers("ggk_Du01"), "retour_sent", ref)


def _toewijzing_retour(
    payload: bytes, behaviour: Behaviour, identificatie_retour: str, today: date
) -> tuple[bytes, str, str]:
    """The 302 of a 301 (retour bytes, functie, the 301's BerichtIdentificatie).

    Only a ``reject`` at product level repeats the Client block, so only that one reads
    the whole 301 into its model; every other answer is a header-only 302, for which the
    validated 301's header is all there is to read.
    """
    if behaviour.mode == "reject" and behaviour.level == "product":
        return _client_retour(payload, behaviour, identificatie_retour, today)
    law, root = accept_payload(payload, TOEWIJZING)  # parsed and validated, as parse_toewijzing does
    t = tags(law, TOEWIJZING)
    heen_header = child(root, t.m["Header"])
    assert heen_header is not None  # required by the XSD
    header = read_header(heen_header, t)
    codes = tuple(behaviour.retour_codes()) if behaviour.mode == "reject" else ()
    retour = RETOUR_HEADERS.render(header, codes, identificatie_retour, today, _header_retour)
    return retour, law.function_name(TOEWIJZING_RETOUR), header.identificatie


def _header_retour(
    heen: BerichtHeader, header_codes: tuple[str, ...], identificatie_retour: str, today: date
) -> bytes:
    """A header-only 302, element for element what ``render_toewijzing_retour`` writes without
    a Client block (same builders), validated against the project's XSD before it leaves."""
    t = tags(heen.law, TOEWIJZING_RETOUR)
    root = etree.Element(t.m["Bericht"], nsmap=t.nsmap)
    header = build_header(root, t, heen)
    sub(header, t.m["IdentificatieRetour"], identificatie_retour)
    sub(header, t.m["DagtekeningRetour"], today.isoformat())
    build_xsd_versie(header, t.m["XsdVersieRetour"], t, XSD_VERSIE, XSD_VERSIE)
    if header_codes:
        build_retourcodes(header, t, header_codes)
    assert_rendered_valid(heen.law, TOEWIJZING_RETOUR, root)
    return serialize(root)


def _client_retour(
    payload: bytes, behaviour: Behaviour, identificatie_retour: str, today: date
) -> tuple[bytes, str, str]:
    """A ``reject`` at product level: the codes on every product (the header's when there are none)."""
    heen = parse_toewijzing(payload)
    header_codes: tuple[str, ...] = ()
    product_codes: dict[int, list[str]] | None = None
    if not heen.producten:
        header_codes = tuple(behaviour.retour_codes())
    else:
        product_codes = {p.toewijzingnummer: behaviour.retour_codes() for p in heen.producten}
    retour = render_toewijzing_retour(
        heen,
        identificatie_retour=identificatie_retour,
        dagtekening_retour=today,
        header_codes=header_codes,
        client_codes=(),
        product_codes=product_codes,
    )
    return retour, heen.header.law.function_name(TOEWIJZING_RETOUR), heen.header.identificatie


def _antwoord_retour(
    payload: bytes, behaviour: Behaviour, identificatie_retour: str, today: date
) -> tuple[bytes, str, str]:
    """The 320 of a 319: ``reject`` puts its codes on the header or, at level product, on ``Antwoord``."""
    heen = parse_antwoord(payload)  # validates; the generic retour copies the payload itself
    header_codes: list[str] = []
    element_codes: dict[str, list[str]] | None = None
    if behaviour.mode == "reject":
        if behaviour.level == "header":
            header_codes = behaviour.retour_codes()
        else:
            element_codes = {ANTWOORD_CLASS: behaviour.retour_codes()}
    retour = render_retour(
        payload,
        identificatie_retour=identificatie_retour,
        dagtekening_retour=today,
        header_codes=header_codes,
        element_codes=element_codes,
    )
    return retour, heen.header.law.function_name(320), heen.header.identificatie
