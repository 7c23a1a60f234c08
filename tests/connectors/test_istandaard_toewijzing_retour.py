"""JW302/WMO302: the retour levels of IV028/IV032, parsing, conformance, retourcodes."""

from __future__ import annotations

from datetime import date

import pytest
from lxml import etree

from connectors.istandaard import (
    Law,
    PayloadRejected,
    parse_toewijzing_retour,
    render_toewijzing,
    render_toewijzing_retour,
)
from connectors.istandaard.model import Toewijzingsbericht
from connectors.istandaard.retourcodes import (
    ACCEPTED,
    IN_MESSAGE_ERROR,
    NOT_ASSESSED,
    RETOURCODES,
    meaning,
)
from connectors.xml_input import parse_xml
from connectors.xsd import load_schema, violations
from schemas import SCHEMA_DIR
from tests.connectors.test_istandaard_toewijzing import (
    BOTH_LAWS,
    BSN,
    REFERENCE,
    needs_reference,
    sample_bericht,
)

RETOUR_DATE = date(2026, 4, 3)


def _render(heen: Toewijzingsbericht, **codes: object) -> bytes:
    return render_toewijzing_retour(
        heen,
        identificatie_retour="RET-000001",
        dagtekening_retour=RETOUR_DATE,
        **codes,  # type: ignore[arg-type]
    )


def _ns(law: Law) -> dict[str, str]:
    return {"m": law.message_namespace(302), "b": law.basis_namespace()}


def _codes(element: etree._Element, ns: dict[str, str]) -> list[str]:
    return [c.text or "" for c in element.findall("m:RetourCodes/m:RetourCode", ns)]


@BOTH_LAWS
def test_fully_accepted_is_header_only_without_codes(law: Law) -> None:
    heen = sample_bericht(law)
    xml = _render(heen)
    root = parse_xml(xml)
    ns = _ns(law)
    assert root.find("m:Client", ns) is None
    assert root.find(".//m:RetourCodes", ns) is None
    header = root.find("m:Header", ns)
    assert header is not None
    assert header.findtext("m:BerichtCode", namespaces=ns) == law.bericht_code(302)
    # Afzender/Ontvanger/identification are the heenbericht's, unchanged (not swapped).
    assert header.findtext("m:Afzender", namespaces=ns) == "0637"
    assert header.findtext("m:Ontvanger", namespaces=ns) == "99990001"
    assert header.findtext("m:BerichtIdentificatie/b:Identificatie", namespaces=ns) == "TW2026000001"
    assert [etree.QName(e).localname for e in header][-3:] == [
        "IdentificatieRetour",
        "DagtekeningRetour",
        "XsdVersieRetour",
    ]

    retour = parse_toewijzing_retour(xml)
    assert retour.header == heen.header
    assert (retour.identificatie_retour, retour.dagtekening_retour) == ("RET-000001", RETOUR_DATE)
    assert retour.all_codes() == ()
    assert retour.bsn is None and retour.product_codes == {}


@BOTH_LAWS
def test_in_message_error_is_header_only_with_0001(law: Law) -> None:
    xml = _render(sample_bericht(law), header_codes=[IN_MESSAGE_ERROR])
    root = parse_xml(xml)
    assert root.find("m:Client", _ns(law)) is None
    retour = parse_toewijzing_retour(xml)
    assert retour.header_codes == ("0001",)
    assert retour.client_codes == () and retour.product_codes == {}


@BOTH_LAWS
def test_cross_message_error_returns_every_part_with_codes(law: Law) -> None:
    heen = sample_bericht(law)
    xml = _render(heen, product_codes={300202: ["9332"]})
    root = parse_xml(xml)
    ns = _ns(law)
    client = root.find("m:Client", ns)
    assert client is not None
    assert client.findtext("m:Bsn", namespaces=ns) == BSN
    header = root.find("m:Header", ns)
    assert header is not None
    assert _codes(header, ns) == [ACCEPTED]
    assert _codes(client, ns) == [ACCEPTED]
    for contact in client.findall("m:Contactgegevens/m:Contact", ns) + client.findall(
        ".//m:Relatie/m:Contact", ns
    ):
        assert _codes(contact, ns) == [ACCEPTED]
    assert [_codes(r, ns) for r in client.findall("m:Relaties/m:Relatie", ns)] == [[ACCEPTED]]
    products = client.findall("m:ToegewezenProducten/m:ToegewezenProduct", ns)
    assert [(p.findtext("m:ToewijzingNummer", namespaces=ns), _codes(p, ns)) for p in products] == [
        ("300201", ["0200"]),
        ("300202", ["9332"]),
        ("300203", ["0200"]),
    ]
    # Every part of the heenbericht is copied: the 301's Client content reappears as is.
    heen_client = parse_xml(render_toewijzing(heen)).find("m:Client", {"m": law.message_namespace(301)})
    assert heen_client is not None
    assert _without_codes(client) == [etree.QName(e).localname for e in heen_client.iter()]

    retour = parse_toewijzing_retour(xml)
    assert retour.bsn == BSN
    assert retour.header_codes == (ACCEPTED,)
    assert retour.client_codes == (ACCEPTED,)
    assert retour.product_codes == {300201: ("0200",), 300202: ("9332",), 300203: ("0200",)}
    assert retour.contact_codes == ((ACCEPTED,), (ACCEPTED,))
    assert retour.relatie_codes == {"1": (ACCEPTED,)}
    assert retour.all_codes() == ("0200", "9332")


