"""JW301/WMO301: rendering, parsing, conformance with the published standard, bad input."""

from __future__ import annotations

import dataclasses
from datetime import date, time
from pathlib import Path

import pytest
from lxml import etree

from connectors.istandaard import Law, PayloadRejected, parse_toewijzing, render_toewijzing
from connectors.istandaard.model import (
    Adres,
    BerichtHeader,
    Client,
    Contact,
    Naam,
    Omvang,
    Product,
    Relatie,
    ToegewezenProduct,
    Toewijzingsbericht,
)
from connectors.xml_input import XmlInputError, parse_xml
from connectors.xsd import SchemaValidationError, load_schema, violations

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "istandaarden"
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"published iStandaarden not found at {REFERENCE}: conformance checks need ../shared/reference",
)
BSN = "999900006"
BOTH_LAWS = pytest.mark.parametrize("law", [Law.JEUGDWET, Law.WMO])
PUBLISHED = {Law.JEUGDWET: "ijw-3.2", Law.WMO: "iwmo-3.2"}


def specifiek(nummer: int = 300201) -> ToegewezenProduct:
    return ToegewezenProduct(
        toewijzingnummer=nummer,
        toewijzingsdatum=date(2026, 4, 1),
        toewijzingstijd=time(12, 34, 56),
        ingangsdatum=date(2026, 4, 1),
        einddatum=date(2026, 12, 31),
        product=Product(categorie="45", code="45A08"),
        omvang=Omvang(volume=3, eenheid="04", frequentie="2"),
        referentie_aanbieder="REF-1",
        commentaar="Twee keer per week begeleiding",
    )


def aspecifiek(nummer: int = 300202) -> ToegewezenProduct:
    return ToegewezenProduct(
        toewijzingnummer=nummer,
        toewijzingsdatum=date(2026, 4, 1),
        toewijzingstijd=time(9, 0, 0),
        ingangsdatum=date(2026, 4, 1),
        einddatum=date(2026, 9, 30),
        product=Product(categorie="54"),
        budget=1_234_567,  # eurocent: EUR 12.345,67
    )


def generiek(nummer: int = 300203) -> ToegewezenProduct:
    return ToegewezenProduct(
        toewijzingnummer=nummer,
        toewijzingsdatum=date(2026, 4, 2),
        toewijzingstijd=time(16, 5, 0),
        ingangsdatum=date(2026, 5, 1),
        einddatum=date(2026, 10, 31),
        reden_wijziging="01",
        budget=250_000,
    )


def sample_bericht(law: Law, *producten: ToegewezenProduct) -> Toewijzingsbericht:
    """A JW301/WMO301 that uses every part of the model (relatie, two phones, periode ...)."""
    categorie = "45" if law is Law.JEUGDWET else "02"
    producten = producten or (specifiek(), aspecifiek(), generiek())
    if law is Law.WMO:  # iWmo product categories are 01-18.
        producten = tuple(
            p
            if p.product is None
            else dataclasses.replace(p, product=Product(categorie=categorie, code=p.product.code and "02A03"))
            for p in producten
        )
    thuis = Contact(
        soort="01",
        adres=Adres(
            huisnummer=12,
            huisletter="a",
            huisnummer_toevoeging="bis",
            postcode="2711AB",
            straatnaam="Markt",
            plaatsnaam="Zoetermeer",
        ),
        telefoon="0791234567",
        telefoon2="0612345678",
        emailadres="gezin@example.org",
    )
    tijdelijk = Contact(
        soort="04",
        adres=Adres(huisnummer=3, postcode="2712CD", straatnaam="Dorpsstraat", plaatsnaam="Zoetermeer"),
        organisatie="Logeerhuis De Linde",
        periode_begindatum=date(2026, 3, 1),
        periode_einddatum=date(2026, 6, 30),
    )
    moeder = Relatie(
        nummer="1",
        volgorde=1,
        soort="12",
        geboortedatum=date(1984, 5, 6),
        geslacht="2",
        naam=Naam(achternaam="Jansen", voornamen="Maria", voorletters="M", naamgebruik="1"),
        contact=Contact(soort="01", telefoon="0797654321", telefoon_landnummer="0031"),
    )
    return Toewijzingsbericht(
        header=BerichtHeader(
            law=law,
            afzender="0637",
            ontvanger="99990001",
            identificatie="TW2026000001",
            dagtekening=date(2026, 4, 2),
        ),
        client=Client(
            bsn=BSN,
            geboortedatum=date(2012, 1, 1),
            geboortedatum_gebruik="2",
            geslacht="1",
            naam=Naam(
                achternaam="Berg",
                voorvoegsel="van den",
                voornamen="Jeroen Ömer",
                voorletters="JÖ",
                naamgebruik="4",
                partner_achternaam="Çelik",
                partner_voorvoegsel="de",
            ),
            contacten=(thuis, tijdelijk),
            communicatie_vorm="1",
            communicatie_taal="Turks",
            juridische_status="01",
            wettelijke_vertegenwoordiging="09",
            commentaar="Graag contact via moeder",
            relaties=(moeder,),
        ),
        producten=producten,
    )


