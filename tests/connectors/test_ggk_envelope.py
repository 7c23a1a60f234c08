"""The StUF-GGk envelope: round trips, the published examples, conformance, refusal codes."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from connectors.ggk import (
    GGK_ERRORS,
    MAX_ENVELOPE_BYTES,
    EnvelopeError,
    Heenbericht,
    Retourbericht,
    Systeem,
    format_tijdstip,
    is_retryable,
    is_uuid4,
    new_referentienummer,
    parse_envelope,
    parse_tijdstip,
    render_di01,
    render_du01,
)
from connectors.xsd import load_schema, violations

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "ggk"
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"published StUF-GGk schemas not found at {REFERENCE}: conformance needs ../shared/reference",
)
PAYLOAD = b"<?xml version='1.0' encoding='UTF-8'?><Bericht><Bsn>999900006</Bsn></Bericht>"
GEMEENTE = Systeem(organisatie="0637", applicatie="Gemeente Gateway", administratie="Zoetermeer")
AANBIEDER = Systeem(organisatie="99990001")


def heen(**changes: object) -> Heenbericht:
    h = Heenbericht(
        zender=GEMEENTE,
        ontvanger=AANBIEDER,
        referentienummer="0e09a81f-64a0-4793-b946-d6538fb3f37e",
        tijdstip=datetime(2026, 4, 1, 13, 25, 14),
        functie="JW301",
        payload=PAYLOAD,
        referentienummer_bericht="123456789012",
    )
    return dataclasses.replace(h, **changes)  # type: ignore[arg-type]


def retour() -> Retourbericht:
    return Retourbericht(
        zender=Systeem(organisatie="99990001", applicatie="MockAanbieder"),
        ontvanger=Systeem(organisatie="0637"),
        referentienummer=new_referentienummer(),
        cross_refnummer="0e09a81f-64a0-4793-b946-d6538fb3f37e",
        tijdstip=datetime(2026, 4, 2, 8, 0, 1),
        functie="JW302",
        payload=b"<Bericht/>",
        referentienummer_bericht="9452b7ebc87a",
        cross_refnummer_bericht="123456789012",
    )


def test_di01_round_trip() -> None:
    h = heen()
    assert h.bestandsnaam == "JW301.xml"
    assert parse_envelope(render_di01(h)) == h


def test_du01_round_trip() -> None:
    r = retour()
    parsed = parse_envelope(render_du01(r))
    assert isinstance(parsed, Retourbericht)
    assert parsed == r


def test_rendered_di01_has_the_fields_the_chain_reads() -> None:
    root = etree.fromstring(render_di01(heen()))
    ns = {
        "G": "http://www.stufstandaarden.nl/sectormodel/ggk/0210",
        "S": "http://www.egem.nl/StUF/StUF0301",
        "x": "http://www.w3.org/2005/05/xmlmime",
    }
    assert root.findtext("G:stuurgegevens/S:berichtcode", namespaces=ns) == "Di01"
    assert root.findtext("G:stuurgegevens/S:tijdstipBericht", namespaces=ns) == "20260401132514"
    assert root.findtext("G:stuurgegevens/S:ontvanger/S:applicatie", namespaces=ns) == "GGk"
    bericht = root.find("G:parameters/G:bericht", namespaces=ns)
    assert bericht is not None
    assert bericht.get(f"{{{ns['S']}}}bestandsnaam") == "JW301.xml"
    assert bericht.get(f"{{{ns['x']}}}contentType") == "application/xml"
    assert base64.b64decode(bericht.text or "") == PAYLOAD


def test_rendering_is_deterministic_so_a_resend_is_byte_identical() -> None:
    assert render_di01(heen()) == render_di01(heen())


def test_rendering_refuses_what_the_schema_or_spec_forbids() -> None:
    with pytest.raises(ValueError, match="4 digits"):
        render_di01(heen(functie_versie="3"))
    with pytest.raises(ValueError, match="bestandsnaam"):
        render_di01(heen(bestandsnaam="JW 301.xml"))
    with pytest.raises(ValueError, match="does not validate"):
        render_di01(heen(functie="X" * 31))


def test_aware_tijdstip_is_written_in_dutch_local_time() -> None:
    utc_noon = datetime(2026, 7, 1, 12, 0, 0, tzinfo=UTC)
    assert format_tijdstip(utc_noon) == "20260701140000"
    winter = timezone(timedelta(hours=1))
    assert format_tijdstip(datetime(2026, 1, 1, 12, 0, tzinfo=winter)) == "20260101120000"
    assert parse_tijdstip("20260701140000123") == datetime(2026, 7, 1, 14, 0, 0, 123000)
    assert parse_tijdstip("20260701") == datetime(2026, 7, 1)


@needs_reference
@pytest.mark.parametrize("render", [lambda: render_di01(heen()), lambda: render_du01(retour())])
def test_rendered_envelopes_validate_against_the_published_schema(render: object) -> None:
    schema = load_schema("ggk0310_21/ggkberichten/ggk0310_msg.xsd", base_dir=REFERENCE)
    document = etree.fromstring(render())  # type: ignore[operator]
    assert violations(schema, document) == []


@needs_reference
def test_published_di01_example_parses() -> None:
    data = (REFERENCE / "examples" / "envelopHeenbericht-ggk_Di01_v21.xml").read_bytes()
    h = parse_envelope(data, require_uuid4=False)
    assert isinstance(h, Heenbericht)
    assert (h.zender.organisatie, h.ontvanger.organisatie, h.functie) == ("0548", "CAK", "WMO301")
    assert h.payload == b"Hier staat het heenbericht"
    assert h.bestandsnaam == "WMO301.txt"
    assert h.tijdstip == datetime(2016, 4, 21, 13, 25, 14)
    assert (h.applicatie_versie, h.functie_versie) == ("0004", "0001")


@needs_reference
def test_published_examples_use_a_version_1_uuid_which_the_chain_refuses() -> None:
    """The examples predate the UUID v4 rule; the strict reading gives the chain's answer."""
    data = (REFERENCE / "examples" / "ggk_Di01.xml").read_bytes()
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(data)
    assert caught.value.code == "IB009"


