"""The mock aanbieders send heenberichten to the gateway (a stand-in for it) over real loopback HTTP."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.ggk import (
    new_referentienummer,
)
from connectors.istandaard import (
    Law,
    parse_start,
)
from mocks.ggk import MockGgkConfig, create_app
from tests.live_server import free_port, live_server
from tests.mocks.aanbieder_stand_in import (
    AGB,
    BOTH_LAWS,
    BSN,
    CLIENT,
    MESSAGES,
    Setup,
    start_json,
)

# --- sending -------------------------------------------------------------------------------------------


@BOTH_LAWS
def test_a_valid_305_arrives_as_a_di01_whose_payload_parses(mock: Setup, law: Law) -> None:
    functie = law.function_name(305)
    result, di01 = mock.sent_ok(functie, bericht=start_json(law))
    assert mock.gateway.di01s[0][0] == '"http://www.stufstandaarden.nl/sectormodel/ggk/0210/ggk_Di01"'
    assert (di01.functie, di01.zender.organisatie, di01.ontvanger.organisatie) == (functie, AGB, "0637")
    assert di01.referentienummer == result["referentienummer"]
    start = parse_start(di01.payload)
    assert start.header.law is law
    assert (start.header.afzender, start.header.ontvanger) == (AGB, "0637")
    assert start.header.identificatie == result["bericht_identificatie"] == di01.referentienummer_bericht
    assert 1 <= len(start.header.identificatie) <= 12
    assert start.header.dagtekening == date.today()
    assert start.client.bsn == BSN and start.client.naam.achternaam == "Çelik"
    assert [p.toewijzingnummer for p in start.producten] == [300201, 300202]
    assert start.producten[1].product is None


@BOTH_LAWS
@pytest.mark.parametrize("number", sorted(MESSAGES))
def test_every_aanbieder_message_is_rendered_from_model_json(mock: Setup, law: Law, number: int) -> None:
    to_json, parse = MESSAGES[number]
    result, di01 = mock.sent_ok(law.function_name(number), bericht=to_json(law), gemeentecode="0638")
    message = parse(di01.payload)
    assert (message.header.law, message.header.ontvanger, di01.ontvanger.organisatie) == (law, "0638", "0638")
    assert message.header.identificatie == result["bericht_identificatie"]


def test_identifiers_and_dagtekening_given_by_the_test_are_used(mock: Setup) -> None:
    ref = new_referentienummer()
    result, di01 = mock.sent_ok(
        "JW305",
        bericht=start_json(Law.JEUGDWET),
        bericht_identificatie="ST-DUP-1",
        dagtekening="2026-04-07",
        referentienummer=ref,
    )
    start = parse_start(di01.payload)
    assert (result["referentienummer"], di01.referentienummer) == (ref, ref)
    assert (start.header.identificatie, start.header.dagtekening) == ("ST-DUP-1", date(2026, 4, 7))


def test_a_resend_with_the_same_referentienummer_goes_out_again(mock: Setup) -> None:
    first, _ = mock.sent_ok("JW305", bericht=start_json(Law.JEUGDWET), bericht_identificatie="ST-DUP-1")
    again = mock.send(
        "JW305",
        bericht=start_json(Law.JEUGDWET),
        bericht_identificatie="ST-DUP-1",
        referentienummer=first["referentienummer"],
    )
    assert again.status_code == 200
    assert (again.json()["answer"], again.json()["code"]) == ("fo03", "IB016")
    refs = [h.referentienummer for _, h in mock.gateway.di01s]
    assert refs == [first["referentienummer"]] * 2
    assert [parse_start(h.payload).header.identificatie for _, h in mock.gateway.di01s] == ["ST-DUP-1"] * 2
    (sent,) = mock.get("/_mock/aanbieder/sent")
    assert (sent["times_sent"], sent["answer"], sent["code"]) == (2, "fo03", "IB016")


def test_fresh_identifiers_differ_per_message(mock: Setup) -> None:
    results = [mock.sent_ok("WMO305", bericht=start_json(Law.WMO))[0] for _ in range(3)]
    assert len({r["referentienummer"] for r in results}) == 3
    assert len({r["bericht_identificatie"] for r in results}) == 3


def test_a_raw_payload_passes_through_untouched(mock: Setup) -> None:
    raw = '<Bericht xmlns="urn:not-istandaard"><Header><BerichtIdentificatie><Identificatie>RAW1'
    raw += "</Identificatie></BerichtIdentificatie></Header></Bericht>"
    result, di01 = mock.sent_ok("JW305", raw_payload=raw)
    assert di01.payload == raw.encode()
    assert di01.functie == "JW305"
    assert result["bericht_identificatie"] == "RAW1"
    _, not_xml = mock.sent_ok("WMO323", raw_payload="no xml at all")
    assert not_xml.payload == b"no xml at all"


@pytest.mark.parametrize(
    ("request_json", "fragment"),
    [
        ({"functie": "JW305"}, "exactly one"),
        ({"functie": "JW305", "bericht": {}, "raw_payload": "<x/>"}, "exactly one"),
        ({"functie": "JW301", "bericht": {}}, "not 301"),
        ({"functie": "JW305", "bericht": {"header": {}}}, "no header"),
        ({"functie": "JW999X", "raw_payload": "<x/>"}, "functie"),
        ({"functie": "JW305", "raw_payload": "<x/>", "gemeentecode": "637"}, "gemeentecode"),
        (
            {"functie": "JW305", "raw_payload": "<x/>", "bericht_identificatie": "X" * 13},
            "bericht_identificatie",
        ),
    ],
)
def test_malformed_send_requests_are_422(mock: Setup, request_json: dict[str, Any], fragment: str) -> None:
    response = mock.http.post(f"{mock.base_url}/_mock/aanbieder/{AGB}/send", json=request_json)
    assert response.status_code == 422
    assert fragment in response.text
    assert mock.gateway.di01s == []


def test_json_not_fitting_the_model_is_422_with_the_path_and_without_the_bsn(mock: Setup) -> None:
    cases = [
        ({**start_json(Law.JEUGDWET), "client": {**CLIENT, "bsn": int(BSN)}}, "bericht.client.bsn"),
        ({**start_json(Law.JEUGDWET), "extra": 1}, "unknown field"),
        ({"client": CLIENT}, "bericht.producten"),
        ({**start_json(Law.JEUGDWET), "client": {**CLIENT, "geboortedatum": "1-1-2012"}}, "ISO date"),
    ]
    for bericht, fragment in cases:
        response = mock.send("JW305", bericht=bericht)
        assert response.status_code == 422, bericht
        assert fragment in response.text and BSN not in response.text
    bad_schema = {**start_json(Law.JEUGDWET), "client": {**CLIENT, "geslacht": "7"}}
    response = mock.send("JW305", bericht=bad_schema)
    assert response.status_code == 422 and BSN not in response.text
    assert mock.gateway.di01s == []


def test_an_unreachable_gateway_is_reported() -> None:
    config = MockGgkConfig(callback_url=f"http://127.0.0.1:{free_port()}/ggk/soap", callback_timeout_s=2)
    with live_server(create_app(config)) as base_url:
        response = httpx.post(
            f"{base_url}/_mock/aanbieder/{AGB}/send",
            json={"functie": "JW305", "bericht": start_json(Law.JEUGDWET)},
            timeout=10,
        )
    assert response.status_code == 502
    assert response.json()["answer"] == "unreachable"


def test_the_readme_send_example_is_a_valid_request(mock: Setup) -> None:
    readme = (Path(__file__).resolve().parents[2] / "mocks" / "ggk" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The aanbieders send", 1)[1]
    example = re.search(r"```json\n(.*?)```", section, re.S)
    assert example is not None
    result, di01 = mock.sent_ok(**json.loads(example.group(1)))
    assert parse_start(di01.payload).header.identificatie == result["bericht_identificatie"]
