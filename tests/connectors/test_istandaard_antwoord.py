"""JW319/WMO319 Antwoordbericht: rendering, parsing, conformance with the published standard, bad input."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from connectors.istandaard import Law, PayloadRejected, parse_antwoord, render_antwoord
from connectors.istandaard.model import BerichtHeader
from connectors.istandaard.model_inbound import Antwoordbericht
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


def afwijzing(law: Law) -> Antwoordbericht:
    """A rejection; for the Jeugdwet pointing at the gemeente responsible under the woonplaatsbeginsel."""
    return Antwoordbericht(
        header=BerichtHeader(
            law=law,
            afzender=GEMEENTE,
            ontvanger=AGB,
            identificatie="AW2026000001",
            dagtekening=date(2026, 4, 8),
        ),
        referentie_aanbieder="REF-2026-001",
        verzoek_antwoord="1",
        reden_afwijzing="8" if law is Law.JEUGDWET else "7",
        woonplaatsbeginsel_gemeente="0599" if law is Law.JEUGDWET else None,
    )


def in_onderzoek(law: Law) -> Antwoordbericht:
    return Antwoordbericht(
        header=BerichtHeader(
            law=law, afzender=GEMEENTE, ontvanger=AGB, identificatie="1", dagtekening=date(2026, 4, 8)
        ),
        referentie_aanbieder="R",
        verzoek_antwoord="2",
    )


def local_names(xml: bytes) -> list[str]:
    return [etree.QName(e).localname for e in parse_xml(xml).iter()]


def canonical(xml: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    return etree.tostring(etree.fromstring(xml, parser), method="c14n")


def published_schema(law: Law) -> etree.XMLSchema:
    return load_schema(f"{PUBLISHED[law]}/{law.message_prefix}319.xsd", base_dir=REFERENCE)


# --- rendering and round trip -------------------------------------------------------------


@BOTH_LAWS
def test_round_trip_equals_the_model(law: Law) -> None:
    for bericht in (afwijzing(law), in_onderzoek(law)):
        assert parse_antwoord(render_antwoord(bericht)) == bericht


@BOTH_LAWS
def test_header_has_the_gemeente_as_sender(law: Law) -> None:
    xml = render_antwoord(afwijzing(law))
    root = parse_xml(xml)
    ns = {"m": law.message_namespace(319)}
    assert root.findtext("m:Header/m:BerichtCode", namespaces=ns) == law.bericht_code(319)
    assert root.findtext("m:Header/m:Afzender", namespaces=ns) == GEMEENTE
    assert root.findtext("m:Header/m:Ontvanger", namespaces=ns) == AGB
    antwoord = root.find("m:Antwoord", ns)
    assert antwoord is not None
    expected = ["ReferentieAanbieder", "VerzoekAntwoord", "RedenAfwijzingVerzoek"]
    if law is Law.JEUGDWET:
        expected.append("Woonplaatsbeginsel")
        assert antwoord.findtext("m:Woonplaatsbeginsel/m:Gemeente", namespaces=ns) == "0599"
    assert [etree.QName(e).localname for e in antwoord] == expected


def test_woonplaatsbeginsel_is_written_for_the_jeugdwet_only() -> None:
    wmo = dataclasses.replace(afwijzing(Law.WMO), woonplaatsbeginsel_gemeente="0599")
    xml = render_antwoord(wmo)
    assert "Woonplaatsbeginsel" not in local_names(xml)
    assert parse_antwoord(xml).woonplaatsbeginsel_gemeente is None


@BOTH_LAWS
def test_in_onderzoek_omits_the_optional_elements(law: Law) -> None:
    names = local_names(render_antwoord(in_onderzoek(law)))
    assert "RedenAfwijzingVerzoek" not in names and "Woonplaatsbeginsel" not in names


def test_render_refuses_data_that_breaks_the_schema() -> None:
    bericht = afwijzing(Law.JEUGDWET)
    with pytest.raises(SchemaValidationError, match="VerzoekAntwoord"):
        render_antwoord(dataclasses.replace(bericht, verzoek_antwoord="9"))
    # The 305's roles (aanbieder as sender) are wrong in a 319.
    swapped = dataclasses.replace(
        bericht, header=dataclasses.replace(bericht.header, afzender=AGB, ontvanger=GEMEENTE)
    )
    with pytest.raises(SchemaValidationError, match="Afzender"):
        render_antwoord(swapped)


# --- conformance with the published standard ------------------------------------------------


@needs_reference
@BOTH_LAWS
def test_rendered_319_validates_against_the_published_xsd(law: Law) -> None:
    for bericht in (afwijzing(law), in_onderzoek(law)):
        assert violations(published_schema(law), parse_xml(render_antwoord(bericht))) == []


@needs_reference
@BOTH_LAWS
def test_published_319_example_parses_with_its_values(law: Law) -> None:
    xml = (REFERENCE / PUBLISHED[law] / "examples" / f"{law.message_prefix}319.xml").read_bytes()
    bericht = parse_antwoord(xml)
    assert bericht.header.law is law
    assert (bericht.header.afzender, bericht.header.ontvanger) == ("0384", "65656055")
    assert bericht.header.identificatie == "876543219"
    assert (bericht.referentie_aanbieder, bericht.verzoek_antwoord) == ("9003", "1")
    if law is Law.JEUGDWET:
        assert (bericht.reden_afwijzing, bericht.woonplaatsbeginsel_gemeente) == ("8", "1916")
    else:
        assert (bericht.reden_afwijzing, bericht.woonplaatsbeginsel_gemeente) == ("7", None)
    rendered = render_antwoord(bericht)
    assert parse_antwoord(rendered) == bericht
    assert canonical(rendered) == canonical(xml)
    assert violations(published_schema(law), parse_xml(rendered)) == []


# --- bad input ---------------------------------------------------------------------------


def _assert_refused(xml: bytes) -> PayloadRejected:
    with pytest.raises(PayloadRejected) as caught:
        parse_antwoord(xml)
    exc = caught.value
    assert exc.code == "StUF055"
    assert BSN not in str(exc) and BSN not in exc.reason
    assert all(BSN not in v.message for v in exc.violations)
    return exc


@BOTH_LAWS
def test_not_well_formed_is_rejected(law: Law) -> None:
    exc = _assert_refused(render_antwoord(afwijzing(law))[:-15])
    assert isinstance(exc.__cause__, XmlInputError)


@BOTH_LAWS
def test_wrong_namespace_is_rejected(law: Law) -> None:
    name = f"{law.message_prefix}319"
    xml = render_antwoord(afwijzing(law)).replace(f"/3_2/{name}/".encode(), f"/3_1/{name}/".encode())
    assert "expected" in _assert_refused(xml).reason


@BOTH_LAWS
def test_doctype_is_refused(law: Law) -> None:
    declaration, rest = render_antwoord(afwijzing(law)).split(b"\n", 1)
    attack = declaration + f"\n<!DOCTYPE x [<!ENTITY bsn '{BSN}'>]>".encode() + rest
    assert isinstance(_assert_refused(attack).__cause__, XmlInputError)


def test_bsn_quoted_by_the_validator_is_masked() -> None:
    xml = render_antwoord(afwijzing(Law.JEUGDWET)).replace(
        f"<jw319:Ontvanger>{AGB}<".encode(), f"<jw319:Ontvanger>{BSN}<".encode()
    )
    exc = _assert_refused(xml)
    assert "Ontvanger" in exc.reason
    assert any("*****0006" in v.message for v in exc.violations)


def test_woonplaatsbeginsel_in_a_wmo319_is_an_xsd_failure() -> None:
    xml = render_antwoord(afwijzing(Law.WMO)).replace(
        b"</wmo319:Antwoord>",
        b"<wmo319:Woonplaatsbeginsel><wmo319:Gemeente>0599</wmo319:Gemeente></wmo319:Woonplaatsbeginsel>"
        b"</wmo319:Antwoord>",
    )
    assert "Woonplaatsbeginsel" in _assert_refused(xml).reason
