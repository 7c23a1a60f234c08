"""JW315/WMO315 (VOT) and JW317/WMO317 (VOW): rendering, parsing, conformance, bad input."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from connectors.istandaard import Law, PayloadRejected, parse_vot, parse_vow, render_vot, render_vow
from connectors.istandaard.model import BerichtHeader, Omvang, Product
from connectors.istandaard.model_inbound import (
    AangevraagdProduct,
    ClientKort,
    NieuwProduct,
    TeWijzigenProduct,
    VerkorteNaam,
    Verwijzer,
    VerzoekOmToewijzing,
    VerzoekOmWijziging,
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


def header(law: Law, identificatie: str = "VZ2026000001") -> BerichtHeader:
    return BerichtHeader(
        law=law, afzender=AGB, ontvanger=GEMEENTE, identificatie=identificatie, dagtekening=date(2026, 4, 6)
    )


def product(law: Law, code: str | None = "A08") -> Product:
    categorie = "45" if law is Law.JEUGDWET else "02"
    return Product(categorie=categorie, code=None if code is None else categorie + code)


def vot(law: Law) -> VerzoekOmToewijzing:
    """Every optional part of a VOT; ``GezagsdragerBekend`` only where the law has it."""
    return VerzoekOmToewijzing(
        header=header(law),
        client=ClientKort(
            bsn=BSN,
            geboortedatum=date(2012, 3, 1),
            geslacht="1",
            naam=VerkorteNaam(achternaam="Berg", voorvoegsel="van den", voornamen="Jeroen", voorletters="J"),
        ),
        gezagsdrager_bekend="1" if law is Law.JEUGDWET else None,
        commentaar="Spoed graag",
        producten=(
            AangevraagdProduct(
                referentie_aanbieder="REF-2026-001",
                beschikkingnummer=123,
                product=product(law),
                beschikking_ingangsdatum=date(2026, 3, 15),
                toewijzing_ingangsdatum=date(2026, 4, 1),
                toewijzing_einddatum=date(2027, 3, 31),
                omvang=Omvang(volume=2, eenheid="16", frequentie="2"),
                verwijzer=Verwijzer(type="01", naam="huisarts"),
                raamcontract="1",
                commentaar="Twee dagdelen per week",
            ),
            AangevraagdProduct(
                referentie_aanbieder="REF-2026-002",
                product=product(law, None),
                toewijzing_ingangsdatum=date(2026, 4, 1),
                budget=1_234_567,
                verwijzer=Verwijzer(type="02", zorgverlener_code="99990002"),
            ),
        ),
    )


def minimal_vot(law: Law) -> VerzoekOmToewijzing:
    return VerzoekOmToewijzing(
        header=header(law, "1"),
        client=ClientKort(
            bsn="999900018",
            geboortedatum=date(1950, 7, 1),
            geslacht="0",
            naam=VerkorteNaam(achternaam="Visser"),
        ),
        producten=(
            AangevraagdProduct(
                referentie_aanbieder="R1",
                toewijzing_ingangsdatum=date(2026, 1, 5),
                verwijzer=Verwijzer(type="04"),
            ),
        ),
    )


def vow(law: Law) -> VerzoekOmWijziging:
    return VerzoekOmWijziging(
        header=header(law, "VW2026000001"),
        bsn=BSN,
        referentie_aanbieder="WIJZ-7",
        reden_verzoek="2",
        ongewijzigd=(300201, 300202),
        te_wijzigen=(
            TeWijzigenProduct(
                toewijzingnummer=300203,
                gewenste_ingangsdatum=date(2026, 5, 1),
                einddatum=date(2026, 12, 31),
                omvang=Omvang(volume=4, eenheid="04", frequentie="2"),
            ),
            TeWijzigenProduct(
                toewijzingnummer=300204, gewenste_ingangsdatum=date(2026, 5, 1), budget=500_000
            ),
        ),
        nieuw=(
            NieuwProduct(
                product=product(law),
                gewenste_ingangsdatum=date(2026, 5, 1),
                einddatum=date(2026, 10, 31),
                omvang=Omvang(volume=20, eenheid="14", frequentie="4"),
            ),
            NieuwProduct(gewenste_ingangsdatum=date(2026, 6, 1), budget=250_000),
        ),
    )


def minimal_vow(law: Law) -> VerzoekOmWijziging:
    return VerzoekOmWijziging(
        header=header(law, "1"), bsn="999900018", referentie_aanbieder="R", reden_verzoek="1"
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
def test_vot_round_trip_equals_the_model(law: Law) -> None:
    for bericht in (vot(law), minimal_vot(law)):
        assert parse_vot(render_vot(bericht)) == bericht


@BOTH_LAWS
def test_vow_round_trip_equals_the_model(law: Law) -> None:
    for bericht in (vow(law), minimal_vow(law)):
        assert parse_vow(render_vow(bericht)) == bericht


def test_gezagsdrager_bekend_is_written_for_the_jeugdwet_only() -> None:
    assert "GezagsdragerBekend" in local_names(render_vot(vot(Law.JEUGDWET)))
    # The iWmo schema has no such element: a value in the model is left out, not sent.
    wmo = dataclasses.replace(vot(Law.WMO), gezagsdrager_bekend="1")
    xml = render_vot(wmo)
    assert "GezagsdragerBekend" not in local_names(xml)
    assert parse_vot(xml).gezagsdrager_bekend is None


@BOTH_LAWS
def test_minimal_messages_omit_every_optional_element(law: Law) -> None:
    names = local_names(render_vot(minimal_vot(law)))
    for absent in ("GezagsdragerBekend", "Commentaar", "BeschikkingNummer", "Product", "Omvang", "Budget"):
        assert absent not in names
    names = local_names(render_vow(minimal_vow(law)))
    assert not names & {"OngewijzigdeProducten", "TeWijzigenProducten", "NieuweProducten"}


@BOTH_LAWS
def test_header_and_element_order(law: Law) -> None:
    root = parse_xml(render_vot(vot(law)))
    ns = {"m": law.message_namespace(315), "b": law.basis_namespace()}
    assert root.findtext("m:Header/m:BerichtCode", namespaces=ns) == law.bericht_code(315)
    assert root.findtext("m:Header/m:Afzender", namespaces=ns) == AGB
    assert root.findtext("m:Header/m:Ontvanger", namespaces=ns) == GEMEENTE
    first = root.find("m:Client/m:AangevraagdeProducten/m:AangevraagdProduct", ns)
    assert first is not None
    assert [etree.QName(e).localname for e in first] == [
        "ReferentieAanbieder",
        "BeschikkingNummer",
        "Product",
        "BeschikkingIngangsdatum",
        "ToewijzingIngangsdatum",
        "ToewijzingEinddatum",
        "Omvang",
        "Verwijzer",
        "Raamcontract",
        "Commentaar",
    ]
    root = parse_xml(render_vow(vow(law)))
    ns = {"m": law.message_namespace(317)}
    assert root.findtext("m:Header/m:BerichtCode", namespaces=ns) == law.bericht_code(317)
    verzoek = root.find("m:Client/m:Verzoek", ns)
    assert verzoek is not None
    assert [etree.QName(e).localname for e in verzoek] == [
        "ReferentieAanbieder",
        "RedenVerzoek",
        "OngewijzigdeProducten",
        "TeWijzigenProducten",
        "NieuweProducten",
    ]


def test_render_refuses_data_that_breaks_the_schema_without_leaking_the_bsn() -> None:
    bericht = vot(Law.JEUGDWET)
    with pytest.raises(SchemaValidationError, match="AangevraagdProduct"):
        render_vot(dataclasses.replace(bericht, producten=()))
    bad_agb = dataclasses.replace(bericht.producten[1], verwijzer=Verwijzer(type="02", zorgverlener_code=BSN))
    with pytest.raises(SchemaValidationError) as caught:
        render_vot(dataclasses.replace(bericht, producten=(bad_agb,)))
    assert BSN not in str(caught.value) and "ZorgverlenerCode" in str(caught.value)


# --- conformance with the published standard ------------------------------------------------


@needs_reference
@BOTH_LAWS
def test_rendered_messages_validate_against_the_published_xsd(law: Law) -> None:
    for bericht in (vot(law), minimal_vot(law)):
        assert violations(published_schema(law, 315), parse_xml(render_vot(bericht))) == []
    for wijziging in (vow(law), minimal_vow(law)):
        assert violations(published_schema(law, 317), parse_xml(render_vow(wijziging))) == []


@needs_reference
def test_published_jw315_example_is_rejected_for_its_impossible_date() -> None:
    # Known defect of the published example: ToewijzingEinddatum 2027-06-31.
    with pytest.raises(PayloadRejected) as caught:
        parse_vot(example(Law.JEUGDWET, 315))
    exc = caught.value
    assert exc.code == "StUF055"
    assert "ToewijzingEinddatum" in exc.reason
    assert all("ToewijzingEinddatum" in v.path for v in exc.violations)
    assert BSN not in str(exc)


@needs_reference
def test_published_jw315_example_with_the_date_repaired_parses_with_its_values() -> None:
    xml = example(Law.JEUGDWET, 315).replace(b"2027-06-31", b"2027-06-30")
    bericht = parse_vot(xml)
    assert bericht.header.law is Law.JEUGDWET
    assert (bericht.header.afzender, bericht.header.ontvanger) == ("42420001", "0384")
    assert bericht.client.bsn == BSN and bericht.client.naam.achternaam == "Wit"
    assert bericht.gezagsdrager_bekend == "1"
    assert bericht.commentaar == "Client Commentaar"
    first, second = bericht.producten
    assert first.referentie_aanbieder == "40A12341234"
    assert first.beschikkingnummer == 123
    assert first.toewijzing_einddatum == date(2027, 6, 30)
    assert first.omvang == Omvang(volume=2, eenheid="16", frequentie="4")
    assert first.verwijzer == Verwijzer(type="01", naam="huisarts")
    assert second.verwijzer == Verwijzer(type="02", zorgverlener_code="12345678")
    _assert_stable(Law.JEUGDWET, 315, xml, bericht, render_vot, parse_vot)


@needs_reference
def test_published_wmo315_example_parses_with_its_values() -> None:
    xml = example(Law.WMO, 315)
    bericht = parse_vot(xml)
    assert bericht.header.law is Law.WMO
    assert bericht.client.bsn == BSN
    assert bericht.gezagsdrager_bekend is None
    assert bericht.commentaar == "Commentaar client"
    assert [p.product for p in bericht.producten] == [
        Product(categorie="01", code="ABCDE"),
        Product(categorie="02", code="BCDEF"),
    ]
    assert bericht.producten[0].toewijzing_einddatum == date(2023, 6, 30)
    assert bericht.producten[0].verwijzer == Verwijzer(type="04", naam="Verwijzer Naam")
    _assert_stable(Law.WMO, 315, xml, bericht, render_vot, parse_vot)


@needs_reference
def test_published_jw317_example_parses_with_its_values() -> None:
    xml = example(Law.JEUGDWET, 317)
    bericht = parse_vow(xml)
    assert bericht.header.law is Law.JEUGDWET
    assert (bericht.bsn, bericht.referentie_aanbieder, bericht.reden_verzoek) == (BSN, "9003", "1")
    assert bericht.ongewijzigd == (10071,)
    assert bericht.te_wijzigen == ()
    (nieuw,) = bericht.nieuw
    assert nieuw.product == Product(categorie="45", code="45A03")
    assert nieuw.gewenste_ingangsdatum == date(2026, 11, 1)
    assert nieuw.omvang == Omvang(volume=4, eenheid="04", frequentie="4")
    _assert_stable(Law.JEUGDWET, 317, xml, bericht, render_vow, parse_vow)


@needs_reference
def test_published_wmo317_example_parses_with_its_values() -> None:
    xml = example(Law.WMO, 317)
    bericht = parse_vow(xml)
    assert bericht.header.law is Law.WMO
    assert bericht.ongewijzigd == (10071,)
    assert bericht.te_wijzigen == (
        TeWijzigenProduct(
            toewijzingnummer=10072, gewenste_ingangsdatum=date(2023, 4, 2), einddatum=date(2023, 12, 31)
        ),
    )
    (nieuw,) = bericht.nieuw
    assert nieuw.product == Product(categorie="01", code="01A12")
    assert nieuw.omvang == Omvang(volume=20, eenheid="14", frequentie="4")
    _assert_stable(Law.WMO, 317, xml, bericht, render_vow, parse_vow)


def _assert_stable(
    law: Law,
    number: int,
    xml: bytes,
    bericht: Any,
    render: Callable[[Any], bytes],
    parse: Callable[[bytes], Any],
) -> None:
    """parse -> render -> parse gives the same model, the same document, and a published-valid one."""
    rendered = render(bericht)
    assert parse(rendered) == bericht
    assert canonical(rendered) == canonical(xml)
    assert violations(published_schema(law, number), parse_xml(rendered)) == []


# --- bad input ---------------------------------------------------------------------------

Parser = Callable[[bytes], Any]
CASES: list[tuple[str, Parser, Callable[[], bytes]]] = [
    ("jw315", parse_vot, lambda: render_vot(vot(Law.JEUGDWET))),
    ("wmo315", parse_vot, lambda: render_vot(vot(Law.WMO))),
    ("jw317", parse_vow, lambda: render_vow(vow(Law.JEUGDWET))),
    ("wmo317", parse_vow, lambda: render_vow(vow(Law.WMO))),
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
    assert "expected" in exc.reason


@BAD_INPUT
def test_doctype_is_refused(name: str, parse: Parser, valid: Callable[[], bytes]) -> None:
    declaration, rest = valid().split(b"\n", 1)
    attack = declaration + f"\n<!DOCTYPE x [<!ENTITY bsn '{BSN}'>]>".encode() + rest
    exc = _assert_refused(parse, attack)
    assert isinstance(exc.__cause__, XmlInputError)


@BAD_INPUT
def test_bsn_quoted_by_the_validator_is_masked(name: str, parse: Parser, valid: Callable[[], bytes]) -> None:
    xml = valid().replace(f"<{name}:Afzender>{AGB}<".encode(), f"<{name}:Afzender>{BSN}<".encode())
    exc = _assert_refused(parse, xml)
    assert "Afzender" in exc.reason
    assert any("*****0006" in v.message for v in exc.violations)


def test_gezagsdrager_bekend_in_a_wmo315_is_an_xsd_failure() -> None:
    xml = render_vot(vot(Law.WMO)).replace(
        b"<wmo315:Commentaar>Spoed",
        b"<wmo315:GezagsdragerBekend>1</wmo315:GezagsdragerBekend><wmo315:Commentaar>Spoed",
    )
    exc = _assert_refused(parse_vot, xml)
    assert "GezagsdragerBekend" in exc.reason


def test_a_317_is_not_a_315_and_vice_versa() -> None:
    _assert_refused(parse_vot, render_vow(vow(Law.JEUGDWET)))
    _assert_refused(parse_vow, render_vot(vot(Law.WMO)))
