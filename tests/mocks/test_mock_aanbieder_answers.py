"""The mock aanbieders record what the gemeente answers them, and answer its 319s with a 320."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any

import pytest

from connectors.ggk import (
    Heenbericht,
    Systeem,
    parse_soap_response,
    render_fo01,
    soap_headers,
)
from connectors.istandaard import (
    Law,
    parse_declaratie,
    parse_retour,
    render_declaratie_antwoord,
    render_retour,
)
from connectors.istandaard.model import BerichtHeader
from connectors.istandaard.model_inbound import BedragMetDC, DeclaratieAntwoord
from tests.mocks.aanbieder_stand_in import (
    AGB,
    BOTH_LAWS,
    BSN,
    GEMEENTE,
    Setup,
    declaratie_json,
    jw319_di01,
    start_json,
    stop_json,
)

# --- recording the gemeente's answers -------------------------------------------------------------------


def test_a_306_with_element_codes_is_recorded_by_the_referentienummer_sent(mock: Setup) -> None:
    result, di01 = mock.sent_ok("JW305", bericht=start_json(Law.JEUGDWET))
    ref = result["referentienummer"]
    assert mock.retour(ref).status_code == 404  # not answered yet
    retour = render_retour(
        di01.payload,
        identificatie_retour="RT0001",
        dagtekening_retour=date(2026, 4, 8),
        element_codes={"Client/StartProducten/StartProduct[2]": ["9019"]},
    )
    mock.post_du01(di01, "JW306", retour)

    answer = mock.retour(ref)
    assert answer.status_code == 200
    got = answer.json()
    assert (got["cross_refnummer"], got["operation"], got["functie"]) == (ref, "ggk_Du01", "JW306")
    assert (got["zender"], got["ontvanger"], got["answers"]) == ("0637", AGB, 1)
    assert got["cross_refnummer_bericht"] == result["bericht_identificatie"]
    assert got["heen"] == {"functie": "JW305", "bericht_identificatie": result["bericht_identificatie"]}
    content = got["content"]
    assert (content["kind"], content["number"], content["law"]) == ("retour", 306, "jeugdwet")
    assert content["bericht_identificatie"] == result["bericht_identificatie"]
    assert content["identificatie_retour"] == "RT0001"
    assert content["header_codes"] == ["0200"]
    assert content["element_codes"] == {
        "Client": ["0200"],
        "Client/StartProducten/StartProduct[1]": ["0200"],
        "Client/StartProducten/StartProduct[2]": ["9019"],
    }
    listing = mock.get("/_mock/aanbieder/retouren")
    assert [r["cross_refnummer"] for r in listing] == [ref]
    assert BSN not in json.dumps(listing)


def test_a_header_only_308_is_recorded_with_its_header_codes(mock: Setup) -> None:
    result, di01 = mock.sent_ok("WMO307", bericht=stop_json(Law.WMO))
    retour = render_retour(
        di01.payload, identificatie_retour="RT2", dagtekening_retour=date.today(), header_codes=["0001"]
    )
    mock.post_du01(di01, "WMO308", retour)
    content = mock.retour(result["referentienummer"]).json()["content"]
    assert (content["number"], content["header_codes"], content["element_codes"]) == (308, ["0001"], {})


def test_a_325_is_recorded_with_totals_and_prestatie_codes(mock: Setup) -> None:
    result, di01 = mock.sent_ok("JW323", bericht=declaratie_json(Law.JEUGDWET))
    heen = parse_declaratie(di01.payload)
    antwoord = DeclaratieAntwoord(
        header=BerichtHeader(
            law=Law.JEUGDWET,
            afzender="0637",
            ontvanger=AGB,
            identificatie="DA0001",
            dagtekening=date.today(),
        ),
        declaratie_identificatie=heen.header.identificatie,
        declaratie_dagtekening=heen.header.dagtekening,
        declaratienummer=heen.declaratienummer,
        totaal_ingediend=heen.totaal_ingediend,
        totaal_toegekend=BedragMetDC(7 * 6_500),
        prestatie_codes={"RN2026-0002": ("9019",)},
    )
    mock.post_du01(di01, "JW325", render_declaratie_antwoord(antwoord, heen))

    content = mock.retour(result["referentienummer"]).json()["content"]
    assert (content["kind"], content["number"]) == ("declaratie_antwoord", 325)
    assert content["declaratie_identificatie"] == result["bericht_identificatie"]
    assert (content["declaratienummer"], content["header_codes"]) == ("DN2026004", ["0200"])
    assert content["totaal_ingediend"] == {"bedrag": 71_500, "debet_credit": "D"}
    assert content["totaal_toegekend"] == {"bedrag": 45_500, "debet_credit": "D"}
    assert content["prestatie_codes"] == {"RN2026-0001": ["0200"], "RN2026-0002": ["9019"]}
    assert BSN not in json.dumps(mock.get("/_mock/aanbieder/retouren"))


def test_a_fo01_refusing_the_payload_is_recorded(mock: Setup) -> None:
    result, di01 = mock.sent_ok("JW305", raw_payload="<broken/>")
    fo01 = render_fo01(
        "StUF055",
        "client",
        f"payload voor {BSN} voldoet niet aan het XSD",
        zender=GEMEENTE,
        ontvanger=Systeem(AGB),
        cross_ref=di01.referentienummer,
        details="JW305-00010000",
    )
    response = mock.http.post(f"{mock.base_url}/ggk/soap", content=fo01, headers=soap_headers("Fo01"))
    assert parse_soap_response(response.status_code, response.content).kind == "bv03"

    got = mock.retour(result["referentienummer"]).json()
    assert (got["operation"], got["functie"], got["heen"]["functie"]) == ("Fo01", None, "JW305")
    content = got["content"]
    assert (content["kind"], content["code"], content["details"]) == ("fo01", "StUF055", "JW305-00010000")
    assert "voldoet niet" in content["omschrijving"] and BSN not in content["omschrijving"]


def test_a_second_answer_to_the_same_message_is_counted_and_an_unreadable_one_kept(mock: Setup) -> None:
    result, di01 = mock.sent_ok("JW305", bericht=start_json(Law.JEUGDWET))
    mock.post_du01(di01, "JW306", b"<not-a-retour/>")
    mock.post_du01(di01, "JW306", b"<not-a-retour/>")
    got = mock.retour(result["referentienummer"]).json()
    assert (got["answers"], got["content"]["kind"]) == (2, "unreadable")
    assert mock.http.post(f"{mock.base_url}/_mock/reset").status_code == 200
    assert mock.get("/_mock/aanbieder/retouren") == [] and mock.get("/_mock/aanbieder/sent") == []


# --- 319 -> 320 ---------------------------------------------------------------------------------------------


@BOTH_LAWS
def test_a_319_is_recorded_and_answered_with_an_accepting_320(mock: Setup, law: Law) -> None:
    h = jw319_di01(law)
    mock.post_di01(h)
    (antwoord,) = mock.get("/_mock/aanbieder/antwoorden")  # recorded before the Bv03
    assert antwoord["referentienummer"] == h.referentienummer
    assert (antwoord["aanbieder"], antwoord["gemeente"], antwoord["functie"]) == (AGB, "0637", h.functie)
    assert antwoord["referentie_aanbieder"] == "REF-2026-001"
    assert (antwoord["verzoek_antwoord"], antwoord["reden_afwijzing"]) == ("1", "3")

    du01 = mock.gateway.wait_for_du01()
    assert (du01.functie, du01.cross_refnummer, du01.zender.organisatie) == (
        law.function_name(320),
        h.referentienummer,
        AGB,
    )
    assert du01.cross_refnummer_bericht == "AW0001"
    retour = parse_retour(du01.payload)
    assert (retour.number, retour.header.identificatie, retour.all_codes()) == (320, "AW0001", ())
    assert retour.identificatie_retour == du01.referentienummer_bericht


@pytest.mark.parametrize(
    ("rule", "header_codes", "element_codes"),
    [
        ({"level": "header"}, ("0001",), {}),
        ({"level": "product", "retourcodes": ["9332"]}, ("0200",), {"Antwoord": ("9332",)}),
    ],
)
def test_reject_puts_its_codes_on_the_320(
    mock: Setup,
    rule: dict[str, Any],
    header_codes: tuple[str, ...],
    element_codes: dict[str, tuple[str, ...]],
) -> None:
    assert (
        mock.http.put(f"{mock.base_url}/_mock/behaviour", json={"mode": "reject", **rule}).status_code == 200
    )
    mock.post_di01(jw319_di01())
    retour = parse_retour(mock.gateway.wait_for_du01().payload)
    assert (retour.header_codes, retour.element_codes) == (header_codes, element_codes)


def test_an_invalid_319_earns_a_fo01_and_is_not_recorded(mock: Setup) -> None:
    h = jw319_di01()
    broken = Heenbericht(
        zender=h.zender,
        ontvanger=h.ontvanger,
        referentienummer=h.referentienummer,
        tijdstip=h.tijdstip,
        functie=h.functie,
        payload=h.payload.replace(b">488<", b">999<"),
    )
    mock.post_di01(broken)
    assert mock.get("/_mock/aanbieder/antwoorden") == []
    deadline = time.monotonic() + 10
    while True:
        (record,) = [r for r in mock.get("/_mock/received") if r["referentienummer"] == h.referentienummer]
        if record["outcome"] == "fo01_sent:StUF055":
            break
        assert time.monotonic() < deadline, record
        time.sleep(0.02)
    assert (mock.gateway.fo01s, mock.gateway.du01s) == (1, [])
