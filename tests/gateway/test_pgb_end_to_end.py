"""PGB under trekkingsrecht end to end: gateway, mock GGk, mock aanbieder and mock SVB over
real loopback HTTP, on SQLite and PostgreSQL.

A Wmo beschikking with one ZIN and one PGB product sends a WMO301 to the aanbieder and a
TKB to the SVB, both answered; a change to the PGB sends a change TKB; the SVB closing
the budget period sends a BAB that the gateway stores, announces and shows per client.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select

from connectors.ggk import Heenbericht, Systeem, new_referentienummer, render_di01, soap_request
from connectors.istandaard import Law
from connectors.svb import (
    SVB,
    Budgetafsluitbericht,
    Budgetafsluiting,
    Mutatie,
    PgbHeader,
    parse_bab_retour,
    parse_tkb,
    render_bab,
)
from gateway.store.tables import InboundMessage, Message
from tests.conftest import AUTH, BSN, beschikking_body
from tests.gateway.stack import Stack, running_stack

AGB = "99990001"


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(database_url, tmp_path) as running:
        yield running


def body() -> dict[str, Any]:
    result = beschikking_body(
        wet="wmo",
        producten=[
            {
                "categorie": "02",
                "code": "02A01",
                "aanbieder_agb": AGB,
                "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
            },
            {
                "categorie": "03",
                "code": "03A01",
                "leveringsvorm": "PGB",
                "hulpverlener": "zelfstandige",
                "omvang": {"volume": 3, "eenheid": "04", "frequentie": "2"},
            },
        ],
    )
    result["client"] = {
        **cast("dict[str, Any]", result["client"]),
        "geboortedatum": "1948-02-02",
        "vertegenwoordiger": {
            "naam": {"achternaam": "Jansen", "voorletters": "K"},
            "relatie": "bewindvoerder",
        },
    }
    return result


def of_type(berichten: list[dict[str, Any]], soort: str) -> dict[str, Any]:
    [found] = [b for b in berichten if b["type"] == soort]
    return found


def zoeken(stack: Stack) -> list[dict[str, Any]]:
    response = stack.api.post("/api/v1/pgb/zoeken", json={"bsn": BSN}, headers=AUTH)
    assert response.status_code == 200, response.text
    budgetten: list[dict[str, Any]] = response.json()["budgetten"]
    return budgetten


def wait_for(check: Any, what: str, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"waited in vain for {what}"
        time.sleep(0.05)


def test_zin_and_pgb_then_change_then_budget_period_end(stack: Stack) -> None:
    result = stack.post_beschikking(body())
    zin_nr, pgb_nr = (t["toewijzingnummer"] for t in result["toewijzingen"])
    wmo301 = of_type(result["berichten"], "WMO301")
    tkb = of_type(result["berichten"], "WMO458")
    assert tkb["aanbieder_agb"] == "SVB"

    # Both are answered: the aanbieder's 302 and the SVB's TKB retour.
    assert stack.wait_for_state(wmo301["id"], "answered")["answer"]["type"] == "WMO302"
    answered = stack.wait_for_state(tkb["id"], "answered")
    assert answered["answer"]["type"] == "WMO459" and answered["retour_codes"] == []
    [svb_budget] = stack.mock.get("/_mock/svb/budgetten").json()
    assert svb_budget["toewijzingnummer"] == pgb_nr and svb_budget["status"] == "lopend"
    budget = 3 * 26 * 4000 * 85 // 100  # 3 uur/week, 26 weeks, 40 euro, zelfstandige 85%
    assert svb_budget["budget"] == budget
    # The 301 carries only the ZIN toewijzing.
    payload = stack.api.get(f"/api/v1/berichten/{wmo301['id']}/payload", headers=AUTH).content
    assert f"<wmo301:ToewijzingNummer>{zin_nr}<".encode() in payload
    assert f"<wmo301:ToewijzingNummer>{pgb_nr}<".encode() not in payload

    # A change of the PGB: a change TKB, no 301.
    response = stack.api.post(
        f"/api/v1/toewijzingen/{pgb_nr}/wijzigingen", json={"einddatum": "2027-02-28"}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    berichten = response.json()["berichten"]
    assert not [b for b in berichten if b["type"] == "WMO301"]
    change = of_type(berichten, "WMO458")
    assert stack.wait_for_state(change["id"], "answered")["retour_codes"] == []
    sent = stack.api.get(f"/api/v1/berichten/{change['id']}/payload", headers=AUTH).content
    assert parse_tkb(sent).toekenning.mutatie is Mutatie.WIJZIGING
    [svb_budget] = stack.mock.get("/_mock/svb/budgetten").json()
    assert svb_budget["einddatum"] == "2027-02-28" and svb_budget["mutaties"] == 2

    # The SVB closes the budget period: BAB in, stored, event, retour back.
    closed = stack.mock.post("/_mock/svb/afsluiten", json={"tot": "2027-02-28", "besteed_percentage": 80})
    assert closed.status_code == 200, closed.text
    [bab] = closed.json()["verzonden"]
    assert (bab["functie"], bab["answer"], bab["toewijzingnummers"]) == ("WMO464", "bv03", [pgb_nr])
    record = wait_for(
        lambda: [r for r in stack.mock.get("/_mock/svb/bab").json() if r["retour"] is not None],
        "the gateway's BAB retour at the mock SVB",
    )[0]
    assert record["retour"]["functie"] == "WMO465" and record["retour"]["codes"] == []

    [overzicht] = zoeken(stack)
    assert overzicht["toewijzingnummer"] == pgb_nr
    assert [b["state"] for b in overzicht["berichten"]] == ["answered", "answered"]
    [afsluiting] = overzicht["budgetafsluitingen"]
    toegekend = afsluiting["toegekend"]
    assert (afsluiting["begindatum"], afsluiting["einddatum"]) == ("2026-12-01", "2027-02-28")
    assert afsluiting["besteed"] == toegekend * 80 // 100
    assert afsluiting["resterend"] == toegekend - afsluiting["besteed"]
    same = stack.api.get(f"/api/v1/toewijzingen/{pgb_nr}/pgb", headers=AUTH).json()
    assert same["budgetafsluitingen"] == overzicht["budgetafsluitingen"]

    events = stack.events()
    [ontvangen] = [e for e in events if e["type"] == "bab.ontvangen"]
    assert (
        ontvangen["data"]["toewijzingnummer"] == pgb_nr
        and ontvangen["data"]["besteed"] == afsluiting["besteed"]
    )
    assert BSN not in str(events)


def test_the_svb_refuses_a_tkb_with_chosen_codes(stack: Stack) -> None:
    stack.behave(mode="reject", agb="SVB", times=1, level="product", retourcodes=["P011"])
    result = stack.post_beschikking(body())
    tkb = of_type(result["berichten"], "WMO458")
    rejected = stack.wait_for_state(tkb["id"], "rejected")
    assert rejected["answer"]["type"] == "WMO459"
    assert [c["code"] for c in rejected["retour_codes"]] == ["0200", "P011"]
    assert stack.wait_for_state(of_type(result["berichten"], "WMO301")["id"], "answered")
    assert stack.mock.get("/_mock/svb/budgetten").json() == []


def test_a_bab_for_an_unknown_budget_is_answered_with_p001(stack: Stack) -> None:
    """The SVB reports on a budget the gateway does not know: refused per Budgetafsluiting, nothing stored."""
    bab = Budgetafsluitbericht(
        header=PgbHeader(Law.WMO, SVB, "0637", "X1", date(2027, 6, 1)),
        bsn=BSN,
        afsluitingen=(
            Budgetafsluiting(
                99999, "03", None, date(2026, 12, 1), date(2027, 5, 31), 100, 50, 50, date(2027, 6, 1)
            ),
        ),
    )
    h = Heenbericht(
        zender=Systeem(organisatie=SVB, applicatie="MockSVB"),
        ontvanger=Systeem(organisatie="0637", applicatie="GGk"),
        referentienummer=new_referentienummer(),
        tijdstip=datetime.now(),
        functie="WMO464",
        payload=render_bab(bab),
    )
    soap, headers = soap_request(render_di01(h), "ggk_Di01")
    response = stack.api.post("/ggk/soap", content=soap, headers=headers)
    assert response.status_code == 200, response.text
    answer = stack.aanbieder_answer(h.referentienummer)
    assert answer["functie"] == "WMO465" and answer["zender"] == "0637" and answer["ontvanger"] == SVB
    with stack.runtime.sessions() as session:
        inbound = session.scalars(
            select(InboundMessage).where(InboundMessage.referentienummer == h.referentienummer)
        ).one()
        assert (inbound.status, inbound.retour_codes) == ("refused", ["P001"])
        assert inbound.answer_message_id is not None
        retour = session.get(Message, inbound.answer_message_id)
        assert retour is not None
        assert parse_bab_retour(retour.payload).afsluiting_codes == {99999: ("P001",)}
    assert zoeken(stack) == []
    assert not [e for e in stack.events() if e["type"] == "bab.ontvangen"]


def test_zin_and_pgb_make_one_301_one_tkb_and_exactly_one_cak_start_then_one_stop(stack: Stack) -> None:
    """The issue's end-to-end: both provisions are chargeable, the CAK hears of the person once."""
    from connectors.cak import parse_melding
    from connectors.cak.model import Soort

    result = stack.post_beschikking(body())
    zin_nr, pgb_nr = (t["toewijzingnummer"] for t in result["toewijzingen"])
    types = sorted(b["type"] for b in result["berichten"])
    assert types == ["WMO301", "WMO405", "WMO458"]
    start = of_type(result["berichten"], "WMO405")
    assert start["aanbieder_agb"] == "CAK"
    assert stack.wait_for_state(start["id"], "answered")["retour_codes"] == []
    sent = stack.api.get(f"/api/v1/berichten/{start['id']}/payload", headers=AUTH).content
    assert parse_melding(sent).soort is Soort.START
    for other in ("WMO301", "WMO458"):
        stack.wait_for_state(of_type(result["berichten"], other)["id"], "answered")

    # Ending the PGB while the ZIN runs on: the person still has a chargeable provision.
    shorter = stack.api.post(
        f"/api/v1/toewijzingen/{pgb_nr}/wijzigingen", json={"einddatum": "2027-02-28"}, headers=AUTH
    )
    assert shorter.status_code == 200, shorter.text
    assert "WMO405" not in [b["type"] for b in shorter.json()["berichten"]]

    # Ending the last one: exactly one stop.
    last = stack.api.post(
        f"/api/v1/toewijzingen/{zin_nr}/wijzigingen", json={"einddatum": "2027-01-31"}, headers=AUTH
    )
    assert last.status_code == 200, last.text
    [stop] = [b for b in last.json()["berichten"] if b["type"] == "WMO405"]
    assert stack.wait_for_state(stop["id"], "answered")["retour_codes"] == []
    melding = parse_melding(stack.api.get(f"/api/v1/berichten/{stop['id']}/payload", headers=AUTH).content)
    assert melding.soort is Soort.STOP and str(melding.datum) == "2027-02-28"
    all_405 = stack.api.get("/api/v1/berichten", params={"type": "WMO405"}, headers=AUTH).json()["items"]
    assert len(all_405) == 2
