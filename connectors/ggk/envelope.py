"""The StUF-GGk envelope: ``envelopHeenbericht-ggk_Di01`` and ``envelopRetourbericht-ggk_Du01``.

Every payload that travels through the GGk (a JW301, a TKB, a WMO405 ...) is carried
base64-encoded inside one of these envelopes; the envelope holds only what the chain
needs to route and trace it. This module turns the envelope into data and back, and
refuses envelopes with the code the GGk itself would use (RIN001, IB007, IB009), so the
gateway's inbound side answers the way the chain expects.

Identifiers are kept exactly as given: a re-send must reuse its ``referentienummer``
(the chain deduplicates on it), so rendering never invents one.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from lxml import etree

from connectors.ggk.errors import EnvelopeError
from connectors.xml_input import XmlInputError, parse_xml
from connectors.xsd import load_schema, violations

GGK_NS = "http://www.stufstandaarden.nl/sectormodel/ggk/0210"
STUF_NS = "http://www.egem.nl/StUF/StUF0301"
XMIME_NS = "http://www.w3.org/2005/05/xmlmime"
NSMAP = {"GGK": GGK_NS, "StUF": STUF_NS, "xmime": XMIME_NS}

#: The project's own envelope schema, relative to ``schemas/``.
ENVELOPE_XSD = "ggk/ggk-envelope.xsd"
#: The project's StUF 0301 subset (Bv03Bericht, Fo01Bericht, Fo03Bericht).
STUF_XSD = "ggk/stuf0301-ggk.xsd"

#: The chain's limit for a whole envelope, base64 payload included (IB007).
MAX_ENVELOPE_BYTES = 25 * 1024 * 1024

DI01_TAG = f"{{{GGK_NS}}}envelopHeenbericht-ggk_Di01"
DU01_TAG = f"{{{GGK_NS}}}envelopRetourbericht-ggk_Du01"

_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_BESTANDSNAAM = re.compile(r"^[0-9A-Za-z._-]{1,255}$")
_VERSIENR = re.compile(r"^[0-9]{4}$")
_NAMESPACE = re.compile(r"\{[^}]*\}")
_DUTCH_TIME = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True, slots=True)
class Systeem:
    """A StUF ``zender``/``ontvanger``: organisatie is a CBS gemeentecode, an AGB code or a party name."""

    organisatie: str
    applicatie: str = "GGk"
    administratie: str | None = None
    gebruiker: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Heenbericht:
    """A ``ggk_Di01``: an initiating message (JW301, TKB, WMO405 ...) with its payload decoded."""

    zender: Systeem
    ontvanger: Systeem
    referentienummer: str
    tijdstip: datetime
    functie: str
    payload: bytes
    #: Empty means ``<functie>.xml``.
    bestandsnaam: str = ""
    #: The payload's own BerichtIdentificatie, for tracing across the two layers.
    referentienummer_bericht: str | None = None
    applicatie_versie: str = "0001"
    applicatie_subversie: str = "0000"
    functie_versie: str = "0003"
    functie_subversie: str = "0002"

    def __post_init__(self) -> None:
        if not self.bestandsnaam:
            object.__setattr__(self, "bestandsnaam", f"{self.functie}.xml")


@dataclass(frozen=True, slots=True, kw_only=True)
class Retourbericht:
    """A ``ggk_Du01``: the answer (JW302 ...) to a Di01, linked by ``cross_refnummer``."""

    zender: Systeem
    ontvanger: Systeem
    referentienummer: str
    cross_refnummer: str
    tijdstip: datetime
    functie: str
    payload: bytes
    bestandsnaam: str = ""
    referentienummer_bericht: str | None = None
    #: The BerichtIdentificatie of the heenbericht this answers.
    cross_refnummer_bericht: str | None = None
    applicatie_versie: str = "0001"
    applicatie_subversie: str = "0000"
    functie_versie: str = "0003"
    functie_subversie: str = "0002"

    def __post_init__(self) -> None:
        if not self.bestandsnaam:
            object.__setattr__(self, "bestandsnaam", f"{self.functie}.xml")


def new_referentienummer() -> str:
    """A fresh UUID v4, as the chain requires for every new message."""
    return str(uuid.uuid4())


def is_uuid4(value: str) -> bool:
    """True for a lower-case RFC 4122 version 4 UUID in its canonical form."""
    return bool(_UUID4.match(value.lower())) and value == value.strip()


def format_tijdstip(moment: datetime) -> str:
    """``YYYYMMDDhhmmss`` in Dutch local time (aware datetimes are converted first)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(_DUTCH_TIME).replace(tzinfo=None)
    return moment.strftime("%Y%m%d%H%M%S")