@needs_reference
def test_published_du01_example_parses() -> None:
    data = (REFERENCE / "examples" / "ggk_Du01.xml").read_bytes()
    r = parse_envelope(data, require_uuid4=False)
    assert isinstance(r, Retourbericht)
    assert r.cross_refnummer == "9c0f7b90-5c69-11e5-a837-0800200c9a66"
    assert (r.referentienummer_bericht, r.cross_refnummer_bericht) == ("234567890123", "123456789012")
    assert r.payload == b"Hier staat het retourbericht"


@needs_reference
def test_published_du01_v21_example_is_not_well_formed_and_gets_rin001() -> None:
    data = (REFERENCE / "examples" / "envelopRetourbericht-ggk_Du01-v21.xml").read_bytes()
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(data)
    assert caught.value.code == "RIN001"


@pytest.mark.parametrize(
    "bad",
    [
        "12345",
        "9c0f7b90-5c69-11e5-a837-0800200c9a66",  # version 1
        "0E09A81F-64A0-4793-B946-D6538FB3F37E-x",
        "0e09a81f-64a0-4793-c946-d6538fb3f37e",  # wrong variant
    ],
)
def test_referentienummer_not_uuid4_is_ib009(bad: str) -> None:
    data = render_di01(heen(referentienummer=bad))
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(data)
    assert caught.value.code == "IB009"
    assert caught.value.plek == "client"


def test_cross_refnummer_not_uuid4_is_ib009() -> None:
    data = render_du01(dataclasses.replace(retour(), cross_refnummer="123456789012"))
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(data)
    assert caught.value.code == "IB009"


def test_new_referentienummer_is_a_fresh_uuid4() -> None:
    a, b = new_referentienummer(), new_referentienummer()
    assert a != b and is_uuid4(a) and is_uuid4(b)


def test_oversized_envelope_is_ib007() -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(b" " * (MAX_ENVELOPE_BYTES + 1))
    assert caught.value.code == "IB007"


def test_oversized_payload_cannot_be_rendered() -> None:
    with pytest.raises(EnvelopeError) as caught:
        render_di01(heen(payload=b"x" * (MAX_ENVELOPE_BYTES * 3 // 4 + 1)))
    assert caught.value.code == "IB007"


@pytest.mark.parametrize(
    "data",
    [
        b"<not-xml",
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>",
        b"<Other xmlns='urn:x'/>",
    ],
)
def test_malformed_or_foreign_document_is_rin001(data: bytes) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(data)
    assert caught.value.code == "RIN001"


def test_envelope_failing_the_xsd_is_rin001_without_bsn_in_the_text() -> None:
    # A BSN where the schema wants an enumerated code: libxml2's message quotes the value.
    data = render_di01(heen()).replace(b"<StUF:berichtcode>Di01<", b"<StUF:berichtcode>999900006<")
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(data)
    assert caught.value.code == "RIN001"
    assert "999900006" not in str(caught.value)
    assert "*****0006" in caught.value.omschrijving


def test_bad_base64_is_rin001() -> None:
    data = render_di01(heen()).replace(b'contentType="application/xml">', b'contentType="application/xml">@@')
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(data)
    assert caught.value.code == "RIN001"


def test_payload_content_never_reaches_error_texts() -> None:
    data = render_di01(heen(referentienummer="999900006"))
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(data)
    assert "999900006" not in str(caught.value)


def test_error_list_and_retry_classification() -> None:
    for code in (
        "IB002",
        "IB003",
        "IB005",
        "IB007",
        "IB009",
        "IB016",
        "IB101",
        "IB102",
        "IB103",
        "IB210",
        "IB213",
        "RIN001",
        "StUF055",
        "StUF016",
    ):
        assert code in GGK_ERRORS
    assert is_retryable("IB103")
    assert not is_retryable("IB009")
    assert not is_retryable("XX999")
    assert not is_retryable(None)
