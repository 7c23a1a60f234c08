"""SOAP 1.1 transport of the GGk envelopes (WSDL ``ggk0310_OntvangAsynchroon``).

Document/literal: the SOAP Body holds exactly one element - a Di01 or Du01 envelope,
or a StUF ``Fo01Bericht`` - and the synchronous answer is a StUF ``Bv03Bericht``
("received, will be processed") or a SOAP Fault whose detail holds a ``Fo03Bericht``
with the chain's error code. Functional errors about a message that was accepted come
later, asynchronously, as a separate ``Fo01`` request.

This module only builds and reads bytes; the gateway and the mocks do the HTTP.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, Literal

from lxml import etree

from connectors.ggk.envelope import (
    DI01_TAG,
    DU01_TAG,
    MAX_ENVELOPE_BYTES,
    NSMAP,
    STUF_NS,
    STUF_XSD,
    Heenbericht,
    Retourbericht,
    Systeem,
    build_di01,
    build_du01,
    new_referentienummer,
    read_systeem,
    systeem_element,
)
from connectors.ggk.envelope import format_tijdstip as _format_tijdstip
from connectors.ggk.errors import EnvelopeError, Plek, is_retryable, mask_bsn_like
from connectors.marked_template import MarkedTemplate, TemplateCache
from connectors.xml_input import XmlInputError, parse_xml
from connectors.xsd import load_schema, violations

SOAP_NS: Final = "http://schemas.xmlsoap.org/soap/envelope/"
Operation = Literal["ggk_Di01", "ggk_Du01", "Fo01"]

_BV03_TAG = f"{{{STUF_NS}}}Bv03Bericht"
_FO01_TAG = f"{{{STUF_NS}}}Fo01Bericht"
_FO03_TAG = f"{{{STUF_NS}}}Fo03Bericht"

#: How the GGk itself signs control messages (GGk specification §2.5).
GGK_SYSTEEM = Systeem(organisatie="IB", applicatie="GGKWebservice")


class SoapAction:
    """The soapAction URIs of the WSDL's three operations."""

    DI01: Final = "http://www.stufstandaarden.nl/sectormodel/ggk/0210/ggk_Di01"
    DU01: Final = "http://www.stufstandaarden.nl/sectormodel/ggk/0210/ggk_Du01"
    FO01: Final = "http://www.egem.nl/StUF/StUF0301/Fo01"


_ACTIONS: dict[str, Operation] = {
    SoapAction.DI01: "ggk_Di01",
    SoapAction.DU01: "ggk_Du01",
    SoapAction.FO01: "Fo01",
}
_ACTION_OF: dict[Operation, str] = {op: action for action, op in _ACTIONS.items()}
_ELEMENT_OF: dict[Operation, str] = {"ggk_Di01": DI01_TAG, "ggk_Du01": DU01_TAG, "Fo01": _FO01_TAG}


@dataclass(frozen=True, slots=True)
class InboundSoap:
    """A SOAP request as received: which operation, and the Body's element."""

    operation: Operation
    element: etree._Element


@dataclass(frozen=True, slots=True)
class SoapAnswer:
    """The synchronous answer to a SOAP request, classified for the delivery engine."""

    kind: Literal["bv03", "fo03", "fault", "unreadable"]
    status_code: int
    code: str | None = None
    omschrijving: str | None = None

    @property
    def accepted(self) -> bool:
        return self.kind == "bv03"

    @property
    def retryable(self) -> bool:
        """Whether offering the same message again may succeed.

        A Fo03 is judged by its code (IB103 only); a bare fault or unreadable answer by the
        HTTP status: 5xx, 408 and 429 are transient, anything else is not.
        """
        if self.kind == "bv03":
            return False
        if self.kind == "fo03":
            return is_retryable(self.code)
        return self.status_code >= 500 or self.status_code in (408, 429)


