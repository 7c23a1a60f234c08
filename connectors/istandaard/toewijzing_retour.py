"""JW302 / WMO302, the aanbieder's retour on a toewijzing, as XML.

The gemeente reads 302s; the mocks (and tests) write them as an aanbieder would. What a
retour contains depends on the outcome of the checks (IV028/IV032):

* fully accepted: the header only, without RetourCodes;
* an in-message rule failed (code ``0001``) or anything else that rejects the message as
  a whole: the header only, carrying those codes;
* a cross-message rule failed on some part: the whole Client block of the heenbericht
  comes back, every class with RetourCodes; the failing products carry the rule's code,
  the other classes ``0200``.

The retour header copies Afzender, Ontvanger, BerichtIdentificatie and XsdVersie of the
heenbericht unchanged and adds its own identification and XsdVersieRetour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

from lxml import etree

from connectors.istandaard.errors import accept_payload, assert_rendered_valid
from connectors.istandaard.model import ToewijzingRetour, Toewijzingsbericht
from connectors.istandaard.retourcodes import ACCEPTED
from connectors.istandaard.toewijzing import RetourLevels, build_client, build_header, read_header, serialize
from connectors.istandaard.xml_names import (
    XSD_VERSIE,
    Tags,
    build_retourcodes,
    build_xsd_versie,
    child,
    read_retourcodes,
    required_text,
    sub,
    tags,
    to_date,
)

MESSAGE = 302


def render_toewijzing_retour(
    heen: Toewijzingsbericht,
    *,
    identificatie_retour: str,
    dagtekening_retour: date,
    header_codes: Sequence[str] = (),
    client_codes: Sequence[str] = (),
    product_codes: Mapping[int, Sequence[str]] | None = None,
) -> bytes:
    """The 302 answering ``heen``, validated against the project's XSD.

    The Client block is included when ``product_codes`` is given (even empty) or
    ``client_codes`` is non-empty; then every class without codes of its own gets
    ``0200``, the header included. ``product_codes`` may only name ToewijzingNummers of
    the heenbericht (:class:`ValueError` otherwise).
    """
    law = heen.header.law
    t = tags(law, MESSAGE)
    root = etree.Element(t.m["Bericht"], nsmap=t.nsmap)
    header = build_header(root, t, heen.header)
    sub(header, t.m["IdentificatieRetour"], identificatie_retour)
    sub(header, t.m["DagtekeningRetour"], dagtekening_retour.isoformat())
    build_xsd_versie(header, t.m["XsdVersieRetour"], t, XSD_VERSIE, XSD_VERSIE)

    with_client = product_codes is not None or bool(client_codes)
    if with_client:
        levels = _levels(heen, client_codes, product_codes or {})
        build_retourcodes(header, t, tuple(header_codes) or (ACCEPTED,))
        build_client(root, t, heen.client, heen.producten, levels)
    elif header_codes:
        build_retourcodes(header, t, tuple(header_codes))

    assert_rendered_valid(law, MESSAGE, root)
    return serialize(root)


def _levels(
    heen: Toewijzingsbericht, client_codes: Sequence[str], product_codes: Mapping[int, Sequence[str]]
) -> RetourLevels:
    numbers = {p.toewijzingnummer for p in heen.producten}
    unknown = sorted(set(product_codes) - numbers)
    if unknown:
        raise ValueError(f"product_codes names ToewijzingNummers not in the heenbericht: {unknown}")
    return RetourLevels(
        client=tuple(client_codes) or (ACCEPTED,),
        products={n: tuple(product_codes.get(n, ())) or (ACCEPTED,) for n in numbers},
    )


def parse_toewijzing_retour(xml: bytes) -> ToewijzingRetour:
    """Read a JW302/WMO302 (law from the namespace), validated against the project's XSD.

    Collects the codes of every level; raises
    :class:`connectors.istandaard.errors.PayloadRejected` for anything that is not a valid
    302 of either law.
    """
    law, root = accept_payload(xml, MESSAGE)
    t = tags(law, MESSAGE)
    m = t.m
    header = child(root, m["Header"])
    assert header is not None  # required by the XSD
    client = child(root, m["Client"])
    retour = ToewijzingRetour(
        header=read_header(header, t),
        identificatie_retour=required_text(header, m["IdentificatieRetour"]),
        dagtekening_retour=to_date(required_text(header, m["DagtekeningRetour"])),
        header_codes=read_retourcodes(header, t),
    )
    if client is None:
        return retour
    return _with_client_codes(retour, client, t)


def _with_client_codes(retour: ToewijzingRetour, client: etree._Element, t: Tags) -> ToewijzingRetour:
    m = t.m
    product_codes: dict[int, tuple[str, ...]] = {}
    toegewezen = child(client, m["ToegewezenProducten"])
    if toegewezen is not None:
        for product in toegewezen.iterchildren(m["ToegewezenProduct"]):
            nummer = int(required_text(product, m["ToewijzingNummer"]))
            product_codes[nummer] = product_codes.get(nummer, ()) + read_retourcodes(product, t)
    contact_codes: list[tuple[str, ...]] = []
    contactgegevens = child(client, m["Contactgegevens"])
    if contactgegevens is not None:
        contact_codes = [read_retourcodes(c, t) for c in contactgegevens.iterchildren(m["Contact"])]
    relatie_codes: dict[str, tuple[str, ...]] = {}
    relaties = child(client, m["Relaties"])
    if relaties is not None:
        for relatie in relaties.iterchildren(m["Relatie"]):
            contact = child(relatie, m["Contact"])
            codes = read_retourcodes(relatie, t)
            if contact is not None:
                codes += tuple(c for c in read_retourcodes(contact, t) if c not in codes)
            relatie_codes[required_text(relatie, m["Nummer"])] = codes
    return replace(
        retour,
        client_codes=read_retourcodes(client, t),
        product_codes=product_codes,
        bsn=required_text(client, m["Bsn"]),
        contact_codes=tuple(contact_codes),
        relatie_codes=relatie_codes,
    )