def parse_tijdstip(text: str) -> datetime:
    """Read a StUF Tijdstip (8 to 17 digits: date, time, optional milliseconds) as naive local time."""
    digits = text.strip()
    if not digits.isdigit() or not 8 <= len(digits) <= 17:
        raise ValueError(f"not a StUF tijdstip: {text!r}")
    padded = digits.ljust(14, "0")
    moment = datetime.strptime(padded[:14], "%Y%m%d%H%M%S")
    if len(digits) > 14:
        moment = moment.replace(microsecond=int(digits[14:].ljust(3, "0")[:3]) * 1000)
    return moment


# --- rendering -----------------------------------------------------------------------------------


def render_di01(h: Heenbericht) -> bytes:
    """The Di01 envelope as UTF-8 XML bytes (no BOM), validated against the project's schema."""
    return serialize_envelope(build_di01(h))


def build_di01(h: Heenbericht) -> etree._Element:
    """The validated Di01 envelope element (to wrap in SOAP without serialising twice)."""
    root = etree.Element(DI01_TAG, nsmap=NSMAP)
    _stuurgegevens(root, "Di01", h.zender, h.ontvanger, h.referentienummer, h.tijdstip, None, h.functie)
    params = etree.SubElement(root, _g("parameters"))
    _opt(params, _g("referentienummerBericht"), h.referentienummer_bericht)
    _parameters_tail(
        params,
        h.applicatie_versie,
        h.applicatie_subversie,
        h.functie_versie,
        h.functie_subversie,
        h.bestandsnaam,
        h.payload,
    )
    return _validated(root)


def render_du01(r: Retourbericht) -> bytes:
    """The Du01 envelope as UTF-8 XML bytes (no BOM), validated against the project's schema."""
    return serialize_envelope(build_du01(r))


def build_du01(r: Retourbericht) -> etree._Element:
    """The validated Du01 envelope element (to wrap in SOAP without serialising twice)."""
    root = etree.Element(DU01_TAG, nsmap=NSMAP)
    _stuurgegevens(
        root, "Du01", r.zender, r.ontvanger, r.referentienummer, r.tijdstip, r.cross_refnummer, r.functie
    )
    params = etree.SubElement(root, _g("parameters"))
    _opt(params, _g("referentienummerBericht"), r.referentienummer_bericht)
    _opt(params, _g("crossRefnummerBericht"), r.cross_refnummer_bericht)
    _parameters_tail(
        params,
        r.applicatie_versie,
        r.applicatie_subversie,
        r.functie_versie,
        r.functie_subversie,
        r.bestandsnaam,
        r.payload,
    )
    return _validated(root)


def systeem_element(parent: etree._Element, name: str, systeem: Systeem) -> etree._Element:
    """Append a StUF Systeem (``zender``/``ontvanger``); an empty organisatie is left out."""
    el = etree.SubElement(parent, _s(name))
    _opt(el, _s("organisatie"), systeem.organisatie or None)
    etree.SubElement(el, _s("applicatie")).text = systeem.applicatie
    _opt(el, _s("administratie"), systeem.administratie)
    _opt(el, _s("gebruiker"), systeem.gebruiker)
    return el


