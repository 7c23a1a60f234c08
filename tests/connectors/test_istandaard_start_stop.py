"""JW305/WMO305 and JW307/WMO307: rendering, parsing, conformance with the published standard, bad input."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from connectors.istandaard import Law, PayloadRejected, parse_start, parse_stop, render_start, render_stop
from connectors.istandaard.model import BerichtHeader, Product
from connectors.istandaard.model_inbound import (
    ClientKort,
    StartBericht,
    StartProduct,
    StopBericht,
    StopProduct,
    VerkorteNaam,
)
from connectors.xml_input import XmlInputError, parse_xml
from connectors.xsd import SchemaValidationError, load_schema, violations

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "istandaarden"
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"published iStandaarden not found at {REFERENCE}: conformance checks need ../shared/reference",
)
BSN = "999900006"
AGB = "99990001"
GEMEENTE = "0637"
BOTH_LAWS = pytest.mark.parametrize("law", [Law.JEUGDWET, Law.WMO])
PUBLISHED = {Law.JEUGDWET: "ijw-3.2", Law.WMO: "iwmo-3.2"}


def header(law: Law, identificatie: str = "ST2026000001") -> BerichtHeader:
    """An aanbieder -> gemeente header: the sender is the AGB code, the receiver the gemeente."""
    return BerichtHeader(
        law=law, afzender=AGB, ontvanger=GEMEENTE, identificatie=identificatie, dagtekening=date(2026, 4, 6)
    )


def client() -> ClientKort:
    return ClientKort(
        bsn=BSN,
        geboortedatum=date(2012, 1, 1),
        geboortedatum_gebruik="2",
        geslacht="2",
        naam=VerkorteNaam(achternaam="Çelik", voorvoegsel="van", voornamen="Ayşe Maria", voorletters="AM"),
    )


def minimal_client() -> ClientKort:
    return ClientKort(
        bsn="999900018", geboortedatum=date(1950, 7, 1), geslacht="0", naam=VerkorteNaam(achternaam="Visser")
    )


def categorie(law: Law) -> Product:
    return (
        Product(categorie="45", code="45A08")
        if law is Law.JEUGDWET
        else Product(categorie="02", code="02A03")
    )


def start_bericht(law: Law) -> StartBericht:
    """Every variant of StartProduct: by number, by product and date, both, and a removal."""
    return StartBericht(
        header=header(law),
        client=client(),
        producten=(
            StartProduct(
                toewijzingnummer=300201,
                product=categorie(law),
                toewijzing_ingangsdatum=date(2026, 4, 1),
                begindatum=date(2026, 4, 3),
                status_aanlevering="1",
            ),
            StartProduct(toewijzingnummer=300202, begindatum=date(2026, 4, 6), status_aanlevering="2"),
            StartProduct(
                product=Product(categorie=categorie(law).categorie),
                toewijzing_ingangsdatum=date(2026, 4, 1),
                begindatum=date(2026, 4, 2),
                status_aanlevering="3",
            ),
        ),
    )


def stop_bericht(law: Law) -> StopBericht:
    return StopBericht(
        header=header(law, "SP2026000001"),
        client=client(),
        producten=(
            StopProduct(
                toewijzingnummer=300201,
                product=categorie(law),
                toewijzing_ingangsdatum=date(2026, 4, 1),
                begindatum=date(2026, 4, 3),
                einddatum=date(2026, 7, 17),
                reden_beeindiging="31",
                status_aanlevering="1",
            ),
            StopProduct(
                toewijzingnummer=300202,
                begindatum=date(2026, 4, 6),
                einddatum=date(2026, 5, 1),
                reden_beeindiging="20",
                status_aanlevering="2",
            ),
        ),
    )


def minimal_start(law: Law) -> StartBericht:
    return StartBericht(
        header=header(law, "1"),
        client=minimal_client(),
        producten=(StartProduct(begindatum=date(2026, 1, 5), status_aanlevering="1"),),
    )


def minimal_stop(law: Law) -> StopBericht:
    return StopBericht(
        header=header(law, "1"),
        client=minimal_client(),
        producten=(
            StopProduct(
                begindatum=date(2026, 1, 5),
                einddatum=date(2026, 2, 1),
                reden_beeindiging="31",
                status_aanlevering="1",
            ),
        ),
    )


def local_names(xml: bytes) -> set[str]:
    return {etree.QName(e).localname for e in parse_xml(xml).iter()}


def canonical(xml: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    return etree.tostring(etree.fromstring(xml, parser), method="c14n")


def published_schema(law: Law, number: int) -> etree.XMLSchema:
    return load_schema(f"{PUBLISHED[law]}/{law.message_prefix}{number}.xsd", base_dir=REFERENCE)


def example(law: Law, number: int) -> bytes:
    return (REFERENCE / PUBLISHED[law] / "examples" / f"{law.message_prefix}{number}.xml").read_bytes()


# --- rendering and round trip -------------------------------------------------------------


@BOTH_LAWS
def test_start_round_trip_equals_the_model(law: Law) -> None:
    for bericht in (start_bericht(law), minimal_start(law)):
        assert parse_start(render_start(bericht)) == bericht


@BOTH_LAWS
def test_stop_round_trip_equals_the_model(law: Law) -> None:
    for bericht in (stop_bericht(law), minimal_stop(law)):
        assert parse_stop(render_stop(bericht)) == bericht


@BOTH_LAWS
def test_minimal_messages_omit_every_optional_element(law: Law) -> None:
    for xml in (render_start(minimal_start(law)), render_stop(minimal_stop(law))):
        names = local_names(xml)
        for absent in ("ToewijzingNummer", "Product", "ToewijzingIngangsdatum", "Voorvoegsel", "Voornamen"):
            assert absent not in names
        assert "DatumGebruik" not in names and "NaamGebruik" not in names  # CDT_VerkorteNaam has none


@BOTH_LAWS
def test_header_has_the_aanbieder_as_sender_and_the_law_s_codes(law: Law) -> None:
    for number, xml in ((305, render_start(start_bericht(law))), (307, render_stop(stop_bericht(law)))):
        assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        assert "Çelik".encode() in xml
        root = parse_xml(xml)
        assert root.tag == f"{{{law.message_namespace(number)}}}Bericht"
        ns = {"m": law.message_namespace(number), "b": law.basis_namespace()}
        assert root.findtext("m:Header/m:BerichtCode", namespaces=ns) == law.bericht_code(number)
        assert root.findtext("m:Header/m:Afzender", namespaces=ns) == AGB
        assert root.findtext("m:Header/m:Ontvanger", namespaces=ns) == GEMEENTE
        assert root.findtext("m:Client/m:Naam/b:Geslachtsnaam/b:Achternaam", namespaces=ns) == "Çelik"


def test_stop_product_elements_are_in_schema_order() -> None:
    root = parse_xml(render_stop(stop_bericht(Law.JEUGDWET)))
    ns = {"m": Law.JEUGDWET.message_namespace(307)}
    first = root.find("m:Client/m:StopProducten/m:StopProduct", ns)
    assert first is not None
    assert [etree.QName(e).localname for e in first] == [
        "ToewijzingNummer",
        "Product",
        "ToewijzingIngangsdatum",
        "Begindatum",
        "RedenBeeindiging",
        "Einddatum",
        "StatusAanlevering",
    ]


def test_render_refuses_data_that_breaks_the_schema_without_leaking_the_bsn() -> None:
    bericht = start_bericht(Law.WMO)
    # The 301's roles (gemeente as sender) are wrong here: Afzender must be an AGB code.
    swapped = dataclasses.replace(
        bericht, header=dataclasses.replace(bericht.header, afzender=GEMEENTE, ontvanger=AGB)
    )
    with pytest.raises(SchemaValidationError) as caught:
        render_start(swapped)
    assert "Afzender" in str(caught.value)
    no_products = dataclasses.replace(stop_bericht(Law.JEUGDWET), producten=())
    with pytest.raises(SchemaValidationError, match="StopProduct"):
        render_stop(no_products)
    bsn_status = dataclasses.replace(
        bericht, producten=(dataclasses.replace(bericht.producten[0], status_aanlevering=BSN),)
    )
    with pytest.raises(SchemaValidationError) as caught:
        render_start(bsn_status)
    assert BSN not in str(caught.value) and "StatusAanlevering" in str(caught.value)


# --- conformance with the published standard ------------------------------------------------


@needs_reference
@BOTH_LAWS
def test_rendered_messages_validate_against_the_published_xsd(law: Law) -> None:
    for bericht in (start_bericht(law), minimal_start(law)):
        assert violations(published_schema(law, 305), parse_xml(render_start(bericht))) == []
    for stop in (stop_bericht(law), minimal_stop(law)):
        assert violations(published_schema(law, 307), parse_xml(render_stop(stop))) == []


@needs_reference
@BOTH_LAWS
def test_published_305_example_parses_with_its_values(law: Law) -> None:
    xml = example(law, 305)
    bericht = parse_start(xml)
    assert bericht.header.law is law
    assert (bericht.header.afzender, bericht.header.ontvanger) == ("65656055", "0363")
    assert bericht.client.bsn == BSN
    assert bericht.client.naam == VerkorteNaam(
        achternaam="Wit", voorvoegsel="de", voornamen="Tom" if law is Law.JEUGDWET else "Tim", voorletters="T"
    )
    assert [p.toewijzingnummer for p in bericht.producten] == [300201, 300202]
    first = bericht.producten[0]
    assert first.product == (
        Product(categorie="55", code="55A11")
        if law is Law.JEUGDWET
        else Product(categorie="01", code="01A11")
    )
    assert first.status_aanlevering == "1"
    if law is Law.JEUGDWET:
        assert first.toewijzing_ingangsdatum == date(2026, 4, 1)
        assert [p.begindatum for p in bericht.producten] == [date(2026, 4, 3), date(2026, 4, 15)]
    else:
        assert [p.begindatum for p in bericht.producten] == [date(2025, 4, 3), date(2025, 4, 4)]
    rendered = render_start(bericht)
    assert parse_start(rendered) == bericht
    assert canonical(rendered) == canonical(xml)  # nothing of the published message is lost
    assert violations(published_schema(law, 305), parse_xml(rendered)) == []


@needs_reference
@BOTH_LAWS
def test_published_307_example_parses_with_its_values(law: Law) -> None:
    xml = example(law, 307)
    bericht = parse_stop(xml)
    assert bericht.header.law is law
    assert bericht.header.afzender == "65656055"
    assert bericht.client.bsn == BSN
    assert [p.toewijzingnummer for p in bericht.producten] == [300201, 300202]
    assert all(p.reden_beeindiging for p in bericht.producten)
    if law is Law.JEUGDWET:
        assert [p.einddatum for p in bericht.producten] == [date(2026, 7, 17)] * 2
        assert [p.reden_beeindiging for p in bericht.producten] == ["31", "31"]
    rendered = render_stop(bericht)
    assert parse_stop(rendered) == bericht
    assert canonical(rendered) == canonical(xml)
    assert violations(published_schema(law, 307), parse_xml(rendered)) == []


# --- bad input ---------------------------------------------------------------------------

Parser = Callable[[bytes], Any]
CASES: list[tuple[str, Parser, Callable[[], bytes]]] = [
    ("jw305", parse_start, lambda: render_start(start_bericht(Law.JEUGDWET))),
    ("wmo305", parse_start, lambda: render_start(start_bericht(Law.WMO))),
    ("jw307", parse_stop, lambda: render_stop(stop_bericht(Law.JEUGDWET))),
    ("wmo307", parse_stop, lambda: render_stop(stop_bericht(Law.WMO))),
]
BAD_INPUT = pytest.mark.parametrize(("name", "parse", "valid"), CASES, ids=[c[0] for c in CASES])


def _assert_refused(parse: Parser, xml: bytes) -> PayloadRejected:
    with pytest.raises(PayloadRejected) as caught:
        parse(xml)
    exc = caught.value
    assert exc.code == "StUF055"
    assert BSN not in str(exc) and BSN not in exc.reason
    assert all(BSN not in v.message for v in exc.violations)
    return exc


@BAD_INPUT
def test_not_well_formed_is_rejected(name: str, parse: Parser, valid: Callable[[], bytes]) -> None:
    exc = _assert_refused(parse, valid()[:-20])
    assert isinstance(exc.__cause__, XmlInputError)


@BAD_INPUT
def test_wrong_namespace_is_rejected(name: str, parse: Parser, valid: Callable[[], bytes]) -> None:
    exc = _assert_refused(parse, valid().replace(f"/3_2/{name}/".encode(), f"/3_1/{name}/".encode()))
    assert "expected" in exc.reason and f"3_1/{name}" in exc.reason


@BAD_INPUT
def test_doctype_is_refused(name: str, parse: Parser, valid: Callable[[], bytes]) -> None:
    declaration, rest = valid().split(b"\n", 1)
    attack = declaration + f"\n<!DOCTYPE x [<!ENTITY bsn '{BSN}'>]>".encode() + rest
    exc = _assert_refused(parse, attack)
    assert isinstance(exc.__cause__, XmlInputError)


@BAD_INPUT
def test_bsn_quoted_by_the_validator_is_masked(name: str, parse: Parser, valid: Callable[[], bytes]) -> None:
    # libxml2 quotes a value that breaks a pattern: an AGB code that is really a BSN.
    xml = valid().replace(f"<{name}:Afzender>{AGB}<".encode(), f"<{name}:Afzender>{BSN}<".encode())
    exc = _assert_refused(parse, xml)
    assert "Afzender" in exc.reason
    assert any("*****0006" in v.message for v in exc.violations)


def test_a_307_is_not_a_305_and_vice_versa() -> None:
    _assert_refused(parse_start, render_stop(stop_bericht(Law.JEUGDWET)))
    _assert_refused(parse_stop, render_start(start_bericht(Law.WMO)))
