"""TKB toekenningsbericht and its retour: round trips, the project's own XSD, refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from connectors.istandaard import Law, PayloadRejected
from connectors.istandaard.model import Adres, Naam, Omvang
from connectors.svb import (
    SVB,
    Hulpverlener,
    Kind,
    Mutatie,
    PgbClient,
    PgbHeader,
    Toekenning,
    Toekenningsbericht,
    Vertegenwoordiger,
    functies,
    parse_tkb,
    parse_tkb_retour,
    read_tkb_retour_codes,
    render_tkb,
    render_tkb_retour,
)
from connectors.xml_input import parse_xml
from connectors.xsd import SchemaValidationError, load_schema, violations
from schemas import SCHEMA_DIR

BSN = "999900006"
CATEGORIE = {Law.WMO: ("02", "02A01"), Law.JEUGDWET: ("45", "45A08")}


def tkb(law: Law = Law.WMO, **toekenning: object) -> Toekenningsbericht:
    categorie, code = CATEGORIE[law]
    fields: dict[str, object] = {
        "toewijzingnummer": 1234,
        "mutatie": Mutatie.TOEKENNING,
        "beschikkingnummer": "WMO-2026/17",
        "categorie": categorie,
        "code": code,
        "hulpverlener": Hulpverlener.ZELFSTANDIGE,
        "budget": 442_000,
        "omvang": Omvang(volume=4, eenheid="04", frequentie="2"),
        "begindatum": date(2026, 12, 1),
        "einddatum": date(2027, 5, 31),
        "toekenningsdatum": date(2026, 11, 20),
    }
    fields.update(toekenning)
    return Toekenningsbericht(
        header=PgbHeader(law, "0637", SVB, "42", date(2026, 11, 20)),
        client=PgbClient(
            bsn=BSN,
            geboortedatum=date(2010, 3, 21),
            geslacht="2",
            naam=Naam(achternaam="Jansen", voorletters="S"),
            adres=Adres(huisnummer=1, postcode="2711AA", straatnaam="Markt", plaatsnaam="Zoetermeer"),
        ),
        vertegenwoordiger=Vertegenwoordiger(
            naam=Naam(achternaam="Jansen", voornamen="Piet"), relatie="ouder", bsn="999900018"
        ),
        toekenning=Toekenning(**fields),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("law", list(Law))
def test_tkb_round_trip_both_laws(law: Law) -> None:
    bericht = tkb(law)
    xml = render_tkb(bericht)
    assert not violations(load_schema(Kind.TKB.schema_path), parse_xml(xml))
    assert parse_tkb(xml) == bericht
    code = "458" if law is Law.WMO else "460"
    assert f"<tkb:BerichtCode>{code}</tkb:BerichtCode>".encode() in xml
    assert Kind.TKB.functie(law) == ("WMO458" if law is Law.WMO else "JW460")


def test_functies_and_codes() -> None:
    assert functies(Kind.TKB_RETOUR) == {"WMO459": Law.WMO, "JW461": Law.JEUGDWET}
    assert functies(Kind.BAB) == {"WMO464": Law.WMO, "JW466": Law.JEUGDWET}
    assert functies(Kind.BAB_RETOUR) == {"WMO465": Law.WMO, "JW467": Law.JEUGDWET}


def test_client_as_budgethouder_and_withdrawal_round_trip() -> None:
    bericht = replace(
        tkb(mutatie=Mutatie.INTREKKING, reden_wijziging="13", omvang=None), vertegenwoordiger=None
    )
    xml = render_tkb(bericht)
    assert b"<tkb:Budgethouder>1</tkb:Budgethouder>" in xml
    assert parse_tkb(xml) == bericht


def test_category_of_the_other_law_is_refused() -> None:
    with pytest.raises(ValueError, match="not a wmo category"):
        render_tkb(tkb(Law.WMO, categorie="45"))
    xml = render_tkb(tkb(Law.JEUGDWET)).replace(b"<tkb:BerichtCode>460<", b"<tkb:BerichtCode>458<")
    with pytest.raises(PayloadRejected, match="does not belong to wmo"):
        parse_tkb(xml)


def test_render_refuses_what_the_schema_refuses_without_the_bsn() -> None:
    with pytest.raises(SchemaValidationError) as caught:
        render_tkb(replace(tkb(), client=replace(tkb().client, geslacht=BSN)))
    assert BSN not in str(caught.value)
    assert all(BSN not in v.message for v in caught.value.violations)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not xml", "not acceptable XML"),
        (b"<Bericht xmlns='urn:other'/>", "root element"),
        (b"<!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>", "not acceptable XML"),
    ],
)
def test_bad_payloads_are_stuf055(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadRejected) as caught:
        parse_tkb(payload)
    assert caught.value.code == "StUF055"
    assert reason in caught.value.reason


def test_schema_violation_is_refused_and_masks_the_bsn() -> None:
    xml = render_tkb(tkb()).replace(b"<tkb:Budget>442000<", b"<tkb:Budget>-1<")
    xml = xml.replace(b"<tkb:Hulpverlener>2<", b"<tkb:Hulpverlener>" + BSN.encode() + b"<")
    with pytest.raises(PayloadRejected) as caught:
        parse_tkb(xml)
    assert caught.value.code == "StUF055"
    assert BSN not in str(caught.value) and BSN not in caught.value.reason


def test_retour_fully_accepted_is_header_only() -> None:
    heen = tkb()
    xml = render_tkb_retour(heen, identificatie_retour="R1", dagtekening_retour=date(2026, 11, 21))
    root = parse_xml(xml)
    assert root.find("{*}Client") is None
    retour = parse_tkb_retour(xml)
    assert retour.all_codes() == [] and retour.header.afzender == "0637" and retour.header.ontvanger == SVB
    assert read_tkb_retour_codes(xml) == ([], {})


def test_retour_with_codes_on_the_toekenning() -> None:
    heen = tkb(Law.JEUGDWET)
    xml = render_tkb_retour(
        heen, identificatie_retour="R2", dagtekening_retour=date(2026, 11, 21), toekenning_codes=["P011"]
    )
    assert b"<tkbr:BerichtCode>461</tkbr:BerichtCode>" in xml
    retour = parse_tkb_retour(xml)
    assert retour.header.law is Law.JEUGDWET
    assert retour.toekenning_codes == ("P011",) and retour.client_codes == ("0200",)
    assert read_tkb_retour_codes(xml) == (["0200", "P011"], {1234: ("P011",)})


def test_retour_schema_rejects_a_bad_code() -> None:
    xml = render_tkb_retour(
        tkb(), identificatie_retour="R3", dagtekening_retour=date(2026, 11, 21), header_codes=["0001"]
    ).replace(b"<tkbr:RetourCode>0001<", b"<tkbr:RetourCode>bad!<")
    with pytest.raises(PayloadRejected):
        parse_tkb_retour(xml)


def test_namespaces_are_not_official_ones() -> None:
    for kind in Kind:
        assert kind.namespace.startswith("urn:gemeente-gateway:model:ipgb:1.0:")
        text = (SCHEMA_DIR / kind.schema_path).read_text(encoding="utf-8")
        assert "OWN model" in text and "istandaarden.nl/ipgb" not in text
