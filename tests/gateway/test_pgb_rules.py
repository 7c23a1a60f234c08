"""The gemeente's PGB rules at intake, each answered as problem+json naming its rule;
accepted PGBs become one TKB each (over real HTTP, on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import select

from connectors.svb import Budgethouder, Hulpverlener, Mutatie, parse_tkb
from gateway.api_keys import ALL_SCOPES, create_client
from gateway.app import create_app
from gateway.clock import SystemClock
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import Event, Message
from tests.conftest import AUTH, BSN, TEST_API_KEY, beschikking_body, make_settings
from tests.live_server import live_server

URL = "/api/v1/beschikkingen"
ADULT = "1950-01-15"
#: 2026-12-01 .. 2027-05-31: 182 days = 26 weeks.
WEKEN = 26


@pytest.fixture
def api(runtime: Runtime) -> Iterator[httpx.Client]:
    with live_server(create_app(runtime)) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield client


def pgb(categorie: str = "02", code: str | None = "02A01", **fields: Any) -> dict[str, Any]:
    product: dict[str, Any] = {
        "categorie": categorie,
        "code": code,
        "leveringsvorm": "PGB",
        "hulpverlener": "zelfstandige",
        "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
    }
    product.update(fields)
    return {k: v for k, v in product.items() if v is not None}


def zin(categorie: str = "02", code: str = "02A01") -> dict[str, Any]:
    return {
        "categorie": categorie,
        "code": code,
        "aanbieder_agb": "99990001",
        "omvang": {"volume": 2, "eenheid": "04", "frequentie": "2"},
    }


def wmo(*producten: dict[str, Any], geboortedatum: str = ADULT, **client: Any) -> dict[str, Any]:
    body = beschikking_body(wet="wmo", producten=list(producten))
    body["client"] = {**cast("dict[str, Any]", body["client"]), "geboortedatum": geboortedatum, **client}
    return body


def refused(api: httpx.Client, body: dict[str, Any]) -> list[dict[str, str]]:
    response = api.post(URL, json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert BSN not in response.text
    errors: list[dict[str, str]] = problem["errors"]
    return errors


def accepted(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(URL, json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def pgb_of(api: httpx.Client, nummer: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/toewijzingen/{nummer}/pgb", headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def tkbs(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The TKBs among the messages a call queued (a Wmo PGB may also go to the CAK)."""
    return [b for b in result["berichten"] if b["type"] in ("WMO458", "JW460")]


def payload(runtime: Runtime, message_id: int) -> bytes:
    with runtime.sessions() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message.payload


# --- pgb-excluded-measure --------------------------------------------------------------------


def test_a_pgb_for_a_minor_with_an_active_ots_is_refused_naming_the_rule(api: httpx.Client) -> None:
    body = beschikking_body(
        producten=[pgb("45", "45A08")],
    )
    body["client"] = {
        **cast("dict[str, Any]", body["client"]),
        "maatregelen": [{"soort": "ots", "begindatum": "2026-06-01", "einddatum": "2027-06-01"}],
    }
    errors = refused(api, body)
    assert [(e["field"], e["rule"]) for e in errors] == [
        ("producten[0].leveringsvorm", "pgb-excluded-measure")
    ]
    assert "ots" in errors[0]["message"]


@pytest.mark.parametrize("soort", ["voogdij", "jeugdreclassering", "gesloten_jeugdhulp"])
def test_every_listed_measure_excludes_a_pgb_for_a_minor(api: httpx.Client, soort: str) -> None:
    body = wmo(pgb(), geboortedatum="2012-05-05", maatregelen=[{"soort": soort, "begindatum": "2026-01-01"}])
    assert [e["rule"] for e in refused(api, body)] == ["pgb-excluded-measure"]


def test_a_measure_that_ended_before_the_pgb_or_an_adult_client_does_not_exclude(api: httpx.Client) -> None:
    ended = [{"soort": "ots", "begindatum": "2025-01-01", "einddatum": "2026-11-30"}]
    accepted(api, wmo(pgb(), geboortedatum="2012-05-05", maatregelen=ended))
    running = [{"soort": "ots", "begindatum": "2025-01-01"}]
    # 18 on 2026-12-01, the PGB's begindatum: no longer a minor.
    accepted(api, wmo(pgb("03", "03A01"), geboortedatum="2008-12-01", maatregelen=running))


def test_the_excluding_measures_are_configurable(database_url: str, tmp_path: Path) -> None:
    runtime = Runtime.create(
        make_settings(database_url, tmp_path, pgb={"uitsluitende_maatregelen": ["gesloten_jeugdhulp"]}),
        SystemClock(),
    )
    try:
        with transaction(runtime.sessions) as session:
            create_client(session, "bo", list(ALL_SCOPES), runtime.clock.now(), key=TEST_API_KEY)
        with live_server(create_app(runtime)) as base, httpx.Client(base_url=base, timeout=10) as api:
            ots = [{"soort": "ots", "begindatum": "2026-01-01"}]
            accepted(api, wmo(pgb(), geboortedatum="2012-05-05", maatregelen=ots))
    finally:
        runtime.close()


