"""Eigen bijdrage via the CAK, end to end over loopback on both databases.

The back-office drives the gateway's API; the mock GGk routes ``CAK`` to the mock CAK,
which validates each WMO405/407, answers with a WMO406/408 and keeps its own register
per person. What each side sees is asserted: the messages the API lists, the mock's
register and received messages, the herstel tasks and the links between messages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.clock import NL, local_today
from gateway.deadlines import add_calendar_months
from gateway.ops.detail import message_detail
from tests.conftest import AUTH, BSN, beschikking_body
from tests.gateway.stack import Stack, running_stack

AGB = "99990003"
OTHER_BSN = "999900018"


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(database_url, tmp_path) as running:
        yield running


def product(categorie: str, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "categorie": categorie,
        "code": code,
        "aanbieder_agb": AGB,
        "omvang": {"volume": 3, "eenheid": "04", "frequentie": "2"},
        **extra,
    }


def wmo(*producten: dict[str, Any], bsn: str = BSN, wet: str = "wmo") -> dict[str, Any]:
    body = beschikking_body(wet=wet, producten=list(producten))
    body["beschikkingnummer"] = f"WMO-{time.monotonic_ns() % 10**9}"
    body["client"] = {**body["client"], "bsn": bsn}  # type: ignore[dict-item]
    return body


def cak_messages(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in result["berichten"] if b["aanbieder_agb"] == "CAK"]


def codes(detail: dict[str, Any]) -> list[str]:
    """The refusing codes of a message's retour (0200 marks the classes that were fine)."""
    return [c["code"] for c in detail["retour_codes"] if c["code"] != "0200"]