def _stuurgegevens(
    root: etree._Element,
    code: str,
    zender: Systeem,
    ontvanger: Systeem,
    referentienummer: str,
    tijdstip: datetime,
    cross_ref: str | None,
    functie: str,
) -> None:
    sg = etree.SubElement(root, _g("stuurgegevens"))
    etree.SubElement(sg, _s("berichtcode")).text = code
    systeem_element(sg, "zender", zender)
    systeem_element(sg, "ontvanger", ontvanger)
    etree.SubElement(sg, _s("referentienummer")).text = referentienummer
    etree.SubElement(sg, _s("tijdstipBericht")).text = format_tijdstip(tijdstip)
    if cross_ref is not None:
        etree.SubElement(sg, _s("crossRefnummer")).text = cross_ref
    etree.SubElement(sg, _s("functie")).text = functie


def _parameters_tail(
    params: etree._Element,
    app_v: str,
    app_sv: str,
    fun_v: str,
    fun_sv: str,
    bestandsnaam: str,
    payload: bytes,
) -> None:
    for name, value in (
        ("applicatieVersie", app_v),
        ("applicatieSubversie", app_sv),
        ("functieVersie", fun_v),
        ("functieSubversie", fun_sv),
    ):
        if not _VERSIENR.match(value):
            raise ValueError(f"{name} must be 4 digits, got {value!r}")
        etree.SubElement(params, _g(name)).text = value
    if not _BESTANDSNAAM.match(bestandsnaam):
        raise ValueError(f"bestandsnaam may hold only [0-9A-Za-z._-], at most 255: {bestandsnaam!r}")
    bericht = etree.SubElement(params, _g("bericht"))
    bericht.set(_s("bestandsnaam"), bestandsnaam)
    bericht.set(f"{{{XMIME_NS}}}contentType", "application/xml")
    bericht.text = base64.b64encode(payload).decode("ascii")


def _validated(root: etree._Element) -> etree._Element:
    found = violations(load_schema(ENVELOPE_XSD), root)
    if found:
        raise ValueError(f"rendered envelope does not validate: {found[0]}")
    return root


def serialize_envelope(root: etree._Element) -> bytes:
    """UTF-8 bytes with declaration; IB007 when over the GGk's 25 MB limit."""
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    if len(data) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError.of("IB007", f"envelope would be {len(data)} bytes")
    return data


def _opt(parent: etree._Element, tag: str, value: str | None) -> None:
    if value is not None:
        etree.SubElement(parent, tag).text = value


def _g(name: str) -> str:
    return f"{{{GGK_NS}}}{name}"


def _s(name: str) -> str:
    return f"{{{STUF_NS}}}{name}"


# --- parsing -------------------------------------------------------------------------------------


def parse_envelope(
    xml_or_element: bytes | etree._Element, *, require_uuid4: bool = True
) -> Heenbericht | Retourbericht:
    """Read a Di01 or Du01 envelope, or raise :class:`EnvelopeError` with the chain's code.

    RIN001 when it is not well-formed or fails the envelope XSD, IB007 when larger than
    25 MB, IB009 when a (cross)referentienummer is not a UUID v4 (``require_uuid4=False``
    reads old envelopes, such as the published examples, whose UUIDs are version 1).
    """
    if isinstance(xml_or_element, bytes | bytearray):
        data = bytes(xml_or_element)
        if len(data) > MAX_ENVELOPE_BYTES:
            raise EnvelopeError.of("IB007", f"envelope is {len(data)} bytes, limit is {MAX_ENVELOPE_BYTES}")
        try:
            root = parse_xml(data)
        except XmlInputError as exc:
            raise EnvelopeError.of("RIN001", str(exc)) from None
    else:
        root = xml_or_element
    if root.tag not in (DI01_TAG, DU01_TAG):
        raise EnvelopeError.of("RIN001", f"unexpected element {etree.QName(root).localname}")
    schema = load_schema(ENVELOPE_XSD)
    if schema.validate(root):
        read = _read_valid(root, require_uuid4)
        if read is not None:
            return read
    return _parse_checked(root, require_uuid4)


