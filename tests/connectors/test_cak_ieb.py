"""WMO405/407 and their retours 406/408: round trips, schema checks, refusals without BSNs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from lxml import etree

from connectors.cak import (
    BerichtRef,
    Melding,
    PayloadRejected,
    Regeling,
    Soort,
    Voorziening,
    namespace,
    parse_melding,
    parse_retour,
    read_retour_codes,
    render_melding,
    render_retour,
)
from connectors.istandaard.model_inbound import ClientKort, VerkorteNaam
from connectors.xsd import SchemaValidationError

BSN = "999900006"
CLIENT = ClientKort(
    bsn=BSN,
    geboortedatum=date(1950, 4, 1),
    geslacht="1",
    naam=VerkorteNaam(achternaam="Vries", voorvoegsel="de", voorletters="J"),
)
HULPMIDDEL = Voorziening(
    toewijzingnummer=12,
    beschikkingnummer="WMO-2026/001",
    categorie="14",
    code="14A01",
    leveringsvorm="ZIN",
    ingangsdatum=date(2026, 12, 1),
    kostprijs=125000,
)
BEGELEIDING = Voorziening(
    toewijzingnummer=13,
    beschikkingnummer="WMO-2026/001",
    categorie="02",
    code=None,
    leveringsvorm="PGB",
    ingangsdatum=date(2026, 12, 1),
    einddatum=date(2027, 5, 31),
)


def melding(regeling: Regeling = Regeling.EIGEN_BIJDRAGE, **changes: object) -> Melding:
    base = Melding(
        regeling=regeling,
        afzender="0637",
        bericht=BerichtRef("17", date(2026, 11, 22)),
        client=CLIENT,
        soort=Soort.START,
        datum=date(2026, 12, 1),
        voorzieningen=(HULPMIDDEL, BEGELEIDING),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_wmo405_round_trip_with_kostprijs_and_herstel_link() -> None:
    original = melding(herstel_van=BerichtRef("9", date(2026, 11, 1)), soort=Soort.STOP)
    xml = render_melding(original)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = etree.fromstring(xml)
    assert root.tag == f"{{{namespace(405)}}}Bericht"
    assert root.findtext(f"{{{namespace(405)}}}Header/{{{namespace(405)}}}BerichtCode") == "905"
    assert parse_melding(xml) == original


def test_wmo407_carries_no_kostprijs() -> None:
    xml = render_melding(melding(Regeling.BESCHERMD_WONEN))
    assert b"Kostprijs" not in xml
    parsed = parse_melding(xml)
    assert parsed.regeling is Regeling.BESCHERMD_WONEN
    assert parsed.voorzieningen[0].kostprijs is None
    assert etree.fromstring(xml).findtext(f".//{{{namespace(407)}}}BerichtCode") == "907"


def test_retour_levels_header_only_and_per_class() -> None:
    heen = melding()
    ok = parse_retour(render_retour(heen, identificatie_retour="r1", dagtekening_retour=date(2026, 11, 23)))
    assert ok.all_codes() == () and ok.herstel_codes() == ()
    assert ok.melding.bericht == heen.bericht and ok.melding.voorzieningen == ()
    header = render_retour(
        heen, identificatie_retour="r2", dagtekening_retour=date(2026, 11, 23), header_codes=["0001"]
    )
    assert read_retour_codes(header) == (["0001"], {})
    per_class = parse_retour(
        render_retour(
            heen,
            identificatie_retour="r3",
            dagtekening_retour=date(2026, 11, 23),
            voorziening_codes={12: ["H002"]},
        )
    )
    assert per_class.melding == heen
    assert per_class.voorziening_codes == {12: ("H002",), 13: ("0200",)}
    assert per_class.client_codes == ("0200",) and per_class.melding_codes == ("0200",)
    assert per_class.herstel_codes() == ("H002",)
    retour_408 = render_retour(
        melding(Regeling.BESCHERMD_WONEN), identificatie_retour="r4", dagtekening_retour=date(2026, 11, 23)
    )
    assert parse_retour(retour_408).melding.regeling is Regeling.BESCHERMD_WONEN


def test_rendering_refuses_data_the_schema_forbids_without_the_bsn() -> None:
    bad = melding(voorzieningen=(replace(HULPMIDDEL, categorie="45"),))  # a youth category
    with pytest.raises(SchemaValidationError) as caught:
        render_melding(bad)
    assert BSN not in str(caught.value)


@pytest.mark.parametrize(
    "payload",
    [
        b"not xml",
        b"<Bericht/>",
        render_melding(melding()).replace(b"<wmo405:Soort>1<", b"<wmo405:Soort>7<"),
        render_melding(melding()).replace(b"<wmo405:Geslacht>1<", b"<wmo405:Geslacht>999900006<"),
    ],
    ids=["not-xml", "wrong-root", "bad-soort", "bsn-quoted-in-error"],
)
def test_parse_refuses_invalid_payloads_with_stuf055_and_no_bsn(payload: bytes) -> None:
    with pytest.raises(PayloadRejected) as caught:
        parse_melding(payload)
    assert caught.value.code == "StUF055"
    assert BSN not in str(caught.value) and BSN not in caught.value.reason


def test_a_retour_is_not_a_melding_and_vice_versa() -> None:
    with pytest.raises(PayloadRejected):
        parse_retour(render_melding(melding()))
    retour = render_retour(melding(), identificatie_retour="r", dagtekening_retour=date(2026, 11, 23))
    with pytest.raises(PayloadRejected):
        parse_melding(retour)
