"""JW305/WMO305 (start zorg) and JW307/WMO307 (stop zorg) as XML, for both laws.

The aanbieder reports with these that care under a toewijzing started or ended; the
gateway reads them (and answers with a 306/308 retour), the mock aanbieder writes them.
Their header is the 301's with the roles reversed: Afzender is the aanbieder's AGB code,
Ontvanger the gemeentecode (:class:`~connectors.istandaard.model.BerichtHeader` keeps
"afzender = sender").

The short client block (Bsn, Geboortedatum, Geslacht, CDT_VerkorteNaam) is shared with
the 315 and is built and read here for :mod:`connectors.istandaard.verzoeken` too.
"""

from __future__ import annotations

from lxml import etree

from connectors.istandaard.errors import accept_payload, assert_rendered_valid
from connectors.istandaard.model import BerichtHeader, Product
from connectors.istandaard.model_inbound import (
    ClientKort,
    StartBericht,
    StartProduct,
    StopBericht,
    StopProduct,
    VerkorteNaam,
)
from connectors.istandaard.toewijzing import build_header, read_header, serialize
from connectors.istandaard.xml_names import (
    Tags,
    build_geboortedatum,
    build_product,
    child,
    opt_date,
    opt_int,
    read_geboortedatum,
    read_product,
    required_text,
    sub,
    sub_opt,
    tags,
    text,
    to_date,
)

START = 305
STOP = 307


def render_start(bericht: StartBericht) -> bytes:
    """The JW305/WMO305 of ``bericht`` as UTF-8 bytes, validated against the project's XSD.

    Raises :class:`connectors.xsd.SchemaValidationError` when the data breaks the schema.
    """
    t = tags(bericht.header.law, START)
    root, client = new_message(t, bericht.header, bericht.client)
    producten = sub(client, t.m["StartProducten"])
    for product in bericht.producten:
        element = sub(producten, t.m["StartProduct"])
        _build_product_key(element, t, product)
        sub(element, t.m["Begindatum"], product.begindatum.isoformat())
        sub(element, t.m["StatusAanlevering"], product.status_aanlevering)
    return finish(t, root)


def parse_start(xml: bytes) -> StartBericht:
    """Read a JW305/WMO305 (law from the namespace), validated against the project's XSD.

    Raises :class:`connectors.istandaard.errors.PayloadRejected` for anything that is not
    a valid 305 of either law.
    """
    law, root = accept_payload(xml, START)
    t = tags(law, START)
    header, client = read_message(root, t)
    producten = child(client, t.m["StartProducten"])
    assert producten is not None  # required by the XSD
    return StartBericht(
        header=header,
        client=read_client_kort(client, t),
        producten=tuple(_read_start_product(p, t) for p in producten.iterchildren(t.m["StartProduct"])),
    )


def render_stop(bericht: StopBericht) -> bytes:
    """The JW307/WMO307 of ``bericht`` as UTF-8 bytes, validated against the project's XSD.

    Raises :class:`connectors.xsd.SchemaValidationError` when the data breaks the schema.
    """
    t = tags(bericht.header.law, STOP)
    root, client = new_message(t, bericht.header, bericht.client)
    producten = sub(client, t.m["StopProducten"])
    for product in bericht.producten:
        element = sub(producten, t.m["StopProduct"])
        _build_product_key(element, t, product)
        sub(element, t.m["Begindatum"], product.begindatum.isoformat())
        sub(element, t.m["RedenBeeindiging"], product.reden_beeindiging)
        sub(element, t.m["Einddatum"], product.einddatum.isoformat())
        sub(element, t.m["StatusAanlevering"], product.status_aanlevering)
    return finish(t, root)


def parse_stop(xml: bytes) -> StopBericht:
    """Read a JW307/WMO307 (law from the namespace), validated against the project's XSD.

    Raises :class:`connectors.istandaard.errors.PayloadRejected` for anything that is not
    a valid 307 of either law.
    """
    law, root = accept_payload(xml, STOP)
    t = tags(law, STOP)
    header, client = read_message(root, t)
    producten = child(client, t.m["StopProducten"])
    assert producten is not None  # required by the XSD
    return StopBericht(
        header=header,
        client=read_client_kort(client, t),
        producten=tuple(_read_stop_product(p, t) for p in producten.iterchildren(t.m["StopProduct"])),
    )


# --- shared by the aanbieder's messages -----------------------------------------------------


def new_root(t: Tags, header: BerichtHeader) -> etree._Element:
    """A ``Bericht`` of message ``t.number`` with its header (the prefixes of the examples)."""
    root = etree.Element(t.m["Bericht"], nsmap=t.nsmap)
    build_header(root, t, header)
    return root


