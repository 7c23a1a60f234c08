"""JW323/WMO323 declaratie and JW325/WMO325 declaratie-antwoord: shapes, round trips, conformance."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from lxml import etree

from connectors.istandaard.declaratie import (
    FULLY_GRANTED,
    parse_declaratie,
    parse_declaratie_antwoord,
    render_declaratie,
    render_declaratie_antwoord,
)
from connectors.istandaard.errors import PayloadRejected
from connectors.istandaard.law import Law
from connectors.istandaard.model import BerichtHeader
from connectors.istandaard.model_inbound import (
    BedragMetDC,
    Declaratie,
    DeclaratieAntwoord,
    DeclaratieClient,
    Prestatie,
)
from connectors.istandaard.retourcodes import ACCEPTED, IN_MESSAGE_ERROR, NOT_ASSESSED
from connectors.xml_input import parse_xml
from connectors.xsd import SchemaValidationError, load_schema, violations
from tests.connectors.test_istandaard_toewijzing import BOTH_LAWS, PUBLISHED, REFERENCE, needs_reference

BSN_1 = "999900006"
BSN_2 = "999900018"


def _prestatie(law: Law, referentie: str, toewijzing: int, volume: int, **changes: object) -> Prestatie:
    categorie, code = ("45", "45A03") if law is Law.JEUGDWET else ("02", "02A03")
    prestatie = Prestatie(
        referentienummer=referentie,
        toewijzingnummer=toewijzing,
        categorie=categorie,
        productcode=code,
        periode_begin=date(2026, 4, 1),
        periode_eind=date(2026, 4, 30),
        geleverd_volume=volume,
        eenheid="04",
        product_tarief=6_500,
        ingediend_bedrag=BedragMetDC(volume * 6_500),
    )
    return dataclasses.replace(prestatie, **changes)  # type: ignore[arg-type]


def sample_declaratie(law: Law) -> Declaratie:
    """Two clients, three prestaties, one of them a credit correcting an earlier one."""
    credit = _prestatie(
        law,
        "RN2026-0003",
        300203,
        2,
        vorig_referentienummer="RN2026-0001",
        ingediend_bedrag=BedragMetDC(13_000, "C"),
        product_tarief=None,
    )
    return Declaratie(
        header=BerichtHeader(
            law=law,
            afzender="99990001",
            ontvanger="0637",
            identificatie="DCL-0001",
            dagtekening=date(2026, 5, 4),
        ),
        declaratienummer="DN2026004",
        periode_begin=date(2026, 4, 1),
        periode_eind=date(2026, 4, 30),
        dagtekening=date(2026, 5, 4),
        totaal_ingediend=BedragMetDC(45_500 + 26_000 - 13_000),
        clienten=(
            DeclaratieClient(BSN_1, (_prestatie(law, "RN2026-0001", 300201, 7),)),
            DeclaratieClient(BSN_2, (_prestatie(law, "RN2026-0002", 300202, 4), credit)),
        ),
    )


def antwoord_for(heen: Declaratie, **changes: object) -> DeclaratieAntwoord:
    antwoord = DeclaratieAntwoord(
        header=BerichtHeader(
            law=heen.header.law,
            afzender=heen.header.ontvanger,
            ontvanger=heen.header.afzender,
            identificatie="DA-0001",
            dagtekening=date(2026, 5, 11),
        ),
        declaratie_identificatie=heen.header.identificatie,
        declaratie_dagtekening=heen.header.dagtekening,
        declaratienummer=heen.declaratienummer,
        totaal_ingediend=heen.totaal_ingediend,
        totaal_toegekend=heen.totaal_ingediend,
    )
    return dataclasses.replace(antwoord, **changes)  # type: ignore[arg-type]


def _ns(law: Law) -> dict[str, str]:
    return {"m": law.message_namespace(325), "b": law.basis_namespace()}


def _codes(element: etree._Element, ns: dict[str, str]) -> list[str]:
    return [c.text or "" for c in element.findall("m:RetourCodes/m:RetourCode", ns)]


# --- 323 --------------------------------------------------------------------------------


@BOTH_LAWS
def test_declaratie_round_trip(law: Law) -> None:
    bericht = sample_declaratie(law)
    xml = render_declaratie(bericht)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert parse_declaratie(xml) == bericht


def test_declaratie_nummer_must_be_alphanumeric() -> None:
    bericht = dataclasses.replace(sample_declaratie(Law.JEUGDWET), declaratienummer="DN-2026")
    with pytest.raises(SchemaValidationError):
        render_declaratie(bericht)


@BOTH_LAWS
def test_bad_declaratie_is_rejected_without_bsn(law: Law) -> None:
    xml = render_declaratie(sample_declaratie(law))
    # A BSN where a volume belongs: libxml2 quotes the value, the exception must not.
    bad = xml.replace(b"GeleverdVolume>7<", b"GeleverdVolume>" + BSN_1.encode() + b"<", 1)
    assert bad != xml
    with pytest.raises(PayloadRejected) as caught:
        parse_declaratie(bad)
    assert caught.value.code == "StUF055"
    assert caught.value.violations
    for text in (str(caught.value), *(str(v) for v in caught.value.violations)):
        assert BSN_1 not in text
    with pytest.raises(PayloadRejected):
        parse_declaratie(b"<not-xml")
    with pytest.raises(PayloadRejected):  # a 325 is not a 323
        parse_declaratie(
            render_declaratie_antwoord(antwoord_for(sample_declaratie(law)), sample_declaratie(law))
        )


@needs_reference
def test_published_jw323_parses() -> None:
    bericht = parse_declaratie((REFERENCE / "ijw-3.2" / "examples" / "jw323.xml").read_bytes())
    assert bericht.header.law is Law.JEUGDWET
    assert (bericht.header.afzender, bericht.header.ontvanger) == ("65656055", "0384")
    assert bericht.header.identificatie == "765432198"
    assert bericht.declaratienummer == "DN001"
    assert (bericht.periode_begin, bericht.periode_eind) == (date(2026, 4, 1), date(2026, 4, 30))
    assert bericht.totaal_ingediend == BedragMetDC(79_000, "D")
    assert [c.bsn for c in bericht.clienten] == [BSN_1, BSN_2]
    last = bericht.clienten[1].prestaties[2]
    assert (last.referentienummer, last.toewijzingnummer, last.productcode) == ("RN004", 10073, "45A04")
    assert (last.periode_begin, last.geleverd_volume, last.product_tarief) == (date(2026, 3, 1), 14, 1500)
    assert last.ingediend_bedrag == BedragMetDC(21_000, "D")
    assert parse_declaratie(render_declaratie(bericht)) == bericht


@needs_reference
def test_published_wmo323_parses() -> None:
    bericht = parse_declaratie((REFERENCE / "iwmo-3.2" / "examples" / "wmo323.xml").read_bytes())
    assert bericht.header.law is Law.WMO
    assert bericht.declaratienummer == "DN001"
    assert bericht.totaal_ingediend == BedragMetDC(58_000, "D")
    first = bericht.clienten[0].prestaties[0]
    assert (first.referentienummer, first.toewijzingnummer, first.categorie) == ("RN001", 20072, "01")
    assert bericht.clienten[0].prestaties[1].toewijzingnummer == 200730
    assert parse_declaratie(render_declaratie(bericht)) == bericht


@needs_reference
@BOTH_LAWS
def test_rendered_323_validates_against_the_published_xsd(law: Law) -> None:
    prefix = "jw" if law is Law.JEUGDWET else "wmo"
    schema = load_schema(f"{PUBLISHED[law]}/{prefix}323.xsd", base_dir=REFERENCE)
    assert violations(schema, parse_xml(render_declaratie(sample_declaratie(law)))) == []


# --- 325 --------------------------------------------------------------------------------


@BOTH_LAWS
def test_fully_granted_is_8001_with_totals_and_no_clients(law: Law) -> None:
    heen = sample_declaratie(law)
    xml = render_declaratie_antwoord(antwoord_for(heen), heen)
    root = parse_xml(xml)
    ns = _ns(law)
    header = root.find("m:Header", ns)
    body = root.find("m:DeclaratieAntwoord", ns)
    assert header is not None and body is not None
    assert header.findtext("m:BerichtCode", namespaces=ns) == law.bericht_code(325)
    assert header.findtext("m:DeclaratieIdentificatie/b:Identificatie", namespaces=ns) == "DCL-0001"
    assert header.find("m:XsdVersieDeclaratie", ns) is not None
    assert _codes(header, ns) == [FULLY_GRANTED]
    assert body.find("m:Clienten", ns) is None
    assert body.findtext("m:TotaalToegekendBedrag/b:TotaalBedrag", namespaces=ns) == "58500"
    assert body.findtext("m:TotaalToegekendBedrag/b:DebetCredit", namespaces=ns) == "D"
    assert _codes(body, ns) == [ACCEPTED]
    assert BSN_1.encode() not in xml

    parsed = parse_declaratie_antwoord(xml)
    assert parsed == antwoord_for(heen, header_codes=(FULLY_GRANTED,), declaratie_codes=(ACCEPTED,))


@BOTH_LAWS
def test_partly_rejected_lists_every_prestatie_with_its_codes(law: Law) -> None:
    heen = sample_declaratie(law)
    antwoord = antwoord_for(
        heen,
        totaal_toegekend=BedragMetDC(13_000),
        prestatie_codes={"RN2026-0001": ("9321", "0611")},
    )
    xml = render_declaratie_antwoord(antwoord, heen)
    root = parse_xml(xml)
    ns = _ns(law)
    header = root.find("m:Header", ns)
    assert header is not None
    assert _codes(header, ns) == [ACCEPTED]
    clients = root.findall("m:DeclaratieAntwoord/m:Clienten/m:Client", ns)
    assert [c.findtext("m:Bsn", namespaces=ns) for c in clients] == [BSN_1, BSN_2]
    assert [_codes(c, ns) for c in clients] == [[ACCEPTED], [ACCEPTED]]
    prestaties = root.findall(".//m:Prestatie", ns)
    assert [
        (p.findtext("m:ProductReferentie/b:ReferentieNummer", namespaces=ns), _codes(p, ns))
        for p in prestaties
    ] == [("RN2026-0001", ["9321", "0611"]), ("RN2026-0002", ["0200"]), ("RN2026-0003", ["0200"])]
    # The prestaties are the 323's, copied: the credit keeps its VorigReferentieNummer and "C".
    credit = prestaties[2]
    assert credit.findtext("m:ProductReferentie/b:VorigReferentieNummer", namespaces=ns) == "RN2026-0001"
    assert credit.findtext("m:IngediendBedrag/b:DebetCredit", namespaces=ns) == "C"
    assert credit.find("m:ProductTarief", ns) is None

    parsed = parse_declaratie_antwoord(xml)
    assert parsed.header_codes == (ACCEPTED,)
    assert parsed.declaratie_codes == (ACCEPTED,)
    assert parsed.totaal_toegekend == BedragMetDC(13_000)
    assert parsed.prestatie_codes == {
        "RN2026-0001": ("9321", "0611"),
        "RN2026-0002": ("0200",),
        "RN2026-0003": ("0200",),
    }
    complete = dataclasses.replace(antwoord, header_codes=(ACCEPTED,), declaratie_codes=(ACCEPTED,))
    assert parsed == dataclasses.replace(complete, prestatie_codes=parsed.prestatie_codes)
    # Rendering the parsed answer again gives the same document.
    assert render_declaratie_antwoord(parsed, heen) == xml


@BOTH_LAWS
def test_rejected_declaratie_class_marks_the_rest_not_assessed(law: Law) -> None:
    heen = sample_declaratie(law)
    antwoord = antwoord_for(heen, totaal_toegekend=BedragMetDC(0), declaratie_codes=("9333",))
    parsed = parse_declaratie_antwoord(render_declaratie_antwoord(antwoord, heen))
    assert parsed.declaratie_codes == ("9333",)
    assert parsed.header_codes == (ACCEPTED,)
    assert set(parsed.prestatie_codes.values()) == {(NOT_ASSESSED,)}


@BOTH_LAWS
def test_message_refused_as_a_whole_is_header_only(law: Law) -> None:
    heen = sample_declaratie(law)
    xml = render_declaratie_antwoord(antwoord_for(heen, header_codes=(IN_MESSAGE_ERROR,)), heen)
    root = parse_xml(xml)
    assert root.find("m:DeclaratieAntwoord", _ns(law)) is None
    parsed = parse_declaratie_antwoord(xml)
    assert parsed.header_codes == (IN_MESSAGE_ERROR,)
    assert parsed.declaratie_identificatie == "DCL-0001"
    assert (parsed.declaratienummer, parsed.prestatie_codes) == ("", {})


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"declaratie_identificatie": "OTHER"}, "DeclaratieIdentificatie"),
        ({"declaratienummer": "DN9"}, "DeclaratieNummer"),
        ({"prestatie_codes": {"RN-UNKNOWN": ("9338",)}}, "RN-UNKNOWN"),
    ],
)
def test_an_answer_to_another_declaratie_is_a_programming_error(
    changes: dict[str, object], match: str
) -> None:
    heen = sample_declaratie(Law.JEUGDWET)
    with pytest.raises(ValueError, match=match):
        render_declaratie_antwoord(antwoord_for(heen, **changes), heen)
    wmo = dataclasses.replace(
        antwoord_for(heen), header=dataclasses.replace(antwoord_for(heen).header, law=Law.WMO)
    )
    with pytest.raises(ValueError, match="cannot answer"):
        render_declaratie_antwoord(wmo, heen)


def test_bad_325_is_rejected_without_bsn() -> None:
    heen = sample_declaratie(Law.WMO)
    xml = render_declaratie_antwoord(antwoord_for(heen, prestatie_codes={"RN2026-0002": ("9307",)}), heen)
    bad = xml.replace(b">9307<", b">" + BSN_2.encode() + b"<")
    with pytest.raises(PayloadRejected) as caught:
        parse_declaratie_antwoord(bad)
    assert BSN_2 not in str(caught.value)
    with pytest.raises(PayloadRejected):  # a 323 is not a 325
        parse_declaratie_antwoord(render_declaratie(heen))


@needs_reference
@pytest.mark.parametrize(
    "changes",
    [{}, {"prestatie_codes": {"RN2026-0002": ("9307", "9308")}}, {"header_codes": ("9056",)}],
    ids=["fully-granted", "partly-rejected", "refused"],
)
def test_rendered_jw325_validates_against_the_published_xsd(changes: dict[str, object]) -> None:
    heen = sample_declaratie(Law.JEUGDWET)
    xml = render_declaratie_antwoord(antwoord_for(heen, **changes), heen)
    schema = load_schema("ijw-3.2/jw325.xsd", base_dir=REFERENCE)
    assert violations(schema, parse_xml(xml)) == []


@needs_reference
def test_published_jw325_parses() -> None:
    antwoord = parse_declaratie_antwoord((REFERENCE / "ijw-3.2" / "examples" / "jw325.xml").read_bytes())
    assert antwoord.header.law is Law.JEUGDWET
    assert (antwoord.header.afzender, antwoord.header.ontvanger) == ("0384", "65656055")
    assert antwoord.declaratie_identificatie == "765432198"
    assert antwoord.declaratienummer == "DN001"
    assert antwoord.totaal_ingediend == BedragMetDC(58_000, "C")
    assert antwoord.totaal_toegekend == BedragMetDC(34_000, "C")
    assert antwoord.header_codes == ("0200",)
    assert antwoord.declaratie_codes == ("0200",)
    assert antwoord.prestatie_codes == {
        "RN001": ("0611",),
        "RN002": ("9339", "9340", "9341"),
        "RN003": ("9307",),
    }