@dataclass(frozen=True, slots=True)
class Fo01:
    """An asynchronous StUF Fo01: a message (``cross_ref``) was refused further down the chain."""

    zender: Systeem
    ontvanger: Systeem
    referentienummer: str
    cross_ref: str
    code: str
    plek: str
    omschrijving: str
    details: str | None = None


# --- requests ------------------------------------------------------------------------------------


def soap_headers(operation: Operation) -> dict[str, str]:
    """HTTP headers of a SOAP 1.1 request for ``operation`` (the action quoted, as SOAP 1.1 asks)."""
    return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{_ACTION_OF[operation]}"'}


def soap_request(envelope_xml: bytes, operation: str) -> tuple[bytes, dict[str, str]]:
    """Wrap an envelope (or Fo01Bericht) in a SOAP 1.1 Envelope; return body and headers."""
    op = _operation(operation)
    element = parse_xml(envelope_xml, max_bytes=MAX_ENVELOPE_BYTES)
    if element.tag != _ELEMENT_OF[op]:
        raise ValueError(f"{etree.QName(element).localname} is not the body of operation {op}")
    return _soap(element), soap_headers(op)


def soap_di01(h: Heenbericht) -> bytes:
    """A Di01 wrapped in its SOAP request body (the outbox's hot path), from a template when it can be.

    The bytes are always those of :func:`_soap_sized` ``(build_di01(h))``; see :class:`_Di01Templates`.
    """
    return _DI01_TEMPLATES.render(h)


def soap_du01(r: Retourbericht) -> bytes:
    """A Du01 wrapped in its SOAP request body, built and serialised once."""
    return _soap_sized(build_du01(r))


def _soap_sized(element: etree._Element) -> bytes:
    body = _soap(element)
    if len(body) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError.of("IB007", f"request would be {len(body)} bytes")
    return body


# --- Di01 templates -------------------------------------------------------------------------------

#: Marker values: each valid where it stands, and (checked) found nowhere else in the document.
_REF_MARK = "00000000-0000-4000-8000-00000000d101"
_TIJDSTIP_MARK_AT = datetime(1999, 12, 31, 23, 59, 58)
_BESTANDSNAAM_MARK = "MARKbestandsnaam.d101"
_BERICHT_MARK = "MARKbericht.d101"
_PAYLOAD_MARK = b"ggk di01 payload marker"
#: The per-message forms a template takes: none needs escaping in XML text or a quoted
#: attribute, and each is valid wherever its marker was (StUF ``Refnummer`` is any string
#: up to 40, ``Tijdstip`` 8 to 17 digits, ``Bestandsnaam`` up to 255 characters, and the
#: builder itself allows only these characters in a bestandsnaam).
_SAFE_REFNUMMER = re.compile(r"[0-9A-Za-z._-]{1,40}")
_SAFE_BESTANDSNAAM = re.compile(r"[0-9A-Za-z._-]{1,255}")
_SAFE_TIJDSTIP = re.compile(r"[0-9]{14}")
#: Far below the 25 MB limit (IB007), which the filled body is checked against all the same.
_MAX_TEMPLATE_PAYLOAD = 1_000_000


class _Di01Templates:
    """Di01 SOAP requests from templates, per everything but the per-message values.

    Between two heenberichten from one gemeente to one aanbieder only the referentienummer,
    the tijdstipBericht, the bestandsnaam, the referentienummerBericht and the payload
    change. So the builder renders and validates one document per (zender, ontvanger,
    functie, versions) with marker values in those places, and a message is that document
    with the markers replaced - only by values of the forms above, so a filled template
    validates whenever the marked one did. Any other value, or a template that cannot be
    made, goes to the builder, whose bytes and errors are the reference. Thread-safe.
    """

    def __init__(self) -> None:
        self._cache = TemplateCache()

    def render(self, h: Heenbericht) -> bytes:
        """``_soap_sized(build_di01(h))``, byte for byte."""
        try:
            tijdstip = _format_tijdstip(h.tijdstip)
        except (ValueError, OverflowError):
            return _soap_sized(build_di01(h))  # the builder raises, in its own order
        if not _fits(h, tijdstip):
            return _soap_sized(build_di01(h))
        key = (
            h.zender,
            h.ontvanger,
            h.functie,
            h.referentienummer_bericht is None,
            h.applicatie_versie,
            h.applicatie_subversie,
            h.functie_versie,
            h.functie_subversie,
        )
        template = self._cache.get(key, lambda: _di01_template(h))
        if template is None:
            return _soap_sized(build_di01(h))
        values = [
            h.referentienummer.encode("ascii"),
            tijdstip.encode("ascii"),
            h.bestandsnaam.encode("ascii"),
            base64.b64encode(h.payload),
        ]
        if h.referentienummer_bericht is not None:
            values.append(h.referentienummer_bericht.encode("ascii"))
        body = template.fill(values)
        if len(body) > MAX_ENVELOPE_BYTES:
            return _soap_sized(build_di01(h))  # raises IB007 with the builder's text
        return body