def _read_valid(root: etree._Element, require_uuid4: bool) -> Heenbericht | Retourbericht | None:
    """The envelope of a schema-valid ``root`` in one walk over its children; None on any doubt.

    The schema has just fixed which children there are and in which order, so the
    fields are taken as they come instead of by fourteen path searches, and the
    tijdstip is sliced instead of read with ``strptime``. Whenever a check beyond the
    schema fails (UUID v4, size, base64, date), None sends the envelope through
    :func:`_parse_checked`, whose refusal - code and text - is the reference.
    """
    sg, params = _elements(root)
    fields = _texts(sg)
    parameters = _texts(params)
    referentienummer = fields[_REFERENTIENUMMER]
    cross_ref = fields.get(_CROSS_REFNUMMER)
    if require_uuid4 and (
        not is_uuid4(referentienummer) or (cross_ref is not None and not is_uuid4(cross_ref))
    ):
        return None
    bericht = _elements(params)[-1]
    encoded = "".join((bericht.text or "").split())
    if len(encoded) > MAX_ENVELOPE_BYTES:
        return None
    try:
        payload = base64.b64decode(encoded, validate=True)
        tijdstip = _sliced_tijdstip(fields[_TIJDSTIP])
    except (binascii.Error, ValueError):
        return None
    zender, ontvanger = (_systeem_of(el) for el in sg.iterchildren(_ZENDER, _ONTVANGER))
    h = Heenbericht(
        zender=zender,
        ontvanger=ontvanger,
        referentienummer=referentienummer,
        tijdstip=tijdstip,
        functie=fields[_FUNCTIE],
        payload=payload,
        bestandsnaam=bericht.get(_BESTANDSNAAM_ATTR) or "",
        referentienummer_bericht=parameters.get(_REFERENTIENUMMER_BERICHT),
        applicatie_versie=parameters[_APPLICATIE_VERSIE],
        applicatie_subversie=parameters[_APPLICATIE_SUBVERSIE],
        functie_versie=parameters[_FUNCTIE_VERSIE],
        functie_subversie=parameters[_FUNCTIE_SUBVERSIE],
    )
    if root.tag == DI01_TAG:
        return h
    return _as_retour(h, cross_ref, parameters.get(_CROSS_REFNUMMER_BERICHT))


_REFERENTIENUMMER = _s("referentienummer")
_CROSS_REFNUMMER = _s("crossRefnummer")
_TIJDSTIP = _s("tijdstipBericht")
_FUNCTIE = _s("functie")
_ZENDER = _s("zender")
_ONTVANGER = _s("ontvanger")
_ORGANISATIE = _s("organisatie")
_APPLICATIE = _s("applicatie")
_ADMINISTRATIE = _s("administratie")
_GEBRUIKER = _s("gebruiker")
_BESTANDSNAAM_ATTR = _s("bestandsnaam")
_REFERENTIENUMMER_BERICHT = _g("referentienummerBericht")
_CROSS_REFNUMMER_BERICHT = _g("crossRefnummerBericht")
_APPLICATIE_VERSIE = _g("applicatieVersie")
_APPLICATIE_SUBVERSIE = _g("applicatieSubversie")
_FUNCTIE_VERSIE = _g("functieVersie")
_FUNCTIE_SUBVERSIE = _g("functieSubversie")


def _elements(parent: etree._Element) -> list[etree._Element]:
    """The child elements (comments and processing instructions left out)."""
    return [child for child in parent if isinstance(child.tag, str)]


def _texts(parent: etree._Element) -> dict[str, str]:
    """Tag -> stripped text of each child element (the schema allows each tag once)."""
    return {child.tag: (child.text or "").strip() for child in parent if isinstance(child.tag, str)}


def _systeem_of(el: etree._Element) -> Systeem:
    fields = _texts(el)
    return Systeem(
        organisatie=fields.get(_ORGANISATIE) or "",
        applicatie=fields[_APPLICATIE],
        administratie=fields.get(_ADMINISTRATIE),
        gebruiker=fields.get(_GEBRUIKER),
    )


def _sliced_tijdstip(text: str) -> datetime:
    """:func:`parse_tijdstip` for the schema's ``[0-9]{8,17}``, by slicing instead of ``strptime``.

    For a valid date and time both read the same; anything that does not slice into one
    raises ``ValueError``, and :func:`_parse_checked` then refuses it as it always did.
    """
    digits = text.strip()
    if not digits.isascii() or not digits.isdigit() or not 8 <= len(digits) <= 17:
        raise ValueError(text)
    d = digits.ljust(14, "0")
    moment = datetime(int(d[0:4]), int(d[4:6]), int(d[6:8]), int(d[8:10]), int(d[10:12]), int(d[12:14]))
    if len(digits) > 14:
        moment = moment.replace(microsecond=int(digits[14:].ljust(3, "0")[:3]) * 1000)
    return moment