def wijzig(stack: Stack, nummer: int, body: dict[str, Any]) -> dict[str, Any]:
    response = stack.api.post(f"/api/v1/toewijzingen/{nummer}/wijzigingen", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def stand(stack: Stack, bsn: str = BSN) -> dict[str, Any]:
    response = stack.api.post("/api/v1/eigen-bijdrage/zoeken", json={"bsn": bsn}, headers=AUTH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def mock_cak(stack: Stack, what: str, expected_count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """``/_mock/cak/<what>`` once it lists ``expected_count`` entries (the mock answers asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while True:
        items: list[dict[str, Any]] = stack.mock.get(f"/_mock/cak/{what}").json()
        if len(items) == expected_count or time.monotonic() > deadline:
            assert len(items) == expected_count, items
            return items
        time.sleep(0.05)


def test_one_start_per_person_and_a_stop_when_the_last_chargeable_product_ends(stack: Stack) -> None:
    first = stack.post_beschikking(wmo(product("02", "02A01")))
    assert [b["type"] for b in first["berichten"]] == ["WMO301", "WMO405"]
    [start] = cak_messages(first)
    detail = stack.wait_for_state(start["id"], "answered")
    assert detail["answer"]["type"] == "WMO406" and codes(detail) == []
    [persoon] = mock_cak(stack, "personen", 1)
    assert (persoon["status"], persoon["begindatum"], persoon["regeling"]) == (
        "lopend",
        "2026-12-01",
        "eigen_bijdrage",
    )
    assert BSN not in str(stack.mock.get("/_mock/cak/personen").json())

    # A second chargeable product for the same client: no second start.
    second = stack.post_beschikking(wmo(product("03", "03A01")))
    assert cak_messages(second) == [] and [b["type"] for b in second["berichten"]] == ["WMO301"]
    nummer_1 = first["toewijzingen"][0]["toewijzingnummer"]
    nummer_2 = second["toewijzingen"][0]["toewijzingnummer"]

    # Ending one of the two: no stop. Ending the last one (earlier than planned): one stop.
    assert cak_messages(wijzig(stack, nummer_1, {"einddatum": "2027-02-28"})) == []
    changed = wijzig(stack, nummer_2, {"einddatum": "2027-03-31"})
    [stop] = cak_messages(changed)
    assert stop["type"] == "WMO405"
    stack.wait_for_state(stop["id"], "answered")
    [persoon] = mock_cak(stack, "personen", 1)
    assert (persoon["status"], persoon["einddatum"], persoon["meldingen"]) == ("gestopt", "2027-03-31", 2)
    received = mock_cak(stack, "meldingen", 2)
    assert [(m["soort"], m["datum"]) for m in received] == [("start", "2026-12-01"), ("stop", "2027-03-31")]
    assert {v["toewijzingnummer"] for v in received[1]["voorzieningen"]} == {nummer_1, nummer_2}

    state = stand(stack)
    [regeling] = state["regelingen"]
    assert (regeling["status"], regeling["einddatum"]) == ("gestopt", "2027-03-31")
    assert [m["soort"] for m in state["meldingen"]] == ["start", "stop"]
    by_toewijzing = stack.api.get(f"/api/v1/eigen-bijdrage/toewijzingen/{nummer_1}", headers=AUTH).json()
    assert by_toewijzing == state


def test_deleting_the_only_chargeable_product_stops_and_an_extension_sends_nothing(stack: Stack) -> None:
    result = stack.post_beschikking(wmo(product("01", "01A01"), bsn=OTHER_BSN))
    [start] = cak_messages(result)
    stack.wait_for_state(start["id"], "answered")
    nummer = result["toewijzingen"][0]["toewijzingnummer"]
    assert cak_messages(wijzig(stack, nummer, {"einddatum": "2027-08-31"})) == []  # oprekken
    removed = wijzig(stack, nummer, {"verwijderen": True})
    [stop] = cak_messages(removed)
    stack.wait_for_state(stop["id"], "answered")
    assert [(m["soort"], m["datum"]) for m in mock_cak(stack, "meldingen", 2)] == [
        ("start", "2026-12-01"),
        ("stop", "2026-12-01"),
    ]


def test_youth_care_and_exempt_provisions_never_reach_the_cak_and_beschermd_wonen_is_a_407(
    stack: Stack,
) -> None:
    youth = stack.post_beschikking(beschikking_body())
    assert cak_messages(youth) == []
    opvang = stack.post_beschikking(wmo(product("16", "16A01"), bsn=OTHER_BSN))
    assert cak_messages(opvang) == []
    beschermd = stack.post_beschikking(wmo(product("15", "15A01"), bsn=OTHER_BSN))
    [bw] = cak_messages(beschermd)
    assert bw["type"] == "WMO407"
    assert stack.wait_for_state(bw["id"], "answered")["answer"]["type"] == "WMO408"
    [persoon] = mock_cak(stack, "personen", 1)
    assert persoon["regeling"] == "beschermd_wonen"


def test_herstel_invited_corrected_linked_and_answered(stack: Stack) -> None:
    invited = stack.mock.post("/_mock/cak/herstel-volgende", json={"codes": ["H001"], "level": "melding"})
    assert invited.status_code == 200, invited.text
    result = stack.post_beschikking(wmo(product("07", "07A01")))
    [old] = cak_messages(result)
    assert codes(stack.wait_for_state(old["id"], "rejected")) == ["H001"]

    tasks = stack.api.get("/api/v1/eigen-bijdrage/herstel", params={"status": "open"}, headers=AUTH).json()
    [task] = tasks["items"]
    assert (task["codes"], task["bericht"]["id"], task["soort"]) == (["H001"], old["id"], "start")
    [event] = [e for e in stack.events() if e["type"] == "cak.herstel_gevraagd"]
    assert event["bericht_id"] == old["id"] and event["data"]["codes"] == ["H001"]

    response = stack.api.post(
        f"/api/v1/eigen-bijdrage/herstel/{task['id']}/corrigeren",
        json={"datum": "2026-12-02", "toelichting": "startdatum volgens het zorgplan"},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    corrected = response.json()
    assert corrected["corrigeert"] == old["id"] and corrected["taak"]["status"] == "gecorrigeerd"
    new = corrected["bericht"]
    assert new["type"] == "WMO405" and new["id"] != old["id"]
    assert codes(stack.wait_for_state(new["id"], "answered")) == []

    again = stack.api.post(f"/api/v1/eigen-bijdrage/herstel/{task['id']}/corrigeren", json={}, headers=AUTH)
    assert again.status_code == 409
    assert (
        stack.api.get("/api/v1/eigen-bijdrage/herstel", params={"status": "open"}, headers=AUTH).json()[
            "items"
        ]
        == []
    )

    meldingen = {m["bericht"]["id"]: m for m in stand(stack)["meldingen"]}
    assert meldingen[old["id"]]["gecorrigeerd_door"] == new["id"]
    assert meldingen[new["id"]]["corrigeert"] == old["id"] and meldingen[new["id"]]["datum"] == "2026-12-02"
    # Operators see the same link in the message detail.
    with stack.runtime.sessions() as session:
        related = message_detail(session, stack.runtime, new["id"]).related
    assert [(r.relation, r.message_id) for r in related if r.relation == "corrigeert"] == [
        ("corrigeert", old["id"])
    ]
    received = mock_cak(stack, "meldingen", 2)
    assert received[1]["herstel_van"] == received[0]["bericht_identificatie"]
    assert [m["toegepast"] for m in received] == [False, True]
    [persoon] = mock_cak(stack, "personen", 1)
    assert (persoon["status"], persoon["begindatum"]) == ("lopend", "2026-12-02")

    # The report was due a calendar month after granting; the corrected message's OK met it.
    [termijn] = [t for t in stack.bericht(old["id"])["termijnen"] if t["soort"] == "cak_melding"]
    assert termijn["voldaan_op"] is not None and termijn["te_laat_sinds"] is None
    granted = datetime.fromisoformat(termijn["uiterlijk"]).astimezone(NL).date()
    assert granted == add_calendar_months(local_today(stack.runtime.clock), 1)
    assert [t["soort"] for t in stack.bericht(new["id"])["termijnen"]] == ["retour"]


def test_a_hulpmiddel_without_kostprijs_is_corrected_with_one(stack: Stack) -> None:
    result = stack.post_beschikking(wmo(product("14", "14A01")))
    [old] = cak_messages(result)
    assert codes(stack.wait_for_state(old["id"], "rejected")) == ["H002"]
    nummer = result["toewijzingen"][0]["toewijzingnummer"]
    [task] = stack.api.get("/api/v1/eigen-bijdrage/herstel", params={"status": "open"}, headers=AUTH).json()[
        "items"
    ]
    unknown = stack.api.post(
        f"/api/v1/eigen-bijdrage/herstel/{task['id']}/corrigeren",
        json={"voorzieningen": [{"toewijzingnummer": nummer + 1000, "kostprijs": 1}]},
        headers=AUTH,
    )
    assert unknown.status_code == 422 and "unknown-voorziening" in unknown.text
    fixed = stack.api.post(
        f"/api/v1/eigen-bijdrage/herstel/{task['id']}/corrigeren",
        json={"voorzieningen": [{"toewijzingnummer": nummer, "kostprijs": 125000}]},
        headers=AUTH,
    )
    assert fixed.status_code == 200, fixed.text
    stack.wait_for_state(fixed.json()["bericht"]["id"], "answered")
    received = mock_cak(stack, "meldingen", 2)
    assert received[1]["voorzieningen"][0]["kostprijs"] == 125000


def test_reject_rule_for_the_cak_opens_a_herstel_task(stack: Stack) -> None:
    stack.behave(mode="reject", agb="CAK", times=1, level="header")
    result = stack.post_beschikking(wmo(product("02", "02A01")))
    [message] = cak_messages(result)
    assert codes(stack.wait_for_state(message["id"], "rejected")) == ["0001"]
    [task] = stack.api.get("/api/v1/eigen-bijdrage/herstel", headers=AUTH).json()["items"]
    assert task["codes"] == ["0001"] and task["status"] == "open"


def test_start_bericht_trigger_waits_for_the_aanbieders_305(database_url: str, tmp_path: Path) -> None:
    with running_stack(database_url, tmp_path, eigen_bijdrage={"start_trigger": "start_bericht"}) as stack:
        result = stack.post_beschikking(wmo(product("02", "02A01")))
        assert cak_messages(result) == []
        nummer = result["toewijzingen"][0]["toewijzingnummer"]
        client = {
            "bsn": BSN,
            "geboortedatum": "2014-03-21",
            "geslacht": "2",
            "naam": {"achternaam": "Jansen"},
        }
        start = {
            "client": client,
            "producten": [
                {
                    "toewijzingnummer": nummer,
                    "begindatum": "2026-12-07",
                    "status_aanlevering": "1",
                    "product": {"categorie": "02", "code": "02A01"},
                }
            ],
        }
        sent = stack.aanbieder_send(AGB, {"functie": "WMO305", "bericht": start})
        assert sent["answer"] == "bv03", sent
        stack.aanbieder_answer(sent["referentienummer"])
        [melding] = mock_cak(stack, "meldingen", 1)
        assert (melding["soort"], melding["datum"]) == ("start", "2026-12-07")
        [gemeld] = stand(stack)["meldingen"]
        assert gemeld["oorzaak"] == "start"