def _fits(h: Heenbericht, tijdstip: str) -> bool:
    """Whether ``h``'s per-message values have the forms a template may take."""
    return (
        _SAFE_REFNUMMER.fullmatch(h.referentienummer) is not None
        and _SAFE_TIJDSTIP.fullmatch(tijdstip) is not None
        and _SAFE_BESTANDSNAAM.fullmatch(h.bestandsnaam) is not None
        and (
            h.referentienummer_bericht is None
            or _SAFE_REFNUMMER.fullmatch(h.referentienummer_bericht) is not None
        )
        and 0 < len(h.payload) < _MAX_TEMPLATE_PAYLOAD
    )


def _di01_template(h: Heenbericht) -> MarkedTemplate | None:
    """The marked Di01 of ``h``'s party and functie, cut at its markers; None when it cannot be made."""
    marked = replace(
        h,
        referentienummer=_REF_MARK,
        tijdstip=_TIJDSTIP_MARK_AT,
        bestandsnaam=_BESTANDSNAAM_MARK,
        referentienummer_bericht=None if h.referentienummer_bericht is None else _BERICHT_MARK,
        payload=_PAYLOAD_MARK,
    )
    try:
        rendered = _soap_sized(build_di01(marked))
    except (ValueError, EnvelopeError):
        return None  # the builder refuses these fields: it refuses each message, with its own text
    marks = [  # in the order of the values in _Di01Templates.render
        (b">", _REF_MARK.encode(), b"<"),
        (b">", _format_tijdstip(_TIJDSTIP_MARK_AT).encode(), b"<"),
        (b'="', _BESTANDSNAAM_MARK.encode(), b'"'),
        (b">", base64.b64encode(_PAYLOAD_MARK), b"<"),
    ]
    if h.referentienummer_bericht is not None:
        marks.append((b">", _BERICHT_MARK.encode(), b"<"))
    return MarkedTemplate.cut(rendered, marks)


_DI01_TEMPLATES = _Di01Templates()


def parse_soap_request(
    body: bytes, soap_action: str | None, root: etree._Element | None = None
) -> InboundSoap:
    """Read an inbound SOAP request, or raise :class:`EnvelopeError` (IB007, RIN001).

    The operation follows from the Body's element; a SOAPAction header, when present,
    must agree with it. ``root``: the body already parsed (with :func:`parse_xml`) by a
    caller that had to look inside first, so a large envelope is not parsed twice.
    """
    if len(body) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError.of("IB007", f"request is {len(body)} bytes, limit is {MAX_ENVELOPE_BYTES}")
    if root is None:
        try:
            root = parse_xml(body)
        except XmlInputError as exc:
            raise EnvelopeError.of("RIN001", str(exc)) from None
    element = _body_element(root)
    if element is None:
        raise EnvelopeError.of("RIN001", "not a SOAP 1.1 Envelope with one element in its Body")
    operations = [op for op, tag in _ELEMENT_OF.items() if tag == element.tag]
    if not operations:
        raise EnvelopeError.of("RIN001", f"unexpected element {etree.QName(element).localname!r}")
    operation = operations[0]
    action = (soap_action or "").strip().strip('"')
    if action and _ACTIONS.get(action) != operation:
        raise EnvelopeError.of("RIN001", f"SOAPAction {action[:100]!r} does not match the body")
    return InboundSoap(operation, element)