# --- pgb-above-zin-cost and the percentages ----------------------------------------------------


def test_budget_above_the_cheapest_zin_is_refused_and_at_the_maximum_accepted(api: httpx.Client) -> None:
    # Begeleiding (02): 40 euro per uur, norm 4 uur per week; zelfstandige 85%.
    maximum = 4 * WEKEN * 4000 * 85 // 100
    errors = refused(api, wmo(pgb(omvang=None, budget=maximum + 1)))
    assert [(e["field"], e["rule"]) for e in errors] == [("producten[0].budget", "pgb-above-zin-cost")]
    assert str(maximum) in errors[0]["message"]
    result = accepted(api, wmo(pgb(omvang=None, budget=maximum)))
    budget = pgb_of(api, result["toewijzingen"][0]["toewijzingnummer"])
    assert (budget["budget"], budget["maximum"], budget["percentage"]) == (maximum, maximum, 85)


@pytest.mark.parametrize(
    ("hulpverlener", "categorie", "percentage"),
    [
        ("professioneel", "02", 100),
        ("zelfstandige", "02", 85),
        ("sociaal_netwerk", "02", 50),
        ("professioneel", "01", 85),  # hulp bij het huishouden: 85% of the basistarief
        ("sociaal_netwerk", "01", 50),
    ],
)
def test_an_omvang_pgb_gets_volume_times_periods_times_tariff_times_percentage(
    api: httpx.Client, runtime: Runtime, hulpverlener: str, categorie: str, percentage: int
) -> None:
    tarief = {"01": 3000, "02": 4000}[categorie]
    result = accepted(api, wmo(pgb(categorie, f"{categorie}A01", hulpverlener=hulpverlener)))
    expected = 4 * WEKEN * tarief * percentage // 100
    budget = pgb_of(api, result["toewijzingen"][0]["toewijzingnummer"])
    assert (budget["budget"], budget["percentage"], budget["via_svb"]) == (expected, percentage, True)
    [bericht] = tkbs(result)
    tkb = parse_tkb(payload(runtime, bericht["id"]))
    assert tkb.toekenning.budget == expected
    assert tkb.toekenning.hulpverlener is Hulpverlener.from_api(hulpverlener)


def test_without_a_zin_tariff_or_a_carer_the_pgb_is_refused(api: httpx.Client) -> None:
    errors = refused(api, wmo(pgb("04", "04A01"), pgb("02", "02A01", hulpverlener=None)))
    assert [(e["field"], e["rule"]) for e in errors] == [
        ("producten[0].categorie", "pgb-no-zin-tariff"),
        ("producten[1].hulpverlener", "pgb-hulpverlener-required"),
    ]


def test_a_pgb_has_no_aanbieder_and_needs_an_einddatum(api: httpx.Client) -> None:
    body = wmo(pgb(aanbieder_agb="99990001"))
    body["periode"] = {"begindatum": "2026-12-01"}
    rules = {(e["field"], e["rule"]) for e in refused(api, body)}
    assert ("producten[0].aanbieder_agb", "pgb-no-aanbieder") in rules
    assert ("producten[0].periode.einddatum", "pgb-einddatum-required") in rules


# --- OP043 ---------------------------------------------------------------------------------------


def test_pgb_and_zin_of_one_product_in_one_request_is_op043(api: httpx.Client) -> None:
    errors = refused(api, wmo(zin(), pgb()))
    assert ("producten[1]", "pgb-and-zin-same-product-OP043") in {(e["field"], e["rule"]) for e in errors}


def test_pgb_next_to_an_existing_zin_of_the_product_is_op043_and_vice_versa(api: httpx.Client) -> None:
    accepted(api, wmo(zin()))
    errors = refused(api, wmo(pgb()))
    assert [(e["field"], e["rule"]) for e in errors] == [("producten[0]", "pgb-and-zin-same-product-OP043")]
    accepted(api, wmo(pgb("03", "03A01")))
    errors = refused(api, wmo(zin("03", "03A01")))
    assert [e["rule"] for e in errors] == ["pgb-and-zin-same-product-OP043"]


def test_pgb_and_zin_of_one_product_in_separate_periods_are_fine(api: httpx.Client) -> None:
    later = pgb(periode={"begindatum": "2027-06-01", "einddatum": "2027-11-30"})
    result = accepted(api, wmo(zin(), later))
    assert sorted(b["type"] for b in result["berichten"] if b["type"] in {"WMO301", "WMO458"}) == [
        "WMO301",
        "WMO458",
    ]


# --- what is sent, and what is not -------------------------------------------------------------