def minimal_bericht(law: Law) -> Toewijzingsbericht:
    """Only what the standard requires: no optional element at all."""
    return Toewijzingsbericht(
        header=BerichtHeader(
            law=law, afzender="0637", ontvanger="99990002", identificatie="1", dagtekening=date(2026, 1, 5)
        ),
        client=Client(
            bsn="999900018",
            geboortedatum=date(1950, 7, 1),
            geslacht="0",
            naam=Naam(achternaam="Visser"),
            contacten=(Contact(soort="01"),),
        ),
        producten=(
            ToegewezenProduct(
                toewijzingnummer=1,
                toewijzingsdatum=date(2026, 1, 5),
                toewijzingstijd=time(8, 0),
                ingangsdatum=date(2026, 1, 5),
            ),
        ),
    )


def local_names(xml: bytes) -> set[str]:
    return {etree.QName(e).localname for e in parse_xml(xml).iter()}


# --- rendering and round trip -------------------------------------------------------------


@BOTH_LAWS
def test_round_trip_equals_the_model(law: Law) -> None:
    bericht = sample_bericht(law)
    assert parse_toewijzing(render_toewijzing(bericht)) == bericht


@BOTH_LAWS
def test_round_trip_without_optional_fields_omits_them(law: Law) -> None:
    bericht = minimal_bericht(law)
    xml = render_toewijzing(bericht)
    assert parse_toewijzing(xml) == bericht
    names = local_names(xml)
    for absent in (
        "Relaties",
        "Communicatie",
        "Commentaar",
        "Product",
        "Omvang",
        "Budget",
        "Einddatum",
        "Adres",
        "Telefoon",
        "Partnernaam",
        "Voornamen",
        "DatumGebruik",
        "RedenWijziging",
    ):
        assert absent not in names


@BOTH_LAWS
def test_header_and_encoding(law: Law) -> None:
    xml = render_toewijzing(sample_bericht(law))
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert not xml.startswith(b"\xef\xbb\xbf")
    assert "Çelik".encode() in xml  # UTF-8, not character references
    root = parse_xml(xml)
    ns = {"m": law.message_namespace(301), "b": law.basis_namespace()}
    header = root.find("m:Header", ns)
    assert header is not None
    assert [etree.QName(e).localname for e in header] == [
        "BerichtCode",
        "BerichtVersie",
        "BerichtSubversie",
        "Afzender",
        "Ontvanger",
        "BerichtIdentificatie",
        "XsdVersie",
    ]
    assert header.findtext("m:BerichtCode", namespaces=ns) == law.bericht_code(301)
    assert header.findtext("m:BerichtVersie", namespaces=ns) == "3"
    assert header.findtext("m:BerichtSubversie", namespaces=ns) == "2"
    assert header.findtext("m:BerichtIdentificatie/b:Identificatie", namespaces=ns) == "TW2026000001"
    assert header.findtext("m:BerichtIdentificatie/b:Dagtekening", namespaces=ns) == "2026-04-02"
    assert header.findtext("m:XsdVersie/b:BasisschemaXsdVersie", namespaces=ns) == "1.0.0"
    assert header.findtext("m:XsdVersie/b:BerichtXsdVersie", namespaces=ns) == "1.0.0"


