"""The mock GGk's reading of a Di01/Du01 envelope: ``parse_envelope``'s result, in one pass.

Every message the mock takes in is an envelope. :func:`connectors.ggk.parse_envelope`
validates it against the envelope XSD and then looks up each of its fourteen fields
with a path search, and reads the tijdstip with ``strptime``; the search and the date
parsing cost several times the validation. Here the same schema validates the same
element, and the fields - whose order and presence the schema has just checked - are
taken in one walk over the children.

Only an envelope that passes every check of ``parse_envelope`` (XSD, UUID v4, base64,
size, tijdstip) is read here; for any other, ``parse_envelope`` itself runs, so the
refusal - code and text - is exactly the connector's.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from lxml import etree

from connectors.ggk import (
    ENVELOPE_XSD,
    MAX_ENVELOPE_BYTES,
    Heenbericht,
    Retourbericht,
    Systeem,
    is_uuid4,
    parse_envelope,
)
from connectors.ggk.envelope import DI01_TAG, DU01_TAG, GGK_NS, STUF_NS
from connectors.xsd import load_schema

_STUF = f"{{{STUF_NS}}}"
_GGK = f"{{{GGK_NS}}}"
_BESTANDSNAAM = f"{_STUF}bestandsnaam"


def read_envelope(element: etree._Element) -> Heenbericht | Retourbericht:
    """What ``parse_envelope(element)`` returns, or raises: :class:`EnvelopeError` with the chain's code."""
    if element.tag not in (DI01_TAG, DU01_TAG) or not load_schema(ENVELOPE_XSD).validate(element):
        return parse_envelope(element)
    read = _read(element)
    return parse_envelope(element) if read is None else read


def _read(root: etree._Element) -> Heenbericht | Retourbericht | None:
    """The envelope of a schema-valid ``root``; None when a check beyond the schema fails."""
    sg, params = _elements(root)
    fields = _texts(sg)
    parameters = _texts(params)
    referentienummer = fields[f"{_STUF}referentienummer"] or ""
    cross_ref = fields.get(f"{_STUF}crossRefnummer")
    if not is_uuid4(referentienummer) or (cross_ref is not None and not is_uuid4(cross_ref)):
        return None
    bericht = _last(params)
    encoded = "".join((bericht.text or "").split())
    if len(encoded) > MAX_ENVELOPE_BYTES:
        return None
    try:
        payload = base64.b64decode(encoded, validate=True)
        tijdstip = _tijdstip(fields[f"{_STUF}tijdstipBericht"] or "")
    except (binascii.Error, ValueError):
        return None
    zender, ontvanger = (_systeem(el) for el in sg.iterchildren(f"{_STUF}zender", f"{_STUF}ontvanger"))
    h = Heenbericht(
        zender=zender,
        ontvanger=ontvanger,
        referentienummer=referentienummer,
        tijdstip=tijdstip,
        functie=fields[f"{_STUF}functie"] or "",
        payload=payload,
        bestandsnaam=bericht.get(_BESTANDSNAAM) or "",
        referentienummer_bericht=parameters.get(f"{_GGK}referentienummerBericht"),
        applicatie_versie=parameters[f"{_GGK}applicatieVersie"] or "",
        applicatie_subversie=parameters[f"{_GGK}applicatieSubversie"] or "",
        functie_versie=parameters[f"{_GGK}functieVersie"] or "",
        functie_subversie=parameters[f"{_GGK}functieSubversie"] or "",
    )
    if root.tag == DI01_TAG:
        return h
    return Retourbericht(
        zender=h.zender,
        ontvanger=h.ontvanger,
        referentienummer=h.referentienummer,
        cross_refnummer=cross_ref or "",
        tijdstip=h.tijdstip,
        functie=h.functie,
        payload=h.payload,
        bestandsnaam=h.bestandsnaam,
        referentienummer_bericht=h.referentienummer_bericht,
        cross_refnummer_bericht=parameters.get(f"{_GGK}crossRefnummerBericht"),
        applicatie_versie=h.applicatie_versie,
        applicatie_subversie=h.applicatie_subversie,
        functie_versie=h.functie_versie,
        functie_subversie=h.functie_subversie,
    )


def _elements(parent: etree._Element) -> list[etree._Element]:
    """The child elements (comments and processing instructions left out)."""
    return [child for child in parent if isinstance(child.tag, str)]


def _last(parent: etree._Element) -> etree._Element:
    return _elements(parent)[-1]


def _texts(parent: etree._Element) -> dict[str, str | None]:
    """Tag -> stripped text of each child element (the schema allows each tag once)."""
    return {child.tag: (child.text or "").strip() for child in _elements(parent)}


def _systeem(el: etree._Element) -> Systeem:
    fields = _texts(el)
    return Systeem(
        organisatie=fields.get(f"{_STUF}organisatie") or "",
        applicatie=fields[f"{_STUF}applicatie"] or "",
        administratie=fields.get(f"{_STUF}administratie"),
        gebruiker=fields.get(f"{_STUF}gebruiker"),
    )


def _tijdstip(text: str) -> datetime:
    """``parse_tijdstip`` for the schema's ``[0-9]{8,17}``, by slicing instead of ``strptime``.

    For a valid date and time both read the same; anything that does not slice into
    one raises ``ValueError``, and ``parse_envelope`` then decides as it always did.
    """
    digits = text.strip()
    if not digits.isascii() or not digits.isdigit() or not 8 <= len(digits) <= 17:
        raise ValueError(text)
    d = digits.ljust(14, "0")
    moment = datetime(int(d[0:4]), int(d[4:6]), int(d[6:8]), int(d[8:10]), int(d[10:12]), int(d[12:14]))
    if len(digits) > 14:
        moment = moment.replace(microsecond=int(digits[14:].ljust(3, "0")[:3]) * 1000)
    return moment