# --- responses -----------------------------------------------------------------------------------


def render_bv03(
    zender: Systeem,
    ontvanger: Systeem,
    referentienummer: str,
    cross_ref: str,
    *,
    tijdstip: datetime | None = None,
) -> bytes:
    """A SOAP response holding a StUF Bv03Bericht: the message ``cross_ref`` was received.

    From a template per (zender, ontvanger) when the values allow it (see
    :class:`_Bv03Templates`): the gateway answers every Du01 with one. The same bytes.
    """
    moment = tijdstip or datetime.now()
    filled = _BV03_TEMPLATES.render(zender, ontvanger, referentienummer, cross_ref, moment)
    if filled is not None:
        return filled
    return _build_bv03(zender, ontvanger, referentienummer, cross_ref, moment)


def _build_bv03(
    zender: Systeem, ontvanger: Systeem, referentienummer: str, cross_ref: str, tijdstip: datetime
) -> bytes:
    """:func:`render_bv03` element by element, validated: the reference for its templates."""
    bv03 = etree.Element(_BV03_TAG, nsmap={"StUF": STUF_NS})
    _control_stuurgegevens(bv03, "Bv03", zender, ontvanger, referentienummer, cross_ref, tijdstip)
    _validate(bv03)
    return _soap(bv03)


class _Bv03Templates:
    """Bv03 answers from templates, per (zender, ontvanger); thread-safe.

    As for the Di01 (:class:`_Di01Templates`): only the referentienummer, the
    tijdstipBericht and the crossRefnummer change between two answers to one party, so one
    document per party is rendered and validated with marker values there, and an answer
    is that document with the markers replaced - only by values of the forms a template
    takes (each valid wherever its marker was, none needing escaping). Anything else goes
    to the builder, whose bytes and errors are the reference.
    """

    def __init__(self) -> None:
        self._cache = TemplateCache()

    def render(
        self, zender: Systeem, ontvanger: Systeem, referentienummer: str, cross_ref: str, tijdstip: datetime
    ) -> bytes | None:
        """The Bv03 from a template, or None when the builder must make it."""
        try:
            moment = _format_tijdstip(tijdstip)
        except (ValueError, OverflowError):
            return None  # the builder raises, in its own words
        if not (
            _SAFE_REFNUMMER.fullmatch(referentienummer)
            and _SAFE_REFNUMMER.fullmatch(cross_ref)
            and _SAFE_TIJDSTIP.fullmatch(moment)
        ):
            return None
        template = self._cache.get((zender, ontvanger), lambda: _bv03_template(zender, ontvanger))
        if template is None:
            return None
        return template.fill(
            (referentienummer.encode("ascii"), moment.encode("ascii"), cross_ref.encode("ascii"))
        )


def _bv03_template(zender: Systeem, ontvanger: Systeem) -> MarkedTemplate | None:
    """The marked Bv03 between these parties, cut at its markers; None when it cannot be made."""
    try:
        rendered = _build_bv03(zender, ontvanger, _REF_MARK, _CROSS_MARK, _TIJDSTIP_MARK_AT)
    except ValueError:
        return None  # the builder refuses these parties: it refuses each answer, with its own text
    marks = (_REF_MARK.encode(), _format_tijdstip(_TIJDSTIP_MARK_AT).encode(), _CROSS_MARK.encode())
    return MarkedTemplate.cut_texts(rendered, marks)


_CROSS_MARK = "00000000-0000-4000-8000-00000000b302"
_BV03_TEMPLATES = _Bv03Templates()