def _parse_checked(root: etree._Element, require_uuid4: bool) -> Heenbericht | Retourbericht:
    """The reference reading, check by check: every refusal's code and text comes from here."""
    found = violations(load_schema(ENVELOPE_XSD), root)
    if found:
        first = found[0]
        raise EnvelopeError.of("RIN001", f"line {first.line}: {_NAMESPACE.sub('', first.message)}")

    sg = _child(root, _g("stuurgegevens"))
    params = _child(root, _g("parameters"))
    referentienummer = _text(sg, _s("referentienummer"))
    cross_ref = _opt_text(sg, _s("crossRefnummer"))
    if require_uuid4:
        for label, value in (("referentienummer", referentienummer), ("crossRefnummer", cross_ref)):
            if value is not None and not is_uuid4(value):
                raise EnvelopeError.of("IB009", f"{label} {value[:40]!r}")
    bericht = _child(params, _g("bericht"))
    encoded = "".join((bericht.text or "").split())
    if len(encoded) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError.of("IB007", "payload exceeds the envelope limit")
    try:
        payload = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError.of("RIN001", "parameters/bericht is not valid base64") from None
    try:
        tijdstip = parse_tijdstip(_text(sg, _s("tijdstipBericht")))
    except ValueError as exc:
        raise EnvelopeError.of("RIN001", str(exc)) from None

    h = Heenbericht(
        zender=_systeem(_child(sg, _s("zender"))),
        ontvanger=_systeem(_child(sg, _s("ontvanger"))),
        referentienummer=referentienummer,
        tijdstip=tijdstip,
        functie=_text(sg, _s("functie")),
        payload=payload,
        bestandsnaam=bericht.get(_s("bestandsnaam")) or "",
        referentienummer_bericht=_opt_text(params, _g("referentienummerBericht")),
        applicatie_versie=_text(params, _g("applicatieVersie")),
        applicatie_subversie=_text(params, _g("applicatieSubversie")),
        functie_versie=_text(params, _g("functieVersie")),
        functie_subversie=_text(params, _g("functieSubversie")),
    )
    if root.tag == DI01_TAG:
        return h
    return _as_retour(h, cross_ref, _opt_text(params, _g("crossRefnummerBericht")))


def read_systeem(element: etree._Element) -> Systeem:
    """Read a StUF Systeem element (shared with the SOAP control messages)."""
    return _systeem(element)


def _systeem(el: etree._Element) -> Systeem:
    return Systeem(
        organisatie=_opt_text(el, _s("organisatie")) or "",
        applicatie=_text(el, _s("applicatie")),
        administratie=_opt_text(el, _s("administratie")),
        gebruiker=_opt_text(el, _s("gebruiker")),
    )


def _child(parent: etree._Element, tag: str) -> etree._Element:
    el = parent.find(tag)
    if el is None:  # the schema makes this unreachable; kept for non-validated callers
        raise EnvelopeError.of("RIN001", f"missing {etree.QName(tag).localname}")
    return el


def _text(parent: etree._Element, tag: str) -> str:
    return (_child(parent, tag).text or "").strip()


def _opt_text(parent: etree._Element, tag: str) -> str | None:
    el = parent.find(tag)
    return None if el is None else (el.text or "").strip()


def _as_retour(h: Heenbericht, cross_ref: str | None, cross_ref_bericht: str | None) -> Retourbericht:
    """A Du01 read as a Heenbericht plus its two cross-references (both readers end here)."""
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
        cross_refnummer_bericht=cross_ref_bericht,
        applicatie_versie=h.applicatie_versie,
        applicatie_subversie=h.applicatie_subversie,
        functie_versie=h.functie_versie,
        functie_subversie=h.functie_subversie,
    )