def test_product_variants_and_money_in_eurocent() -> None:
    root = parse_xml(render_toewijzing(sample_bericht(Law.JEUGDWET)))
    ns = {"m": Law.JEUGDWET.message_namespace(301), "b": Law.JEUGDWET.basis_namespace()}
    products = root.findall(".//m:ToegewezenProduct", ns)
    assert [p.findtext("m:ToewijzingNummer", namespaces=ns) for p in products] == [
        "300201",
        "300202",
        "300203",
    ]
    spec, aspec, gen = products
    assert spec.findtext("m:Product/b:Code", namespaces=ns) == "45A08"
    assert spec.findtext("m:Omvang/b:Volume", namespaces=ns) == "3"
    assert spec.find("m:Budget", ns) is None
    assert aspec.findtext("m:Product/b:Categorie", namespaces=ns) == "54"
    assert aspec.find("m:Product/b:Code", ns) is None
    assert aspec.findtext("m:Budget", namespaces=ns) == "1234567"
    assert gen.find("m:Product", ns) is None
    assert gen.findtext("m:Budget", namespaces=ns) == "250000"


def test_render_refuses_data_that_breaks_the_schema_without_leaking_the_bsn() -> None:
    bericht = sample_bericht(Law.JEUGDWET)
    no_contact = dataclasses.replace(bericht, client=dataclasses.replace(bericht.client, contacten=()))
    with pytest.raises(SchemaValidationError) as caught:
        render_toewijzing(no_contact)
    assert "Contactgegevens" in str(caught.value)
    # An afzender that happens to be BSN-shaped is quoted by libxml2: it must come out masked.
    bsn_afzender = dataclasses.replace(bericht, header=dataclasses.replace(bericht.header, afzender=BSN))
    with pytest.raises(SchemaValidationError) as caught:
        render_toewijzing(bsn_afzender)
    assert BSN not in str(caught.value)
    assert "Afzender" in str(caught.value)


# --- conformance with the published standard ------------------------------------------------


def _published_schema(law: Law, number: int) -> etree.XMLSchema:
    return load_schema(f"{PUBLISHED[law]}/{law.message_prefix}{number}.xsd", base_dir=REFERENCE)


@needs_reference
@BOTH_LAWS
def test_rendered_301_validates_against_the_published_xsd(law: Law) -> None:
    for bericht in (sample_bericht(law), minimal_bericht(law)):
        assert violations(_published_schema(law, 301), parse_xml(render_toewijzing(bericht))) == []