def test_one_tkb_per_pgb_to_the_svb_with_the_representative(api: httpx.Client, runtime: Runtime) -> None:
    vertegenwoordiger = {"naam": {"achternaam": "Jansen", "voorletters": "P"}, "relatie": "curator"}
    result = accepted(api, wmo(pgb(), pgb("03", "03A01"), vertegenwoordiger=vertegenwoordiger))
    sent = tkbs(result)
    assert len(sent) == 2 and all(b["aanbieder_agb"] == "SVB" for b in sent)
    nummers = {t["toewijzingnummer"] for t in result["toewijzingen"]}
    for bericht in sent:
        tkb = parse_tkb(payload(runtime, bericht["id"]))
        assert tkb.header.ontvanger == "SVB" and tkb.header.afzender == "0637"
        assert tkb.budgethouder is Budgethouder.VERTEGENWOORDIGER
        assert tkb.vertegenwoordiger is not None and tkb.vertegenwoordiger.relatie == "curator"
        assert tkb.toekenning.mutatie is Mutatie.TOEKENNING
        assert tkb.toekenning.toewijzingnummer in nummers
        assert tkb.toekenning.beschikkingnummer == result["beschikkingnummer"]


def test_a_one_off_pgb_is_stored_but_not_sent(api: httpx.Client, runtime: Runtime) -> None:
    woonvoorziening = pgb("13", None, omvang=None, budget=1_250_000, eenmalig=True, hulpverlener=None)
    result = accepted(api, wmo(woonvoorziening))
    assert not tkbs(result)
    nummer = result["toewijzingen"][0]["toewijzingnummer"]
    budget = pgb_of(api, nummer)
    assert (budget["eenmalig"], budget["via_svb"], budget["budget"], budget["berichten"]) == (
        True,
        False,
        1_250_000,
        [],
    )
    with runtime.sessions() as session:
        [event] = session.scalars(select(Event).where(Event.type == "pgb.eenmalig")).all()
    assert event.data["toewijzingnummer"] == nummer and event.data["via_svb"] is False
    assert BSN not in str(event.data)


def test_zoeken_takes_the_bsn_in_the_body_only(api: httpx.Client) -> None:
    result = accepted(api, wmo(pgb()))
    found = api.post("/api/v1/pgb/zoeken", json={"bsn": BSN, "wet": "wmo"}, headers=AUTH)
    assert found.status_code == 200, found.text
    [budget] = found.json()["budgetten"]
    assert budget["toewijzingnummer"] == result["toewijzingen"][0]["toewijzingnummer"]
    assert BSN not in found.text
    nothing = api.post("/api/v1/pgb/zoeken", json={"bsn": "999900018"}, headers=AUTH)
    assert nothing.json() == {"budgetten": []}
    bad = api.post("/api/v1/pgb/zoeken", json={"bsn": "123456789"}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["errors"][0]["rule"] == "bsn-elfproef"
    assert api.get(f"/api/v1/pgb?bsn={BSN}", headers=AUTH).status_code in (404, 405)
    zin_row = accepted(api, wmo(zin("07", "07A01")))["toewijzingen"][0]["toewijzingnummer"]
    assert api.get(f"/api/v1/toewijzingen/{zin_row}/pgb", headers=AUTH).status_code == 404


# --- changes -----------------------------------------------------------------------------------


def change(api: httpx.Client, nummer: int, body: dict[str, Any]) -> httpx.Response:
    return api.post(f"/api/v1/toewijzingen/{nummer}/wijzigingen", json=body, headers=AUTH)


def test_changes_to_a_pgb_send_tkb_changes_not_301s(api: httpx.Client, runtime: Runtime) -> None:
    nummer = accepted(api, wmo(pgb()))["toewijzingen"][0]["toewijzingnummer"]
    shorter = change(api, nummer, {"einddatum": "2027-02-28"})
    assert shorter.status_code == 200, shorter.text
    [bericht] = tkbs(shorter.json())
    tkb = parse_tkb(payload(runtime, bericht["id"]))
    assert tkb.toekenning.mutatie is Mutatie.WIJZIGING and tkb.toekenning.reden_wijziging == "05"
    # 2026-12-01 .. 2027-02-28: 90 days; 4 uur per week at 85% of 40 euro.
    assert tkb.toekenning.budget == 4 * 90 * 4000 * 85 // (7 * 100)
    assert pgb_of(api, nummer)["budget"] == tkb.toekenning.budget

    withdrawn = change(api, nummer, {"verwijderen": True})
    assert withdrawn.status_code == 200, withdrawn.text
    [bericht] = tkbs(withdrawn.json())
    tkb = parse_tkb(payload(runtime, bericht["id"]))
    assert tkb.toekenning.mutatie is Mutatie.INTREKKING and tkb.toekenning.reden_wijziging == "13"
    assert pgb_of(api, nummer)["ingetrokken"] is True


def test_a_budget_change_above_the_maximum_is_refused(api: httpx.Client) -> None:
    maximum = 4 * WEKEN * 4000 * 85 // 100
    nummer = accepted(api, wmo(pgb(omvang=None, budget=maximum - 100)))["toewijzingen"][0]["toewijzingnummer"]
    response = change(api, nummer, {"budget": maximum + 1, "reden_wijziging": "01"})
    assert response.status_code == 422, response.text
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("budget", "pgb-above-zin-cost")]
    ok = change(api, nummer, {"budget": maximum, "reden_wijziging": "01"})
    assert ok.status_code == 200, ok.text
    assert pgb_of(api, nummer)["budget"] == maximum