def render_fo03_fault(
    code: str,
    plek: Plek,
    omschrijving: str,
    *,
    zender: Systeem = GGK_SYSTEEM,
    ontvanger: Systeem | None = None,
    referentienummer: str | None = None,
    cross_ref: str = "",
    details: str | None = None,
    tijdstip: datetime | None = None,
) -> bytes:
    """A SOAP 1.1 Fault (soap:Client or soap:Server by ``plek``) with a StUF Fo03Bericht as detail.

    ``cross_ref`` is the refused message's referentienummer, empty when it could not be read.
    """
    omschrijving = mask_bsn_like(omschrijving)[:200]
    fo03 = etree.Element(_FO03_TAG, nsmap={"StUF": STUF_NS})
    _control_stuurgegevens(
        fo03,
        "Fo03",
        zender,
        ontvanger or Systeem("", "onbekend"),
        referentienummer or new_referentienummer(),
        cross_ref,
        tijdstip,
    )
    _foutbody(fo03, code, plek, omschrijving, details)
    _validate(fo03)
    envelope = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP_NS}}}Body"), f"{{{SOAP_NS}}}Fault")
    etree.SubElement(fault, "faultcode").text = "soap:Client" if plek == "client" else "soap:Server"
    etree.SubElement(fault, "faultstring").text = f"{code}: {omschrijving}"
    etree.SubElement(fault, "detail").append(fo03)
    return _tostring(envelope)


def render_fo01(
    code: str,
    plek: Plek,
    omschrijving: str,
    *,
    zender: Systeem,
    ontvanger: Systeem,
    cross_ref: str,
    referentienummer: str | None = None,
    details: str | None = None,
    tijdstip: datetime | None = None,
) -> bytes:
    """An asynchronous Fo01 SOAP request: message ``cross_ref`` (a Di01's referentienummer) is refused.

    Send it with ``soap_headers("Fo01")``. ``details`` is, per the GGk specification,
    ``functie-applicatieVersieapplicatieSubversie`` of the refused message (``JW301-00010000``).
    """
    fo01 = etree.Element(_FO01_TAG, nsmap={"StUF": STUF_NS})
    _control_stuurgegevens(
        fo01, "Fo01", zender, ontvanger, referentienummer or new_referentienummer(), cross_ref, tijdstip
    )
    _foutbody(fo01, code, plek, mask_bsn_like(omschrijving)[:200], details)
    _validate(fo01)
    return _soap(fo01)


def parse_soap_response(status_code: int, body: bytes) -> SoapAnswer:
    """Classify the synchronous answer to a request; never raises."""
    try:
        root = parse_xml(body)
    except XmlInputError:
        return SoapAnswer("unreadable", status_code)
    element = _body_element(root)
    if element is None:
        return SoapAnswer("unreadable", status_code)
    if element.tag == _BV03_TAG and 200 <= status_code < 300:
        return SoapAnswer("bv03", status_code)
    if element.tag == _FO03_TAG:
        return _fo03_answer(element, status_code)
    if element.tag == f"{{{SOAP_NS}}}Fault":
        fo03 = element.find(f"detail/{_FO03_TAG}")
        if fo03 is not None:
            return _fo03_answer(fo03, status_code)
        return SoapAnswer(
            "fault",
            status_code,
            _clean(element.findtext("faultcode")),
            _clean(element.findtext("faultstring")),
        )
    return SoapAnswer("unreadable", status_code)


def parse_fo01(xml_or_element: bytes | etree._Element) -> Fo01:
    """Read a Fo01 - a whole SOAP request or its Fo01Bericht element - or raise :class:`EnvelopeError`."""
    if isinstance(xml_or_element, bytes | bytearray):
        inbound = parse_soap_request(bytes(xml_or_element), None)
        element = inbound.element
    else:
        element = xml_or_element
    if element.tag != _FO01_TAG:
        raise EnvelopeError.of("RIN001", f"expected Fo01Bericht, got {etree.QName(element).localname}")
    found = violations(load_schema(STUF_XSD), element)
    if found:
        raise EnvelopeError.of("RIN001", f"Fo01Bericht: {found[0].message}")
    sg = element.find(f"{{{STUF_NS}}}stuurgegevens")
    fout = element.find(f"{{{STUF_NS}}}body")
    assert sg is not None and fout is not None  # guaranteed by the schema
    return Fo01(
        zender=read_systeem(_req(sg, "zender")),
        ontvanger=read_systeem(_req(sg, "ontvanger")),
        referentienummer=_stuf_text(sg, "referentienummer") or "",
        cross_ref=_stuf_text(sg, "crossRefnummer") or "",
        code=_stuf_text(fout, "code") or "",
        plek=_stuf_text(fout, "plek") or "",
        omschrijving=mask_bsn_like(_stuf_text(fout, "omschrijving") or ""),
        details=_stuf_text(fout, "details"),
    )