def new_message(t: Tags, header: BerichtHeader, client: ClientKort) -> tuple[etree._Element, etree._Element]:
    """A ``Bericht`` with its header and the short client block; returns (root, Client)."""
    root = new_root(t, header)
    return root, build_client_kort(root, t, client)


def finish(t: Tags, root: etree._Element) -> bytes:
    """Validate a rendered message against the project's XSD and serialize it."""
    assert_rendered_valid(t.law, t.number, root)
    return serialize(root)


def read_message(root: etree._Element, t: Tags, body: str = "Client") -> tuple[BerichtHeader, etree._Element]:
    """The header of a validated message and its body element (``Client``, ``Antwoord``)."""
    header = child(root, t.m["Header"])
    element = child(root, t.m[body])
    assert header is not None and element is not None  # required by the XSD
    return read_header(header, t), element


def build_client_kort(root: etree._Element, t: Tags, client: ClientKort) -> etree._Element:
    """The identifying part of the client (305/307/315), in XSD order; returns ``Client``."""
    m, b = t.m, t.b
    element = sub(root, m["Client"])
    sub(element, m["Bsn"], client.bsn)
    build_geboortedatum(element, m["Geboortedatum"], t, client.geboortedatum, client.geboortedatum_gebruik)
    sub(element, m["Geslacht"], client.geslacht)
    naam = sub(element, m["Naam"])  # CDT_VerkorteNaam: no partner name, no NaamGebruik
    geslachtsnaam = sub(naam, b["Geslachtsnaam"])
    sub(geslachtsnaam, b["Achternaam"], client.naam.achternaam)
    sub_opt(geslachtsnaam, b["Voorvoegsel"], client.naam.voorvoegsel)
    sub_opt(naam, b["Voornamen"], client.naam.voornamen)
    sub_opt(naam, b["Voorletters"], client.naam.voorletters)
    return element


def read_client_kort(element: etree._Element, t: Tags) -> ClientKort:
    m, b = t.m, t.b
    geboortedatum = child(element, m["Geboortedatum"])
    naam = child(element, m["Naam"])
    assert geboortedatum is not None and naam is not None  # required by the XSD
    geslachtsnaam = child(naam, b["Geslachtsnaam"])
    assert geslachtsnaam is not None  # required by the XSD
    datum, gebruik = read_geboortedatum(geboortedatum, t)
    return ClientKort(
        bsn=required_text(element, m["Bsn"]),
        geboortedatum=datum,
        geboortedatum_gebruik=gebruik,
        geslacht=required_text(element, m["Geslacht"]),
        naam=VerkorteNaam(
            achternaam=required_text(geslachtsnaam, b["Achternaam"]),
            voorvoegsel=text(geslachtsnaam, b["Voorvoegsel"]),
            voornamen=text(naam, b["Voornamen"]),
            voorletters=text(naam, b["Voorletters"]),
        ),
    )


# --- products ------------------------------------------------------------------------------


def _build_product_key(element: etree._Element, t: Tags, product: StartProduct | StopProduct) -> None:
    """What ties a start/stop to its toewijzing: the number, or product and ingangsdatum."""
    m = t.m
    nummer, ingangsdatum = product.toewijzingnummer, product.toewijzing_ingangsdatum
    sub_opt(element, m["ToewijzingNummer"], None if nummer is None else str(nummer))
    if product.product is not None:
        build_product(element, m["Product"], t, product.product)
    sub_opt(element, m["ToewijzingIngangsdatum"], None if ingangsdatum is None else ingangsdatum.isoformat())


def read_opt_product(element: etree._Element, t: Tags) -> Product | None:
    product = child(element, t.m["Product"])
    return None if product is None else read_product(product, t)


def _read_start_product(element: etree._Element, t: Tags) -> StartProduct:
    m = t.m
    return StartProduct(
        toewijzingnummer=opt_int(element, m["ToewijzingNummer"]),
        product=read_opt_product(element, t),
        toewijzing_ingangsdatum=opt_date(element, m["ToewijzingIngangsdatum"]),
        begindatum=to_date(required_text(element, m["Begindatum"])),
        status_aanlevering=required_text(element, m["StatusAanlevering"]),
    )


def _read_stop_product(element: etree._Element, t: Tags) -> StopProduct:
    m = t.m
    return StopProduct(
        toewijzingnummer=opt_int(element, m["ToewijzingNummer"]),
        product=read_opt_product(element, t),
        toewijzing_ingangsdatum=opt_date(element, m["ToewijzingIngangsdatum"]),
        begindatum=to_date(required_text(element, m["Begindatum"])),
        reden_beeindiging=required_text(element, m["RedenBeeindiging"]),
        einddatum=to_date(required_text(element, m["Einddatum"])),
        status_aanlevering=required_text(element, m["StatusAanlevering"]),
    )
