"""The mock GGk's Bv03 receipts and the aanbieders' Du01s and 302s, from validated templates.

Rendering a Bv03 (:func:`connectors.ggk.render_bv03`) or a Du01 (:func:`connectors.ggk.soap_du01`)
builds a tree element by element, validates it against its XSD and serialises it - per
message, although between two messages to the same party only a few values change: a
fresh referentienummer, the tijdstipBericht, the crossRefnummer, and for a Du01 the
payload and its two BerichtIdentificaties.

So per party the connector renders one document, validated as always, with marker values
in those places; a message is that template with the markers replaced. A value is put in
only when it has a form the template's schema check covers - a UUID v4 where the marker
is one, 14 digits for the tijdstip, base64 for the payload, 1 to 40 of ``[0-9A-Za-z._-]``
for a BerichtIdentificatie (the schema's ``Refnummer`` is any string up to 40) - so a
filled template validates whenever the template did, and none needs escaping. Any other
value is rendered by the connector as before; the bytes are the same either way. A
header-only 302 is filled in the same way and then validated all the same
(:class:`RetourHeaderTemplates`).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable, Hashable
from dataclasses import replace
from datetime import date, datetime

from lxml import etree

from connectors.ggk import (
    GGK_SYSTEEM,
    Retourbericht,
    Systeem,
    format_tijdstip,
    is_uuid4,
    new_referentienummer,
    render_bv03,
    soap_du01,
)
from connectors.istandaard.errors import assert_rendered_valid
from connectors.istandaard.model import BerichtHeader
from connectors.marked_template import MarkedTemplate, TemplateCache
from connectors.xsd import SchemaValidationError

#: Marker values: valid where they stand, and found nowhere else in a rendered document.
_REF_MARK = "00000000-0000-4000-8000-00000000a001"
_CROSS_MARK = "00000000-0000-4000-8000-00000000a002"
_TIJDSTIP_MARK_AT = datetime(1999, 12, 31, 23, 59, 58)
_BERICHT_MARK = "MARKbericht1"
_CROSS_BERICHT_MARK = "MARKcrossref"
_PAYLOAD_MARK = b"mock-ggk payload marker"
_SAFE_REFNUMMER = re.compile(r"^[0-9A-Za-z._-]{1,40}$")


def _tijdstip_mark() -> bytes:
    return format_tijdstip(_TIJDSTIP_MARK_AT).encode("ascii")


class Bv03Templates:
    """The GGk's Bv03 answers, per ontvanger."""

    def __init__(self) -> None:
        self._cache = TemplateCache()

    def render(self, ontvanger: Systeem, cross_ref: str) -> bytes:
        """A Bv03 from the GGk to ``ontvanger`` for message ``cross_ref``, as ``render_bv03`` writes it."""
        template = (
            self._cache.get(ontvanger, lambda: _bv03_template(ontvanger)) if is_uuid4(cross_ref) else None
        )
        if template is None:
            return render_bv03(GGK_SYSTEEM, ontvanger, new_referentienummer(), cross_ref)
        return template.fill(
            (
                new_referentienummer().encode("ascii"),
                format_tijdstip(datetime.now()).encode("ascii"),
                cross_ref.encode("ascii"),
            )
        )


def _bv03_template(ontvanger: Systeem) -> MarkedTemplate | None:
    rendered = render_bv03(GGK_SYSTEEM, ontvanger, _REF_MARK, _CROSS_MARK, tijdstip=_TIJDSTIP_MARK_AT)
    return MarkedTemplate.cut_texts(rendered, (_REF_MARK.encode(), _tijdstip_mark(), _CROSS_MARK.encode()))


class Du01Templates:
    """Du01 SOAP requests (envelope and payload), per sender, receiver, functie and versions."""

    def __init__(self) -> None:
        self._cache = TemplateCache()

    def render(self, r: Retourbericht) -> bytes:
        """``soap_du01(r)``: the same bytes, from a template when ``r``'s values allow it."""
        template = self._cache.get(_du01_key(r), lambda: _du01_template(r)) if _fits(r) else None
        if template is None:
            return soap_du01(r)
        assert r.referentienummer_bericht is not None and r.cross_refnummer_bericht is not None  # _fits
        return template.fill(
            (
                r.referentienummer.encode("ascii"),
                format_tijdstip(r.tijdstip).encode("ascii"),
                r.cross_refnummer.encode("ascii"),
                r.referentienummer_bericht.encode("ascii"),
                r.cross_refnummer_bericht.encode("ascii"),
                base64.b64encode(r.payload),
            )
        )


def _du01_key(r: Retourbericht) -> Hashable:
    return (
        r.zender,
        r.ontvanger,
        r.functie,
        r.bestandsnaam,
        r.applicatie_versie,
        r.applicatie_subversie,
        r.functie_versie,
        r.functie_subversie,
    )


