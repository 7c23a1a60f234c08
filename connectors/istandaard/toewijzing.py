"""JW301 / WMO301, the toewijzing (assignment) from gemeente to aanbieder, as XML.

One implementation for both laws: :class:`~connectors.istandaard.law.Law` supplies the
namespaces and BerichtCode, :mod:`connectors.istandaard.xml_names` the element names.
The Client block is built and read here for the 302 retour too, which repeats it with a
``RetourCodes`` element at the end of each class (client, relatie, contact, product):
:class:`RetourLevels` switches those on.

Rendered documents are validated against the project's own XSD before they are
returned, because a message that fails there would be refused by the chain (StUF055)
only after it had left the gateway. The 301 itself is written as text and parsed once
(:mod:`connectors.istandaard.toewijzing_text`), twice as fast as the tree; the tree
builder here stays the reference, renders whatever the text path cannot return, and
builds the 302 retour and the 305/307 headers.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from connectors.istandaard.errors import accept_payload, assert_rendered_valid
from connectors.istandaard.model import (
    BerichtHeader,
    Client,
    Contact,
    Relatie,
    ToegewezenProduct,
    Toewijzingsbericht,
)
from connectors.istandaard.toewijzing_text import render_text
from connectors.istandaard.xml_names import (
    BERICHT_SUBVERSIE,
    BERICHT_VERSIE,
    Tags,
    build_adres,
    build_bericht_identificatie,
    build_geboortedatum,
    build_naam,
    build_omvang,
    build_product,
    build_retourcodes,
    build_telefoon,
    build_xsd_versie,
    child,
    opt_date,
    opt_int,
    read_adres,
    read_geboortedatum,
    read_naam,
    read_omvang,
    read_product,
    read_telefoon,
    required_text,
    sub,
    sub_opt,
    tags,
    text,
    to_date,
    to_time,
)
from connectors.xsd import load_schema

MESSAGE = 301
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

_per_thread = threading.local()


@dataclass(frozen=True, slots=True)
class RetourLevels:
    """The RetourCodes a 302 puts on each class of the repeated Client block."""

    #: Codes for the client, each relatie and each contact.
    client: tuple[str, ...]
    #: Codes per ToewijzingNummer; every product of the heenbericht must have an entry.
    products: Mapping[int, tuple[str, ...]]


def render_toewijzing(bericht: Toewijzingsbericht) -> bytes:
    """The JW301/WMO301 of ``bericht`` as UTF-8 bytes (declaration, no BOM), XSD-validated.

    Raises :class:`connectors.xsd.SchemaValidationError` when the data breaks the schema.

    The document is written as text (:mod:`connectors.istandaard.toewijzing_text`),
    parsed once and validated: about twice as fast as building it element by element,
    which matters at the year-change peak (bench 1). Only a document that parses and
    validates comes back from that path; anything else (a schema violation, a character
    XML does not allow, a value of the wrong type) is rendered again by
    :func:`render_toewijzing_tree`, so refusals stay exactly the tree builder's: the
    violation paths and messages the gateway turns into a 422, lxml's own ``ValueError``
    for control characters.
    """
    xml = _render_fast(bericht)
    # Outside any ``except``: the tree builder's exception must not chain the fast
    # path's, whose arguments hold the whole document (BSN included).
    return render_toewijzing_tree(bericht) if xml is None else xml


def render_toewijzing_tree(bericht: Toewijzingsbericht) -> bytes:
    """:func:`render_toewijzing` element by element: the reference its fast path equals.

    Slower, but its errors are the specific ones (lxml checks each value as it is set,
    the validator reports element paths), so every message the fast path does not
    return is rendered here.
    """
    root = build_toewijzing(bericht)
    assert_rendered_valid(bericht.header.law, MESSAGE, root)
    return serialize(root)


def build_toewijzing(bericht: Toewijzingsbericht) -> etree._Element:
    """The 301 as an lxml tree, not yet validated."""
    t = tags(bericht.header.law, MESSAGE)
    root = etree.Element(t.m["Bericht"], nsmap=t.nsmap)
    build_header(root, t, bericht.header)
    build_client(root, t, bericht.client, bericht.producten, None)
    return root


def _render_fast(bericht: Toewijzingsbericht) -> bytes | None:
    """The validated document written as text, or None when the tree builder must decide."""
    try:
        xml = XML_DECLARATION + render_text(bericht).encode("utf-8")
        root = etree.fromstring(xml, _parser())
    except (AttributeError, TypeError, ValueError, etree.XMLSyntaxError):
        # A value that is not a string (None in a required field), a lone surrogate,
        # a character XML does not allow: the tree builder raises what it always raised.
        return None
    if not load_schema(bericht.header.law.schema_path(MESSAGE)).validate(root):
        return None
    return xml


def parse_toewijzing(xml: bytes) -> Toewijzingsbericht:
    """Read a JW301/WMO301 (law from the namespace), validated against the project's XSD.

    Raises :class:`connectors.istandaard.errors.PayloadRejected` for anything that is not
    a valid 301 of either law.
    """
    law, root = accept_payload(xml, MESSAGE)
    t = tags(law, MESSAGE)
    header = child(root, t.m["Header"])
    client = child(root, t.m["Client"])
    assert header is not None and client is not None  # required by the XSD
    return Toewijzingsbericht(
        header=read_header(header, t),
        client=read_client(client, t),
        producten=read_producten(client, t),
    )


def serialize(root: etree._Element) -> bytes:
    """UTF-8 without BOM, with the declaration the published examples use."""
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8")


def _parser() -> etree.XMLParser:
    """This thread's parser for the fast path (lxml parsers keep state: one per thread).

    The text is our own, every value escaped; the parser is locked down all the same.
    """
    parser: etree.XMLParser | None = getattr(_per_thread, "parser", None)
    if parser is None:
        parser = _per_thread.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, collect_ids=False
        )
    return parser


# --- header ---------------------------------------------------------------------------


def build_header(root: etree._Element, t: Tags, header: BerichtHeader) -> etree._Element:
    """The heenbericht header; a retour appends its own elements to the returned element."""
    m = t.m
    element = sub(root, m["Header"])
    sub(element, m["BerichtCode"], t.law.bericht_code(t.number))
    sub(element, m["BerichtVersie"], BERICHT_VERSIE)
    sub(element, m["BerichtSubversie"], BERICHT_SUBVERSIE)
    sub(element, m["Afzender"], header.afzender)
    sub(element, m["Ontvanger"], header.ontvanger)
    build_bericht_identificatie(
        element, m["BerichtIdentificatie"], t, header.identificatie, header.dagtekening
    )
    build_xsd_versie(element, m["XsdVersie"], t, header.basisschema_xsd_versie, header.bericht_xsd_versie)
    return element


def read_header(element: etree._Element, t: Tags) -> BerichtHeader:
    m, b = t.m, t.b
    identificatie = child(element, m["BerichtIdentificatie"])
    xsd_versie = child(element, m["XsdVersie"])
    assert identificatie is not None and xsd_versie is not None  # required by the XSD
    return BerichtHeader(
        law=t.law,
        afzender=required_text(element, m["Afzender"]),
        ontvanger=required_text(element, m["Ontvanger"]),
        identificatie=required_text(identificatie, b["Identificatie"]),
        dagtekening=to_date(required_text(identificatie, b["Dagtekening"])),
        basisschema_xsd_versie=required_text(xsd_versie, b["BasisschemaXsdVersie"]),
        bericht_xsd_versie=required_text(xsd_versie, b["BerichtXsdVersie"]),
    )


# --- client ---------------------------------------------------------------------------


def build_client(
    root: etree._Element,
    t: Tags,
    client: Client,
    producten: tuple[ToegewezenProduct, ...],
    retour: RetourLevels | None,
) -> None:
    """The Client block in XSD order; with ``retour``, each class ends with its RetourCodes."""
    m = t.m
    element = sub(root, m["Client"])
    sub(element, m["Bsn"], client.bsn)
    build_geboortedatum(element, m["Geboortedatum"], t, client.geboortedatum, client.geboortedatum_gebruik)
    sub(element, m["Geslacht"], client.geslacht)
    build_naam(element, m["Naam"], t, client.naam)
    if client.communicatie_vorm is not None:
        communicatie = sub(element, m["Communicatie"])
        sub(communicatie, t.b["Vorm"], client.communicatie_vorm)
        sub_opt(communicatie, t.b["Taal"], client.communicatie_taal)
    sub_opt(element, m["JuridischeStatus"], client.juridische_status)
    sub_opt(element, m["WettelijkeVertegenwoordiging"], client.wettelijke_vertegenwoordiging)
    sub_opt(element, m["Commentaar"], client.commentaar)
    if client.relaties:
        relaties = sub(element, m["Relaties"])
        for relatie in client.relaties:
            _build_relatie(relaties, t, relatie, retour)
    contactgegevens = sub(element, m["Contactgegevens"])
    for contact in client.contacten:
        _build_contact(contactgegevens, t, contact, retour)
    toegewezen = sub(element, m["ToegewezenProducten"])
    for product in producten:
        _build_product(toegewezen, t, product, retour)
    if retour is not None:
        build_retourcodes(element, t, retour.client)


def _build_relatie(parent: etree._Element, t: Tags, relatie: Relatie, retour: RetourLevels | None) -> None:
    m = t.m
    element = sub(parent, m["Relatie"])
    sub(element, m["Nummer"], relatie.nummer)
    sub_opt(element, m["Volgorde"], None if relatie.volgorde is None else str(relatie.volgorde))
    sub(element, m["Soort"], relatie.soort)
    if relatie.geboortedatum is not None:
        build_geboortedatum(
            element, m["Geboortedatum"], t, relatie.geboortedatum, relatie.geboortedatum_gebruik
        )
    sub_opt(element, m["Geslacht"], relatie.geslacht)
    build_naam(element, m["Naam"], t, relatie.naam)
    _build_contact(element, t, relatie.contact, retour)
    if retour is not None:
        build_retourcodes(element, t, retour.client)


def _build_contact(parent: etree._Element, t: Tags, contact: Contact, retour: RetourLevels | None) -> None:
    m = t.m
    element = sub(parent, m["Contact"])
    sub(element, m["Soort"], contact.soort)
    if contact.adres is not None:
        build_adres(element, m["Adres"], t, contact.adres)
    sub_opt(element, m["Organisatie"], contact.organisatie)
    if contact.telefoon is not None:
        numbers = [(contact.telefoon, contact.telefoon_landnummer)]
        if contact.telefoon2 is not None:
            numbers.append((contact.telefoon2, contact.telefoon2_landnummer))
        build_telefoon(element, m["Telefoon"], t, tuple(numbers))
    sub_opt(element, m["Emailadres"], contact.emailadres)
    if contact.periode_begindatum is not None or contact.periode_einddatum is not None:
        periode = sub(element, m["Periode"])
        if contact.periode_begindatum is not None:
            sub(periode, t.b["Begindatum"], contact.periode_begindatum.isoformat())
        if contact.periode_einddatum is not None:
            sub(periode, t.b["Einddatum"], contact.periode_einddatum.isoformat())
    if retour is not None:
        build_retourcodes(element, t, retour.client)


def _build_product(
    parent: etree._Element, t: Tags, product: ToegewezenProduct, retour: RetourLevels | None
) -> None:
    m = t.m
    element = sub(parent, m["ToegewezenProduct"])
    sub(element, m["ToewijzingNummer"], str(product.toewijzingnummer))
    sub_opt(element, m["ReferentieAanbieder"], product.referentie_aanbieder)
    if product.product is not None:
        build_product(element, m["Product"], t, product.product)
    sub(element, m["Toewijzingsdatum"], product.toewijzingsdatum.isoformat())
    sub(element, m["Toewijzingstijd"], product.toewijzingstijd.isoformat())
    sub(element, m["Ingangsdatum"], product.ingangsdatum.isoformat())
    sub_opt(element, m["Einddatum"], None if product.einddatum is None else product.einddatum.isoformat())
    sub_opt(element, m["RedenWijziging"], product.reden_wijziging)
    if product.omvang is not None:
        build_omvang(element, m["Omvang"], t, product.omvang)
    sub_opt(element, m["Budget"], None if product.budget is None else str(product.budget))
    sub_opt(element, m["Commentaar"], product.commentaar)
    if retour is not None:
        build_retourcodes(element, t, retour.products[product.toewijzingnummer])


def read_client(element: etree._Element, t: Tags) -> Client:
    m = t.m
    geboortedatum = child(element, m["Geboortedatum"])
    naam = child(element, m["Naam"])
    assert geboortedatum is not None and naam is not None  # required by the XSD
    datum, gebruik = read_geboortedatum(geboortedatum, t)
    communicatie = child(element, m["Communicatie"])
    relaties = child(element, m["Relaties"])
    contactgegevens = child(element, m["Contactgegevens"])
    return Client(
        bsn=required_text(element, m["Bsn"]),
        geboortedatum=datum,
        geboortedatum_gebruik=gebruik,
        geslacht=required_text(element, m["Geslacht"]),
        naam=read_naam(naam, t),
        communicatie_vorm=None if communicatie is None else required_text(communicatie, t.b["Vorm"]),
        communicatie_taal=None if communicatie is None else text(communicatie, t.b["Taal"]),
        juridische_status=text(element, m["JuridischeStatus"]),
        wettelijke_vertegenwoordiging=text(element, m["WettelijkeVertegenwoordiging"]),
        commentaar=text(element, m["Commentaar"]),
        relaties=()
        if relaties is None
        else tuple(_read_relatie(r, t) for r in relaties.iterchildren(m["Relatie"])),
        contacten=()
        if contactgegevens is None
        else tuple(_read_contact(c, t) for c in contactgegevens.iterchildren(m["Contact"])),
    )


def _read_relatie(element: etree._Element, t: Tags) -> Relatie:
    m = t.m
    naam = child(element, m["Naam"])
    contact = child(element, m["Contact"])
    assert naam is not None and contact is not None  # required by the XSD
    geboortedatum = child(element, m["Geboortedatum"])
    datum, gebruik = (None, None) if geboortedatum is None else read_geboortedatum(geboortedatum, t)
    return Relatie(
        nummer=required_text(element, m["Nummer"]),
        volgorde=opt_int(element, m["Volgorde"]),
        soort=required_text(element, m["Soort"]),
        geboortedatum=datum,
        geboortedatum_gebruik=gebruik,
        geslacht=text(element, m["Geslacht"]),
        naam=read_naam(naam, t),
        contact=_read_contact(contact, t),
    )


def _read_contact(element: etree._Element, t: Tags) -> Contact:
    m = t.m
    adres = child(element, m["Adres"])
    telefoon = child(element, m["Telefoon"])
    numbers = [] if telefoon is None else read_telefoon(telefoon, t)
    periode = child(element, m["Periode"])
    return Contact(
        soort=required_text(element, m["Soort"]),
        adres=None if adres is None else read_adres(adres, t),
        organisatie=text(element, m["Organisatie"]),
        telefoon=numbers[0][0] if numbers else None,
        telefoon_landnummer=numbers[0][1] if numbers else "0031",
        telefoon2=numbers[1][0] if len(numbers) > 1 else None,
        telefoon2_landnummer=numbers[1][1] if len(numbers) > 1 else "0031",
        emailadres=text(element, m["Emailadres"]),
        periode_begindatum=None if periode is None else opt_date(periode, t.b["Begindatum"]),
        periode_einddatum=None if periode is None else opt_date(periode, t.b["Einddatum"]),
    )


def read_producten(client: etree._Element, t: Tags) -> tuple[ToegewezenProduct, ...]:
    toegewezen = child(client, t.m["ToegewezenProducten"])
    if toegewezen is None:
        return ()
    return tuple(_read_product(p, t) for p in toegewezen.iterchildren(t.m["ToegewezenProduct"]))


def _read_product(element: etree._Element, t: Tags) -> ToegewezenProduct:
    m = t.m
    product = child(element, m["Product"])
    omvang = child(element, m["Omvang"])
    return ToegewezenProduct(
        toewijzingnummer=int(required_text(element, m["ToewijzingNummer"])),
        referentie_aanbieder=text(element, m["ReferentieAanbieder"]),
        product=None if product is None else read_product(product, t),
        toewijzingsdatum=to_date(required_text(element, m["Toewijzingsdatum"])),
        toewijzingstijd=to_time(required_text(element, m["Toewijzingstijd"])),
        ingangsdatum=to_date(required_text(element, m["Ingangsdatum"])),
        einddatum=opt_date(element, m["Einddatum"]),
        reden_wijziging=text(element, m["RedenWijziging"]),
        omvang=None if omvang is None else read_omvang(omvang, t),
        budget=opt_int(element, m["Budget"]),
        commentaar=text(element, m["Commentaar"]),
    )