# --- helpers -------------------------------------------------------------------------------------


def _operation(operation: str) -> Operation:
    for op in _ELEMENT_OF:
        if op == operation:
            return op
    raise ValueError(f"unknown GGk operation {operation!r}")


def _soap(element: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS, **NSMAP})
    etree.SubElement(envelope, f"{{{SOAP_NS}}}Body").append(element)
    return _tostring(envelope)


def _tostring(root: etree._Element) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data


def _body_element(root: etree._Element) -> etree._Element | None:
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        return None
    body = root.find(f"{{{SOAP_NS}}}Body")
    if body is None:
        return None
    children = [c for c in body if isinstance(c.tag, str)]
    return children[0] if len(children) == 1 else None


def _control_stuurgegevens(
    parent: etree._Element,
    code: str,
    zender: Systeem,
    ontvanger: Systeem,
    referentienummer: str,
    cross_ref: str,
    tijdstip: datetime | None,
) -> None:
    sg = etree.SubElement(parent, f"{{{STUF_NS}}}stuurgegevens")
    etree.SubElement(sg, f"{{{STUF_NS}}}berichtcode").text = code
    systeem_element(sg, "zender", zender)
    systeem_element(sg, "ontvanger", ontvanger)
    etree.SubElement(sg, f"{{{STUF_NS}}}referentienummer").text = referentienummer
    etree.SubElement(sg, f"{{{STUF_NS}}}tijdstipBericht").text = _format_tijdstip(tijdstip or datetime.now())
    etree.SubElement(sg, f"{{{STUF_NS}}}crossRefnummer").text = cross_ref


def _foutbody(parent: etree._Element, code: str, plek: Plek, omschrijving: str, details: str | None) -> None:
    body = etree.SubElement(parent, f"{{{STUF_NS}}}body")
    etree.SubElement(body, f"{{{STUF_NS}}}code").text = code
    etree.SubElement(body, f"{{{STUF_NS}}}plek").text = plek
    etree.SubElement(body, f"{{{STUF_NS}}}omschrijving").text = omschrijving
    if details is not None:
        etree.SubElement(body, f"{{{STUF_NS}}}details").text = mask_bsn_like(details)[:1000]


def _fo03_answer(fo03: etree._Element, status_code: int) -> SoapAnswer:
    fout = fo03.find(f"{{{STUF_NS}}}body")
    if fout is None:
        return SoapAnswer("fault", status_code)
    return SoapAnswer(
        "fo03", status_code, _stuf_text(fout, "code"), mask_bsn_like(_stuf_text(fout, "omschrijving") or "")
    )


def _validate(element: etree._Element) -> None:
    found = violations(load_schema(STUF_XSD), element)
    if found:
        raise ValueError(f"rendered {etree.QName(element).localname} does not validate: {found[0]}")


def _req(parent: etree._Element, name: str) -> etree._Element:
    el = parent.find(f"{{{STUF_NS}}}{name}")
    if el is None:
        raise EnvelopeError.of("RIN001", f"missing {name}")
    return el


def _stuf_text(parent: etree._Element, name: str) -> str | None:
    return _clean(parent.findtext(f"{{{STUF_NS}}}{name}"))


def _clean(text: str | None) -> str | None:
    return None if text is None else text.strip()