def _fits(r: Retourbericht) -> bool:
    """Whether ``r``'s per-message values have the forms the template's validation covers."""
    return (
        is_uuid4(r.referentienummer)
        and is_uuid4(r.cross_refnummer)
        and r.referentienummer_bericht is not None
        and r.cross_refnummer_bericht is not None
        and bool(_SAFE_REFNUMMER.match(r.referentienummer_bericht))
        and bool(_SAFE_REFNUMMER.match(r.cross_refnummer_bericht))
        and len(r.payload) < 1_000_000  # far below the 25 MB envelope limit (IB007)
    )


def _du01_template(r: Retourbericht) -> MarkedTemplate | None:
    marked = replace(
        r,
        referentienummer=_REF_MARK,
        tijdstip=_TIJDSTIP_MARK_AT,
        cross_refnummer=_CROSS_MARK,
        referentienummer_bericht=_BERICHT_MARK,
        cross_refnummer_bericht=_CROSS_BERICHT_MARK,
        payload=_PAYLOAD_MARK,
    )
    return MarkedTemplate.cut_texts(
        soap_du01(marked),
        (
            _REF_MARK.encode(),
            _tijdstip_mark(),
            _CROSS_MARK.encode(),
            _BERICHT_MARK.encode(),
            _CROSS_BERICHT_MARK.encode(),
            base64.b64encode(_PAYLOAD_MARK),
        ),
    )


class RetourHeaderTemplates:
    """Header-only 302s (a 301's header copied, the retour's identification and codes added).

    Filled from a template the tree builder made, then parsed and validated against the
    302's XSD like the builder's own output, so nothing leaves unchecked; a value of
    another form than the template's markers (one XML would escape) or a filled document
    that does not validate goes to the builder, whose bytes and errors are the reference.
    """

    def __init__(self) -> None:
        self._cache = TemplateCache()

    def render(
        self,
        heen: BerichtHeader,
        header_codes: tuple[str, ...],
        identificatie_retour: str,
        today: date,
        build: Callable[[BerichtHeader, tuple[str, ...], str, date], bytes],
    ) -> bytes:
        """What ``build(heen, header_codes, identificatie_retour, today)`` returns, from a template."""
        if not all(_SAFE_REFNUMMER.match(v) for v in (heen.afzender, heen.ontvanger, heen.identificatie)):
            return build(heen, header_codes, identificatie_retour, today)
        if not _SAFE_REFNUMMER.match(identificatie_retour):
            return build(heen, header_codes, identificatie_retour, today)
        key = (heen.law, heen.basisschema_xsd_versie, heen.bericht_xsd_versie, header_codes)
        template = self._cache.get(key, lambda: _retour_header_template(heen, header_codes, build))
        if template is None:
            return build(heen, header_codes, identificatie_retour, today)
        filled = template.fill(
            (
                heen.afzender.encode("ascii"),
                heen.ontvanger.encode("ascii"),
                heen.identificatie.encode("ascii"),
                heen.dagtekening.isoformat().encode("ascii"),
                identificatie_retour.encode("ascii"),
                today.isoformat().encode("ascii"),
            )
        )
        try:
            assert_rendered_valid(heen.law, _RETOUR, etree.fromstring(filled, _parser()))
        except (SchemaValidationError, etree.XMLSyntaxError):
            return build(heen, header_codes, identificatie_retour, today)
        return filled


_RETOUR = 302
_AFZENDER_MARK, _ONTVANGER_MARK = "9876", "98765432"
_IDENTIFICATIE_MARK, _RETOUR_MARK = "MARKident001", "MARKretour01"
_DAGTEKENING_MARK, _DAGTEKENING_RETOUR_MARK = date(1999, 12, 31), date(1999, 12, 30)
_per_thread = threading.local()


def _parser() -> etree.XMLParser:
    """This thread's parser for our own filled templates (lxml parsers keep state)."""
    parser: etree.XMLParser | None = getattr(_per_thread, "parser", None)
    if parser is None:
        parser = _per_thread.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, collect_ids=False
        )
    return parser


def _retour_header_template(
    heen: BerichtHeader,
    header_codes: tuple[str, ...],
    build: Callable[[BerichtHeader, tuple[str, ...], str, date], bytes],
) -> MarkedTemplate | None:
    marked = replace(
        heen,
        afzender=_AFZENDER_MARK,
        ontvanger=_ONTVANGER_MARK,
        identificatie=_IDENTIFICATIE_MARK,
        dagtekening=_DAGTEKENING_MARK,
    )
    try:
        rendered = build(marked, header_codes, _RETOUR_MARK, _DAGTEKENING_RETOUR_MARK)
    except SchemaValidationError:
        return None  # a marker the schema refuses: the builder renders each one
    return MarkedTemplate.cut_texts(
        rendered,
        (
            _AFZENDER_MARK.encode(),
            _ONTVANGER_MARK.encode(),
            _IDENTIFICATIE_MARK.encode(),
            _DAGTEKENING_MARK.isoformat().encode(),
            _RETOUR_MARK.encode(),
            _DAGTEKENING_RETOUR_MARK.isoformat().encode(),
        ),
    )
