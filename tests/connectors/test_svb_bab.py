"""BAB budgetafsluitbericht and its retour: round trips, the project's own XSD, refusals."""

from __future__ import annotations

from datetime import date

import pytest

from connectors.istandaard import Law, PayloadRejected
from connectors.svb import (
    SVB,
    Budgetafsluitbericht,
    Budgetafsluiting,
    Kind,
    PgbHeader,
    parse_bab,
    parse_bab_retour,
    render_bab,
    render_bab_retour,
)
from connectors.xml_input import parse_xml
from connectors.xsd import load_schema, violations

BSN = "999900031"


def bab(law: Law = Law.WMO, *nummers: int) -> Budgetafsluitbericht:
    categorie = "03" if law is Law.WMO else "45"
    return Budgetafsluitbericht(
        header=PgbHeader(law, SVB, "0637", "BAB-1", date(2027, 6, 1)),
        bsn=BSN,
        afsluitingen=tuple(
            Budgetafsluiting(
                toewijzingnummer=nummer,
                categorie=categorie,
                code=None if nummer % 2 else f"{categorie}A01",
                begindatum=date(2026, 12, 1),
                einddatum=date(2027, 5, 31),
                toegekend=100_000,
                besteed=80_000,
                resterend=20_000,
                afsluitdatum=date(2027, 6, 1),
            )
            for nummer in (nummers or (7,))
        ),
    )


@pytest.mark.parametrize("law", list(Law))
def test_bab_round_trip_both_laws(law: Law) -> None:
    bericht = bab(law, 7, 8)
    xml = render_bab(bericht)
    assert not violations(load_schema(Kind.BAB.schema_path), parse_xml(xml))
    assert parse_bab(xml) == bericht
    assert all(a.sluit for a in bericht.afsluitingen)
    code = "464" if law is Law.WMO else "466"
    assert f"<bab:BerichtCode>{code}</bab:BerichtCode>".encode() in xml


def test_bab_of_a_gemeente_sender_fails_the_schema() -> None:
    xml = render_bab(bab()).replace(b"<bab:Afzender>SVB<", b"<bab:Afzender>0599<")
    with pytest.raises(PayloadRejected) as caught:
        parse_bab(xml)
    assert caught.value.code == "StUF055" and BSN not in str(caught.value)


def test_bab_is_not_a_tkb() -> None:
    from connectors.svb import parse_tkb

    with pytest.raises(PayloadRejected, match="root element"):
        parse_tkb(render_bab(bab()))


def test_retour_ok_is_header_only_and_copies_the_parties() -> None:
    xml = render_bab_retour(bab(Law.JEUGDWET), identificatie_retour="9", dagtekening_retour=date(2027, 6, 2))
    assert parse_xml(xml).find("{*}Client") is None
    retour = parse_bab_retour(xml)
    assert retour.header.law is Law.JEUGDWET and retour.all_codes() == []
    assert (retour.header.afzender, retour.header.ontvanger) == (SVB, "0637")
    assert b"<babr:BerichtCode>467</babr:BerichtCode>" in xml


def test_retour_codes_on_one_afsluiting_others_0200() -> None:
    xml = render_bab_retour(
        bab(Law.WMO, 7, 8),
        identificatie_retour="10",
        dagtekening_retour=date(2027, 6, 2),
        afsluiting_codes={8: ["P001"]},
    )
    retour = parse_bab_retour(xml)
    assert retour.afsluiting_codes == {7: ("0200",), 8: ("P001",)}
    assert retour.client_codes == ("0200",)
    assert retour.bsn == BSN
    assert retour.all_codes() == ["0200", "P001"]


def test_retour_refusing_the_whole_bab_in_its_header() -> None:
    from gateway.pgb_bab import render_bab_refusal

    xml = render_bab_refusal(render_bab(bab()), "11", date(2027, 6, 2), ["9056"])
    retour = parse_bab_retour(xml)
    assert retour.header_codes == ("9056",) and retour.afsluiting_codes == {} and retour.bsn is None
