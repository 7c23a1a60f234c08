"""What a mock aanbieder sends on its own initiative: a heenbericht in a Di01 for the gateway.

A test describes the message as JSON (:class:`SendRequest`); this module fills the
header the way a real aanbieder's software would - Afzender = its AGB code, Ontvanger =
the gemeentecode, a fresh BerichtIdentificatie, today's Dagtekening - renders the
payload with the project's own iJw/iWmo connector and wraps it in a Di01 envelope.
``raw_payload`` bypasses the connector so tests can send what no valid aanbieder would
(a payload failing its XSD, another law's namespace ...). Identifiers the test gives are
used as given: re-sending with the same referentienummer or BerichtIdentificatie is how
the gateway's duplicate handling (IB016-style re-sends, TR056) is exercised.

Pure: building the request does no I/O; the router posts it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.ggk import (
    Heenbericht,
    Systeem,
    mask_bsn_like,
    new_referentienummer,
    render_di01,
    soap_request,
)
from connectors.istandaard import Law, render_declaratie, render_start, render_stop, render_vot, render_vow
from connectors.istandaard.model import BerichtHeader
from connectors.istandaard.model_inbound import (
    Declaratie,
    StartBericht,
    StopBericht,
    VerzoekOmToewijzing,
    VerzoekOmWijziging,
)
from connectors.xml_input import XmlInputError, parse_xml
from connectors.xsd import SchemaValidationError
from mocks.ggk.aanbieders import AANBIEDER_APPLICATIE
from mocks.ggk.from_json import JsonModelError, from_json

#: Message number -> (model dataclass, renderer): what an aanbieder sends to a gemeente.
SENDABLE: dict[int, tuple[type[Any], Callable[[Any], bytes]]] = {
    305: (StartBericht, render_start),
    307: (StopBericht, render_stop),
    315: (VerzoekOmToewijzing, render_vot),
    317: (VerzoekOmWijziging, render_vow),
    323: (Declaratie, render_declaratie),
}
_FUNCTIE = re.compile(r"^(JW|WMO)([0-9]{3})$")
_LAW_OF_PREFIX = {"JW": Law.JEUGDWET, "WMO": Law.WMO}


class SendRequest(BaseModel):
    """``POST /_mock/aanbieder/{agb}/send``: one heenbericht, as model JSON or as raw XML."""

    model_config = ConfigDict(extra="forbid")

    #: ``JW305`` ... ``WMO323``; with ``raw_payload`` any ``JWnnn``/``WMOnnn`` (it only labels the envelope).
    functie: str = Field(pattern=r"^(JW|WMO)[0-9]{3}$")
    #: The message without its header, shaped like the model dataclass (dates as ISO strings).
    bericht: dict[str, Any] | None = None
    #: The payload as is, bypassing the connector (no header filled in, no validation).
    raw_payload: str | None = None
    #: Ontvanger of the payload header and the envelope; default the mock's configured gemeente.
    gemeentecode: str | None = Field(default=None, pattern=r"^[0-9]{4}$")
    #: Payload BerichtIdentificatie; default a fresh 12-character value.
    bericht_identificatie: str | None = Field(default=None, min_length=1, max_length=12)
    dagtekening: date | None = None
    #: The Di01's referentienummer; default a fresh UUID v4 (give one to re-send).
    referentienummer: str | None = Field(default=None, min_length=1, max_length=40)

    @model_validator(mode="after")
    def _one_payload(self) -> SendRequest:
        if (self.bericht is None) == (self.raw_payload is None):
            raise ValueError("give exactly one of 'bericht' and 'raw_payload'")
        if self.bericht is not None:
            number = int(self.functie[-3:])
            if number not in SENDABLE:
                raise ValueError(f"an aanbieder sends {sorted(SENDABLE)} as 'bericht', not {number}")
            if "header" in self.bericht:
                raise ValueError(
                    "'bericht' has no header: use gemeentecode/bericht_identificatie/dagtekening"
                )
        return self


class SendError(ValueError):
    """The request cannot become a message (bad JSON shape, schema violation); BSN-free."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A SOAP request ready to post, and the identifiers a test needs to follow it."""

    body: bytes
    headers: dict[str, str]
    referentienummer: str
    functie: str
    gemeentecode: str
    bericht_identificatie: str | None


def new_bericht_identificatie() -> str:
    """A BerichtIdentificatie unique for all practical purposes, within the standard's 12 characters."""
    return uuid.uuid4().hex[:12].upper()


def build_di01(agb: str, request: SendRequest, *, default_gemeentecode: str, now: datetime) -> Outgoing:
    """The Di01 SOAP request aanbieder ``agb`` sends for ``request``; :class:`SendError` if impossible."""
    functie = request.functie.upper()
    gemeentecode = request.gemeentecode or default_gemeentecode
    if request.raw_payload is not None:
        payload = request.raw_payload.encode("utf-8")
        identificatie = request.bericht_identificatie or _peek_identificatie(payload)
    else:
        assert request.bericht is not None  # guaranteed by SendRequest
        identificatie = request.bericht_identificatie or new_bericht_identificatie()
        header = BerichtHeader(
            law=law_of(functie),
            afzender=agb,
            ontvanger=gemeentecode,
            identificatie=identificatie,
            dagtekening=request.dagtekening or now.date(),
        )
        payload = render_payload(functie, request.bericht, header)
    h = Heenbericht(
        zender=Systeem(organisatie=agb, applicatie=AANBIEDER_APPLICATIE),
        ontvanger=Systeem(organisatie=gemeentecode, applicatie="GGk"),
        referentienummer=request.referentienummer or new_referentienummer(),
        tijdstip=now,
        functie=functie,
        payload=payload,
        referentienummer_bericht=identificatie,
    )
    try:
        body, headers = soap_request(render_di01(h), "ggk_Di01")
    except ValueError as exc:  # an envelope field the test chose breaks the envelope XSD
        raise SendError(mask_bsn_like(str(exc))[:500]) from None
    return Outgoing(body, headers, h.referentienummer, functie, gemeentecode, identificatie)


def law_of(functie: str) -> Law:
    match = _FUNCTIE.match(functie)
    if match is None:
        raise SendError(f"not a functie: {functie[:20]!r}")
    return _LAW_OF_PREFIX[match.group(1)]


def render_payload(functie: str, bericht: dict[str, Any], header: BerichtHeader) -> bytes:
    """Build the model of ``functie`` from ``bericht`` plus ``header`` and render it (XSD-validated)."""
    model, render = SENDABLE[int(functie[-3:])]
    try:
        message = from_json(model, {**bericht, "header": _header_json(header)}, path="bericht")
        return render(message)
    except JsonModelError as exc:
        raise SendError(str(exc)) from None
    except SchemaValidationError as exc:
        raise SendError(mask_bsn_like(str(exc))[:500]) from None


def _header_json(header: BerichtHeader) -> dict[str, Any]:
    return {
        "law": header.law.value,
        "afzender": header.afzender,
        "ontvanger": header.ontvanger,
        "identificatie": header.identificatie,
        "dagtekening": header.dagtekening.isoformat(),
    }


def _peek_identificatie(payload: bytes) -> str | None:
    """Best-effort BerichtIdentificatie of a raw payload, for tracing; ``None`` when unreadable."""
    try:
        root = parse_xml(payload)
    except XmlInputError:
        return None
    found = root.findtext("{*}Header/{*}BerichtIdentificatie/{*}Identificatie")
    if found is None or not found.strip() or len(found.strip()) > 40:
        return None
    return found.strip()
