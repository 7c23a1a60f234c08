"""JW323/WMO323 (declaratie) and JW325/WMO325 (declaratie-antwoord) as XML, for both laws.

The aanbieder invoices a calendar month of delivered care with a 323; the gemeente answers
within 10 werkdagen with a 325 that says per prestatie what it grants. The gateway reads
323s and writes 325s; the mock aanbieder does the reverse.

Where the 325's RetourCodes go (the shape follows from the codes in
:class:`~connectors.istandaard.model_inbound.DeclaratieAntwoord`; a code *rejects* unless
it is ``0200`` accepted, ``0233`` not assessed or ``8001`` fully granted):

* **whole message rejected** (an in-message rule, ``0001``; a duplicate identification,
  ``9056``; a dagtekening in the future, ``8848``): ``header_codes`` holds a rejecting
  code and there are no ``declaratie_codes`` or ``prestatie_codes`` -> the header only,
  with those codes, no ``DeclaratieAntwoord``;
* **fully granted**: no rejecting code anywhere -> header ``RetourCodes`` ``8001``
  ("Declaratie is volledig toegewezen", unless ``header_codes`` says otherwise) and a
  ``DeclaratieAntwoord`` with DeclaratieNummer, the totals ingediend/toegekend (with
  DebetCredit) and its own ``RetourCodes`` (``declaratie_codes`` or ``0200``), without
  Clienten: the aanbieder needs no per-prestatie detail;
* **(partly) rejected**: a prestatie or the declaratie class carries a rejecting code ->
  header ``0200`` (or ``header_codes``); the ``DeclaratieAntwoord`` with totals lists every
  Client and every Prestatie of the 323, copied unchanged, each Prestatie with its codes
  from ``prestatie_codes`` (by ReferentieNummer) or ``0200``; each Client ``0200``; the
  DeclaratieAntwoord ``declaratie_codes`` or ``0200``. When the declaratie class itself is
  rejected (``9333`` DeclaratieNummer not unique, ``8214`` wrong period) the classes
  without codes of their own get ``0233`` (not assessed) instead of ``0200``.

The 325 header repeats the gemeente's own header, then ``DeclaratieIdentificatie`` (the
323's BerichtIdentificatie) and ``XsdVersieDeclaratie`` (the 323's XsdVersie). A
ReferentieNummer that occurs twice in a 323 gets the same codes on both prestaties.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from lxml import etree

from connectors.istandaard.errors import accept_payload, assert_rendered_valid, mask_bsns
from connectors.istandaard.model_inbound import (
    BedragMetDC,
    Declaratie,
    DeclaratieAntwoord,
    DeclaratieClient,
    Prestatie,
)
from connectors.istandaard.retourcodes import ACCEPTED, NOT_ASSESSED
from connectors.istandaard.toewijzing import build_header, read_header, serialize
from connectors.istandaard.xml_names import (
    Tags,
    build_bericht_identificatie,
    build_retourcodes,
    build_xsd_versie,
    child,
    opt_int,
    read_retourcodes,
    required_text,
    sub,
    sub_opt,
    tags,
    text,
    to_date,
)

DECLARATIE = 323
ANTWOORD = 325
#: "Declaratie is volledig toegewezen": the 325 header code of a fully granted declaratie.
FULLY_GRANTED = "8001"
_NOT_REJECTING = frozenset({ACCEPTED, NOT_ASSESSED, FULLY_GRANTED})


def rejects(codes: Iterable[str]) -> bool:
    """True when any of ``codes`` rejects its class (anything but 0200, 0233 and 8001)."""
    return any(code not in _NOT_REJECTING for code in codes)


# --- 323 ------------------------------------------------------------------------------


def render_declaratie(bericht: Declaratie) -> bytes:
    """The JW323/WMO323 of ``bericht`` as UTF-8 bytes, validated against the project's XSD.

    Raises :class:`connectors.xsd.SchemaValidationError` when the data breaks the schema.
    """
    law = bericht.header.law
    t = tags(law, DECLARATIE)
    root = etree.Element(t.m["Bericht"], nsmap=t.nsmap)
    build_header(root, t, bericht.header)
    m = t.m
    element = sub(root, m["Declaratie"])
    sub(element, m["DeclaratieNummer"], bericht.declaratienummer)
    _build_periode(element, m["DeclaratiePeriode"], t, bericht.periode_begin, bericht.periode_eind)
    sub(element, m["DeclaratieDagtekening"], bericht.dagtekening.isoformat())
    _build_bedrag(element, m["TotaalIngediendBedrag"], t, bericht.totaal_ingediend, totaal=True)
    clienten = sub(element, m["Clienten"])
    for client in bericht.clienten:
        _build_client(clienten, t, client, None)
    assert_rendered_valid(law, DECLARATIE, root)
    return serialize(root)


def parse_declaratie(xml: bytes) -> Declaratie:
    """Read a JW323/WMO323 (law from the namespace), validated against the project's XSD.

    Raises :class:`connectors.istandaard.errors.PayloadRejected` for anything that is not
    a valid 323 of either law.
    """
    law, root = accept_payload(xml, DECLARATIE)
    t = tags(law, DECLARATIE)
    m = t.m
    header = child(root, m["Header"])
    element = child(root, m["Declaratie"])
    assert header is not None and element is not None  # required by the XSD
    begin, eind = _read_periode(_required(element, m["DeclaratiePeriode"]), t)
    return Declaratie(
        header=read_header(header, t),
        declaratienummer=required_text(element, m["DeclaratieNummer"]),
        periode_begin=begin,
        periode_eind=eind,
        dagtekening=to_date(required_text(element, m["DeclaratieDagtekening"])),
        totaal_ingediend=_read_bedrag(_required(element, m["TotaalIngediendBedrag"]), t, totaal=True),
        clienten=tuple(_read_client(c, t) for c in _clients(element, t)),
    )


# --- 325 ------------------------------------------------------------------------------


def render_declaratie_antwoord(antwoord: DeclaratieAntwoord, heen: Declaratie) -> bytes:
    """The JW325/WMO325 answering ``heen``, shaped as the module docstring says, XSD-validated.

    ``antwoord`` must answer ``heen`` (same law, DeclaratieIdentificatie and
    DeclaratieNummer) and may only name ReferentieNummers of ``heen`` in
    ``prestatie_codes``; otherwise :class:`ValueError` (a programming error).
    """
    law = antwoord.header.law
    _check_answers(antwoord, heen)
    t = tags(law, ANTWOORD)
    m = t.m
    root = etree.Element(m["Bericht"], nsmap=t.nsmap)
    header = build_header(root, t, antwoord.header)
    build_bericht_identificatie(
        header,
        m["DeclaratieIdentificatie"],
        t,
        antwoord.declaratie_identificatie,
        antwoord.declaratie_dagtekening,
    )
    build_xsd_versie(
        header,
        m["XsdVersieDeclaratie"],
        t,
        heen.header.basisschema_xsd_versie,
        heen.header.bericht_xsd_versie,
    )
    prestatie_codes = antwoord.prestatie_codes
    detail = rejects(antwoord.declaratie_codes) or any(rejects(c) for c in prestatie_codes.values())
    if rejects(antwoord.header_codes) and not antwoord.declaratie_codes and not prestatie_codes:
        build_retourcodes(header, t, antwoord.header_codes)  # the message as a whole is refused
    else:
        default_header = ACCEPTED if detail else FULLY_GRANTED
        build_retourcodes(header, t, antwoord.header_codes or (default_header,))
        body = sub(root, m["DeclaratieAntwoord"])
        sub(body, m["DeclaratieNummer"], antwoord.declaratienummer)
        _build_bedrag(body, m["TotaalIngediendBedrag"], t, antwoord.totaal_ingediend, totaal=True)
        _build_bedrag(body, m["TotaalToegekendBedrag"], t, antwoord.totaal_toegekend, totaal=True)
        if detail:
            default = NOT_ASSESSED if rejects(antwoord.declaratie_codes) else ACCEPTED
            clienten = sub(body, m["Clienten"])
            for client in heen.clienten:
                codes = {
                    p.referentienummer: tuple(prestatie_codes.get(p.referentienummer, ())) or (default,)
                    for p in client.prestaties
                }
                _build_client(clienten, t, client, codes, client_codes=(default,))
        build_retourcodes(body, t, antwoord.declaratie_codes or (ACCEPTED,))
    assert_rendered_valid(law, ANTWOORD, root)
    return serialize(root)


def parse_declaratie_antwoord(xml: bytes) -> DeclaratieAntwoord:
    """Read a JW325/WMO325 (law from the namespace), validated against the project's XSD.

    ``prestatie_codes`` holds every Prestatie the 325 lists, by ReferentieNummer. A
    header-only 325 (message refused as a whole) has no DeclaratieAntwoord: its
    ``declaratienummer`` is ``""`` and both totals are 0 debet.
    Raises :class:`connectors.istandaard.errors.PayloadRejected` for anything that is not
    a valid 325 of either law.
    """
    law, root = accept_payload(xml, ANTWOORD)
    t = tags(law, ANTWOORD)
    m = t.m
    header = child(root, m["Header"])
    assert header is not None  # required by the XSD
    identificatie = _required(header, m["DeclaratieIdentificatie"])
    antwoord = DeclaratieAntwoord(
        header=read_header(header, t),
        declaratie_identificatie=required_text(identificatie, t.b["Identificatie"]),
        declaratie_dagtekening=to_date(required_text(identificatie, t.b["Dagtekening"])),
        declaratienummer="",
        totaal_ingediend=BedragMetDC(0),
        totaal_toegekend=BedragMetDC(0),
        header_codes=read_retourcodes(header, t),
    )
    body = child(root, m["DeclaratieAntwoord"])
    if body is None:
        return antwoord
    prestatie_codes: dict[str, tuple[str, ...]] = {}
    for client in _clients(body, t):
        for prestatie in _prestaties(client, t):
            referentie = _required(prestatie, m["ProductReferentie"])
            nummer = required_text(referentie, t.b["ReferentieNummer"])
            seen = prestatie_codes.get(nummer, ())
            prestatie_codes[nummer] = seen + tuple(c for c in read_retourcodes(prestatie, t) if c not in seen)
    return DeclaratieAntwoord(
        header=antwoord.header,
        declaratie_identificatie=antwoord.declaratie_identificatie,
        declaratie_dagtekening=antwoord.declaratie_dagtekening,
        declaratienummer=required_text(body, m["DeclaratieNummer"]),
        totaal_ingediend=_read_bedrag(_required(body, m["TotaalIngediendBedrag"]), t, totaal=True),
        totaal_toegekend=_read_bedrag(_required(body, m["TotaalToegekendBedrag"]), t, totaal=True),
        header_codes=antwoord.header_codes,
        declaratie_codes=read_retourcodes(body, t),
        prestatie_codes=prestatie_codes,
    )


def _check_answers(antwoord: DeclaratieAntwoord, heen: Declaratie) -> None:
    if antwoord.header.law is not heen.header.law:
        raise ValueError(f"a {antwoord.header.law} 325 cannot answer a {heen.header.law} 323")
    if antwoord.declaratie_identificatie != heen.header.identificatie:
        raise ValueError(
            mask_bsns(
                f"DeclaratieIdentificatie {antwoord.declaratie_identificatie!r} is not the 323's "
                f"BerichtIdentificatie {heen.header.identificatie!r}"
            )
        )
    if antwoord.declaratienummer != heen.declaratienummer:
        raise ValueError(
            mask_bsns(
                f"DeclaratieNummer {antwoord.declaratienummer!r} is not the 323's {heen.declaratienummer!r}"
            )
        )
    known = {p.referentienummer for c in heen.clienten for p in c.prestaties}
    unknown = sorted(set(antwoord.prestatie_codes) - known)
    if unknown:
        raise ValueError(mask_bsns(f"prestatie_codes names ReferentieNummers not in the 323: {unknown}"))


# --- shared building blocks -----------------------------------------------------------


def _build_client(
    parent: etree._Element,
    t: Tags,
    client: DeclaratieClient,
    prestatie_codes: Mapping[str, tuple[str, ...]] | None,
    client_codes: tuple[str, ...] = (),
) -> None:
    """A Client with its Prestaties; with ``prestatie_codes`` (a 325) every class gets codes."""
    m = t.m
    element = sub(parent, m["Client"])
    sub(element, m["Bsn"], client.bsn)
    prestaties = sub(element, m["Prestaties"])
    for prestatie in client.prestaties:
        _build_prestatie(
            prestaties,
            t,
            prestatie,
            None if prestatie_codes is None else prestatie_codes[prestatie.referentienummer],
        )
    if prestatie_codes is not None:
        build_retourcodes(element, t, client_codes)


def _build_prestatie(
    parent: etree._Element, t: Tags, prestatie: Prestatie, codes: tuple[str, ...] | None
) -> None:
    m, b = t.m, t.b
    element = sub(parent, m["Prestatie"])
    referentie = sub(element, m["ProductReferentie"])
    sub(referentie, b["ReferentieNummer"], prestatie.referentienummer)
    sub_opt(referentie, b["VorigReferentieNummer"], prestatie.vorig_referentienummer)
    sub(element, m["ToewijzingNummer"], str(prestatie.toewijzingnummer))
    sub(element, m["ProductCategorie"], prestatie.categorie)
    sub(element, m["ProductCode"], prestatie.productcode)
    _build_periode(element, m["ProductPeriode"], t, prestatie.periode_begin, prestatie.periode_eind)
    sub(element, m["GeleverdVolume"], str(prestatie.geleverd_volume))
    sub(element, m["Eenheid"], prestatie.eenheid)
    sub_opt(
        element,
        m["ProductTarief"],
        None if prestatie.product_tarief is None else str(prestatie.product_tarief),
    )
    _build_bedrag(element, m["IngediendBedrag"], t, prestatie.ingediend_bedrag, totaal=False)
    if codes is not None:
        build_retourcodes(element, t, codes)


def _build_periode(parent: etree._Element, tag: str, t: Tags, begin: date, eind: date) -> None:
    """CDT_GeslotenPeriode."""
    element = sub(parent, tag)
    sub(element, t.b["Begindatum"], begin.isoformat())
    sub(element, t.b["Einddatum"], eind.isoformat())


def _build_bedrag(parent: etree._Element, tag: str, t: Tags, bedrag: BedragMetDC, *, totaal: bool) -> None:
    """CDT_BedragMetDC (``Bedrag``) or CDT_TotaalBedragMetDC (``TotaalBedrag``), in eurocent."""
    element = sub(parent, tag)
    sub(element, t.b["TotaalBedrag" if totaal else "Bedrag"], str(bedrag.bedrag))
    sub(element, t.b["DebetCredit"], bedrag.debet_credit)


def _required(parent: etree._Element, tag: str) -> etree._Element:
    element = child(parent, tag)
    if element is None:
        raise ValueError(f"required element {tag} is missing (document not validated?)")
    return element


def _clients(parent: etree._Element, t: Tags) -> Iterable[etree._Element]:
    clienten = child(parent, t.m["Clienten"])
    return () if clienten is None else clienten.iterchildren(t.m["Client"])


def _prestaties(client: etree._Element, t: Tags) -> Iterable[etree._Element]:
    prestaties = child(client, t.m["Prestaties"])
    return () if prestaties is None else prestaties.iterchildren(t.m["Prestatie"])


def _read_client(element: etree._Element, t: Tags) -> DeclaratieClient:
    return DeclaratieClient(
        bsn=required_text(element, t.m["Bsn"]),
        prestaties=tuple(_read_prestatie(p, t) for p in _prestaties(element, t)),
    )


def _read_prestatie(element: etree._Element, t: Tags) -> Prestatie:
    m, b = t.m, t.b
    referentie = _required(element, m["ProductReferentie"])
    begin, eind = _read_periode(_required(element, m["ProductPeriode"]), t)
    return Prestatie(
        referentienummer=required_text(referentie, b["ReferentieNummer"]),
        vorig_referentienummer=text(referentie, b["VorigReferentieNummer"]),
        toewijzingnummer=int(required_text(element, m["ToewijzingNummer"])),
        categorie=required_text(element, m["ProductCategorie"]),
        productcode=required_text(element, m["ProductCode"]),
        periode_begin=begin,
        periode_eind=eind,
        geleverd_volume=int(required_text(element, m["GeleverdVolume"])),
        eenheid=required_text(element, m["Eenheid"]),
        product_tarief=opt_int(element, m["ProductTarief"]),
        ingediend_bedrag=_read_bedrag(_required(element, m["IngediendBedrag"]), t, totaal=False),
    )


def _read_periode(element: etree._Element, t: Tags) -> tuple[date, date]:
    return (
        to_date(required_text(element, t.b["Begindatum"])),
        to_date(required_text(element, t.b["Einddatum"])),
    )


def _read_bedrag(element: etree._Element, t: Tags, *, totaal: bool) -> BedragMetDC:
    return BedragMetDC(
        bedrag=int(required_text(element, t.b["TotaalBedrag" if totaal else "Bedrag"])),
        debet_credit=required_text(element, t.b["DebetCredit"]).strip(),
    )