def _canonical(xml: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    return etree.tostring(etree.fromstring(xml, parser), method="c14n")


@needs_reference
def test_published_jw301_example_parses_with_its_values() -> None:
    example = (REFERENCE / "ijw-3.2" / "examples" / "jw301.xml").read_bytes()
    bericht = parse_toewijzing(example)
    assert bericht.header.law is Law.JEUGDWET
    assert (bericht.header.afzender, bericht.header.ontvanger) == ("0384", "42420001")
    assert bericht.client.bsn == BSN
    assert bericht.client.naam.achternaam == "Wit" and bericht.client.naam.voorvoegsel == "de"
    assert [r.nummer for r in bericht.client.relaties] == ["1", "2"]
    assert [p.toewijzingnummer for p in bericht.producten] == [300201, 300202]
    first = bericht.producten[0]
    assert first.product == Product(categorie="55", code="55A11")
    assert first.omvang == Omvang(volume=2, eenheid="04", frequentie="2")
    assert first.toewijzingstijd == time(12, 34, 56)
    assert bericht.producten[1].omvang == Omvang(volume=2, eenheid="16", frequentie="2")
    # Nothing of the published message is lost: rendering it again gives the same document.
    assert _canonical(render_toewijzing(bericht)) == _canonical(example)


@needs_reference
def test_published_wmo301_example_parses_with_its_values() -> None:
    example = (REFERENCE / "iwmo-3.2" / "examples" / "wmo301.xml").read_bytes()
    bericht = parse_toewijzing(example)
    assert bericht.header.law is Law.WMO
    assert bericht.client.bsn == BSN
    assert bericht.client.naam.partner_achternaam == "Jansen"
    assert bericht.client.communicatie_taal == "Deens"
    (product,) = bericht.producten
    assert product.toewijzingnummer == 101
    assert product.product == Product(categorie="01", code="01A01")
    assert product.omvang == Omvang(volume=10, eenheid="01", frequentie="1")
    assert _canonical(render_toewijzing(bericht)) == _canonical(example)


# --- bad input ---------------------------------------------------------------------------


def _valid_xml() -> bytes:
    return render_toewijzing(sample_bericht(Law.JEUGDWET))


def test_wrong_namespace_is_rejected() -> None:
    xml = _valid_xml().replace(b"/ijw/3_2/jw301/schema", b"/ijw/3_1/jw301/schema")
    with pytest.raises(PayloadRejected) as caught:
        parse_toewijzing(xml)
    assert caught.value.code == "StUF055"
    assert "3_1/jw301" in caught.value.reason and "expected" in caught.value.reason
    assert BSN not in str(caught.value)


def test_a_302_is_not_a_301() -> None:
    xml = _valid_xml().replace(b"jw301", b"jw302")
    with pytest.raises(PayloadRejected, match="expected"):
        parse_toewijzing(xml)


def test_missing_required_element_is_an_xsd_failure() -> None:
    root = parse_xml(_valid_xml())
    ns = {"m": Law.JEUGDWET.message_namespace(301)}
    geslacht = root.find("m:Client/m:Geslacht", ns)
    assert geslacht is not None
    geslacht.getparent().remove(geslacht)  # type: ignore[union-attr]
    with pytest.raises(PayloadRejected) as caught:
        parse_toewijzing(etree.tostring(root))
    exc = caught.value
    assert exc.code == "StUF055"
    assert exc.violations and "Geslacht" in exc.violations[0].message
    assert "jw301.xsd" in exc.reason
    assert BSN not in str(exc)


def test_bsn_quoted_by_the_validator_is_masked() -> None:
    xml = _valid_xml().replace(b"<jw301:Afzender>0637<", f"<jw301:Afzender>{BSN}<".encode())
    with pytest.raises(PayloadRejected) as caught:
        parse_toewijzing(xml)
    exc = caught.value
    assert "Afzender" in exc.reason
    assert BSN not in str(exc) and BSN not in exc.reason
    assert all(BSN not in v.message for v in exc.violations)
    assert "*****0006" in exc.reason


def test_not_well_formed_is_rejected() -> None:
    with pytest.raises(PayloadRejected) as caught:
        parse_toewijzing(_valid_xml()[:-20])
    assert isinstance(caught.value.__cause__, XmlInputError)
    assert "well-formed" in caught.value.reason
    assert BSN not in str(caught.value)


@pytest.mark.parametrize(
    ("doctype", "reference"),
    [
        (b'<!DOCTYPE jw301:Bericht [<!ENTITY x SYSTEM "file:///etc/passwd">]>', b"&x;"),
        (
            b'<!DOCTYPE jw301:Bericht [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
            b"&b;",
        ),
        (b'<!DOCTYPE jw301:Bericht SYSTEM "http://127.0.0.1:9/evil.dtd">', b"plain text"),
    ],
    ids=["xxe-file", "entity-expansion", "external-dtd"],
)
def test_doctype_and_entities_are_refused(doctype: bytes, reference: bytes) -> None:
    declaration, rest = _valid_xml().split(b"\n", 1)
    attack = declaration + b"\n" + doctype + rest.replace(b"Graag contact via moeder", reference)
    with pytest.raises(PayloadRejected) as caught:
        parse_toewijzing(attack)
    assert isinstance(caught.value.__cause__, XmlInputError)
    assert "root:" not in str(caught.value)  # nothing of /etc/passwd
    assert BSN not in str(caught.value)


def test_empty_and_non_xml_input() -> None:
    for data in (b"", b"not xml at all", b"\xff\xfe\x00"):
        with pytest.raises(PayloadRejected):
            parse_toewijzing(data)
