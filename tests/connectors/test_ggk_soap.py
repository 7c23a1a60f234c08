"""SOAP 1.1 transport of the GGk: requests, Bv03, Fo03 faults, asynchronous Fo01."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

from connectors.ggk import (
    GGK_SYSTEEM,
    EnvelopeError,
    Heenbericht,
    SoapAction,
    Systeem,
    new_referentienummer,
    parse_envelope,
    parse_fo01,
    parse_soap_request,
    parse_soap_response,
    render_bv03,
    render_di01,
    render_fo01,
    render_fo03_fault,
    soap_headers,
    soap_request,
)
from connectors.ggk.soap import SOAP_NS
from connectors.xsd import load_schema, violations

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "ggk"
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"published StUF 0301 schema not found at {REFERENCE}: conformance needs ../shared/reference",
)
GEMEENTE = Systeem(organisatie="0637", applicatie="Gemeente Gateway")
AANBIEDER = Systeem(organisatie="99990001", applicatie="MockAanbieder")
REF = "0e09a81f-64a0-4793-b946-d6538fb3f37e"


def di01() -> bytes:
    return render_di01(
        Heenbericht(
            zender=GEMEENTE,
            ontvanger=Systeem("99990001"),
            referentienummer=REF,
            tijdstip=datetime(2026, 4, 1, 9, 0, 0),
            functie="JW301",
            payload=b"<Bericht/>",
        )
    )


def body_element(soap: bytes) -> etree._Element:
    root = etree.fromstring(soap)
    assert root.tag == f"{{{SOAP_NS}}}Envelope"
    body = root.find(f"{{{SOAP_NS}}}Body")
    assert body is not None and len(body) == 1
    return body[0]


def test_soap_request_wraps_the_envelope_with_the_wsdl_action() -> None:
    body, headers = soap_request(di01(), "ggk_Di01")
    assert headers == {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{SoapAction.DI01}"'}
    inbound = parse_soap_request(body, headers["SOAPAction"])
    assert inbound.operation == "ggk_Di01"
    h = parse_envelope(inbound.element)
    assert h.referentienummer == REF


def test_soap_action_is_optional_but_must_match_the_body() -> None:
    body, _ = soap_request(di01(), "ggk_Di01")
    assert parse_soap_request(body, None).operation == "ggk_Di01"
    assert parse_soap_request(body, SoapAction.DI01).operation == "ggk_Di01"  # unquoted is fine too
    with pytest.raises(EnvelopeError) as caught:
        parse_soap_request(body, SoapAction.DU01)
    assert caught.value.code == "RIN001"


def test_soap_request_refuses_a_body_of_another_operation() -> None:
    with pytest.raises(ValueError, match="not the body"):
        soap_request(di01(), "ggk_Du01")
    with pytest.raises(ValueError, match="unknown"):
        soap_request(di01(), "ggk_Lk01")


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body/></soap:Envelope>",
        b"<Envelope><Body><x/></Body></Envelope>",
        b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body><x/></soap:Body>"
        b"</soap:Envelope>",
    ],
)
def test_unusable_soap_request_is_rin001(body: bytes) -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_soap_request(body, None)
    assert caught.value.code == "RIN001"


def test_oversized_soap_request_is_ib007() -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_soap_request(b"x" * (25 * 1024 * 1024 + 1), SoapAction.DI01)
    assert caught.value.code == "IB007"


def test_bv03_round_trip() -> None:
    soap = render_bv03(GGK_SYSTEEM, GEMEENTE, new_referentienummer(), REF)
    answer = parse_soap_response(200, soap)
    assert answer.kind == "bv03" and answer.accepted and not answer.retryable
    bv03 = body_element(soap)
    assert bv03.findtext("{*}stuurgegevens/{*}crossRefnummer") == REF


def test_bv03_with_an_error_status_is_not_an_acceptance() -> None:
    soap = render_bv03(GGK_SYSTEEM, GEMEENTE, new_referentienummer(), REF)
    assert parse_soap_response(502, soap).kind == "unreadable"


@pytest.mark.parametrize(
    ("code", "plek", "faultcode", "retryable"),
    [
        ("IB103", "server", "soap:Server", True),
        ("IB016", "client", "soap:Client", False),
        ("RIN001", "client", "soap:Client", False),
    ],
)
def test_fo03_fault_round_trip(code: str, plek: str, faultcode: str, retryable: bool) -> None:
    soap = render_fo03_fault(code, plek, "omschrijving", cross_ref=REF, ontvanger=GEMEENTE)  # type: ignore[arg-type]
    fault = body_element(soap)
    assert fault.findtext("faultcode") == faultcode
    answer = parse_soap_response(500, soap)
    assert (answer.kind, answer.code, answer.omschrijving) == ("fo03", code, "omschrijving")
    assert answer.retryable is retryable


def test_fo03_fault_never_carries_a_bsn() -> None:
    soap = render_fo03_fault("RIN001", "client", "value 999900006 is wrong", details="JW301 999900018")
    assert b"999900006" not in soap and b"999900018" not in soap
    answer = parse_soap_response(500, soap)
    assert answer.omschrijving == "value *****0006 is wrong"


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable"),
    [
        (503, b"<html>down</html>", "unreadable", True),
        (404, b"", "unreadable", False),
        (
            500,
            b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body><soap:Fault>"
            b"<faultcode>soap:Server</faultcode><faultstring>busy</faultstring></soap:Fault></soap:Body>"
            b"</soap:Envelope>",
            "fault",
            True,
        ),
        (429, b"<x/>", "unreadable", True),
    ],
)
def test_other_answers_are_classified_by_status(status: int, body: bytes, kind: str, retryable: bool) -> None:
    answer = parse_soap_response(status, body)
    assert answer.kind == kind
    assert answer.retryable is retryable


def test_bare_fault_exposes_faultcode_and_string() -> None:
    body = (
        b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body><soap:Fault>"
        b"<faultcode>soap:Server</faultcode><faultstring>busy</faultstring></soap:Fault></soap:Body>"
        b"</soap:Envelope>"
    )
    answer = parse_soap_response(503, body)
    assert (answer.code, answer.omschrijving) == ("soap:Server", "busy")


def test_fo01_round_trip_as_bytes_and_as_element() -> None:
    soap = render_fo01(
        "StUF055",
        "client",
        "Berichtbody is niet conform schema",
        zender=AANBIEDER,
        ontvanger=GEMEENTE,
        cross_ref=REF,
        details="JW301-00010000",
    )
    fo01 = parse_fo01(soap)
    assert (fo01.cross_ref, fo01.code, fo01.plek) == (REF, "StUF055", "client")
    assert fo01.zender == AANBIEDER and fo01.ontvanger == GEMEENTE
    assert fo01.details == "JW301-00010000"
    inbound = parse_soap_request(soap, soap_headers("Fo01")["SOAPAction"])
    assert inbound.operation == "Fo01"
    assert parse_fo01(inbound.element) == fo01


def test_fo01_that_fails_its_schema_is_rin001() -> None:
    soap = render_fo01("StUF055", "client", "x", zender=AANBIEDER, ontvanger=GEMEENTE, cross_ref=REF)
    broken = soap.replace(b"<StUF:plek>client</StUF:plek>", b"<StUF:plek>elsewhere</StUF:plek>")
    with pytest.raises(EnvelopeError) as caught:
        parse_fo01(broken)
    assert caught.value.code == "RIN001"


def test_parse_fo01_refuses_another_message() -> None:
    body, _ = soap_request(di01(), "ggk_Di01")
    with pytest.raises(EnvelopeError):
        parse_fo01(body)


@needs_reference
def test_control_messages_validate_against_the_published_stuf0301_schema() -> None:
    schema = load_schema("0301/stuf0301mtom.xsd", base_dir=REFERENCE)
    messages = [
        render_bv03(GGK_SYSTEEM, GEMEENTE, new_referentienummer(), REF),
        render_fo01(
            "StUF055",
            "client",
            "x",
            zender=AANBIEDER,
            ontvanger=GEMEENTE,
            cross_ref=REF,
            details="JW301-00010000",
        ),
    ]
    for soap in messages:
        assert violations(schema, body_element(soap)) == []
    fault = body_element(render_fo03_fault("IB103", "server", "x", cross_ref=REF))
    fo03 = fault.find("detail/{*}Fo03Bericht")
    assert fo03 is not None
    assert violations(schema, fo03) == []


def test_soap_di01_and_du01_equal_render_then_wrap() -> None:
    """The outbox's one-pass builders put the same bytes on the wire as render + soap_request."""
    from datetime import datetime

    from connectors.ggk import (
        Heenbericht,
        Retourbericht,
        Systeem,
        new_referentienummer,
        render_di01,
        render_du01,
        soap_di01,
        soap_du01,
        soap_request,
    )

    heen = Heenbericht(
        zender=Systeem("0637", "Gateway"),
        ontvanger=Systeem("99990001", "GGk"),
        referentienummer=new_referentienummer(),
        tijdstip=datetime(2026, 11, 22, 10, 0),
        functie="JW301",
        payload=b"<x/>",
        referentienummer_bericht="1",
    )
    assert soap_di01(heen) == soap_request(render_di01(heen), "ggk_Di01")[0]
    retour = Retourbericht(
        zender=Systeem("0637", "Gateway"),
        ontvanger=Systeem("99990001", "GGk"),
        referentienummer=new_referentienummer(),
        cross_refnummer=new_referentienummer(),
        tijdstip=datetime(2026, 11, 22, 10, 0),
        functie="JW306",
        payload=b"<y/>",
        referentienummer_bericht="2",
        cross_refnummer_bericht="ABC",
    )
    assert soap_du01(retour) == soap_request(render_du01(retour), "ggk_Du01")[0]