def _without_codes(client: etree._Element) -> list[str]:
    names = [etree.QName(e).localname for e in client.iter()]
    return [n for n in names if n not in ("RetourCodes", "RetourCode")]


def test_client_level_codes_and_not_assessed_products() -> None:
    heen = sample_bericht(Law.JEUGDWET)
    xml = _render(
        heen,
        header_codes=[ACCEPTED],
        client_codes=["S300"],
        product_codes={300201: [NOT_ASSESSED], 300202: [NOT_ASSESSED], 300203: [NOT_ASSESSED]},
    )
    retour = parse_toewijzing_retour(xml)
    assert retour.client_codes == ("S300",)
    assert retour.relatie_codes == {"1": ("S300",)}
    assert set(retour.product_codes.values()) == {(NOT_ASSESSED,)}


def test_several_codes_on_one_product_keep_their_order() -> None:
    xml = _render(sample_bericht(Law.WMO), product_codes={300201: ["9361", "9332"]})
    assert parse_toewijzing_retour(xml).product_codes[300201] == ("9361", "9332")


def test_codes_for_an_unknown_toewijzingnummer_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="999"):
        _render(sample_bericht(Law.JEUGDWET), product_codes={999: ["9332"]})


def test_a_301_is_not_a_retour() -> None:
    with pytest.raises(PayloadRejected) as caught:
        parse_toewijzing_retour(render_toewijzing(sample_bericht(Law.JEUGDWET)))
    assert caught.value.code == "StUF055"
    assert BSN not in str(caught.value)


def test_retour_with_a_bad_code_is_an_xsd_failure() -> None:
    xml = _render(sample_bericht(Law.JEUGDWET), header_codes=["0001"]).replace(b">0001<", b">ABCD<")
    with pytest.raises(PayloadRejected) as caught:
        parse_toewijzing_retour(xml)
    assert caught.value.violations
    assert "RetourCode" in caught.value.reason


# --- conformance ----------------------------------------------------------------------


@needs_reference
@pytest.mark.parametrize(
    "codes",
    [{}, {"header_codes": ["0001"]}, {"product_codes": {300203: ["9412"]}}],
    ids=["ok", "in-message-error", "product-level"],
)
def test_rendered_jw302_validates_against_the_published_xsd(codes: dict[str, object]) -> None:
    xml = _render(sample_bericht(Law.JEUGDWET), **codes)
    schema = load_schema("ijw-3.2/jw302.xsd", base_dir=REFERENCE)
    assert violations(schema, parse_xml(xml)) == []


@needs_reference
def test_published_jw302_example_parses_with_header_code_8848() -> None:
    retour = parse_toewijzing_retour((REFERENCE / "ijw-3.2" / "examples" / "jw302.xml").read_bytes())
    assert retour.header.law is Law.JEUGDWET
    assert retour.header_codes == ("8848",)
    assert retour.identificatie_retour == "9452b7eb-c87"
    assert retour.dagtekening_retour == date(2023, 7, 16)
    assert retour.header.identificatie == "123456789012"
    assert retour.bsn is None
    assert meaning("8848").startswith("Dagtekening")


# --- retourcodes ------------------------------------------------------------------------


def _enumeration(xsd: etree._ElementTree) -> set[str]:
    xs = {"xs": "http://www.w3.org/2001/XMLSchema"}
    values = xsd.xpath("//xs:simpleType[@name='LDT_RetourCode']//xs:enumeration/@value", namespaces=xs)
    assert isinstance(values, list)
    return {str(v) for v in values}


def test_every_code_of_the_own_basisschema_has_a_meaning() -> None:
    for folder in ("ijw-3.2", "iwmo-3.2"):
        codes = _enumeration(etree.parse(str(SCHEMA_DIR / folder / "basisschema.xsd")))
        assert codes and codes <= set(RETOURCODES)


@needs_reference
def test_retourcodes_match_the_published_code_list() -> None:
    assert _enumeration(etree.parse(str(REFERENCE / "ijw-3.2" / "basisschema.xsd"))) == set(RETOURCODES)


def test_meanings() -> None:
    assert meaning(ACCEPTED) == "Geen opmerking over deze berichtklasse."
    assert meaning(NOT_ASSESSED) == "Berichtklasse is niet beoordeeld."
    assert "technische redenen" in meaning(IN_MESSAGE_ERROR)
    assert meaning("XXXX") == "onbekende retourcode"
    assert "Aanvraag in onderzoek" in meaning("9365", Law.WMO)
    assert meaning("9365", Law.WMO) != meaning("9365")
