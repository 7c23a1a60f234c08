"""The iJw/iWmo 3.2 lifecycle as scripted scenarios, for both laws on both databases.

Each scenario is driven only over HTTP - the gateway's API (the back-office) and the
mock GGk's admin endpoints (the aanbieder) - and asserts what each side sees. At the
end every message the gateway sent is checked against the *published* XSDs
(conformance), which lie outside the project and are skipped, with the reason, when
absent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select

from connectors.istandaard import Law, parse_toewijzing
from connectors.istandaard.model import ToegewezenProduct
from connectors.xml_input import parse_xml
from connectors.xsd import load_schema, violations
from gateway.clock import NL, FrozenClock
from gateway.deadlines import scan_overdue
from gateway.store.tables import Message
from tests.conftest import AUTH, BSN, REFERENCE, beschikking_body
from tests.gateway.stack import Stack, running_stack

AGB = "99990001"
OTHER_BSN = "999900018"
PRODUCT: dict[Law, tuple[str, str]] = {Law.JEUGDWET: ("45", "45A08"), Law.WMO: ("02", "02A01")}
OTHER_PRODUCT: dict[Law, tuple[str, str]] = {Law.JEUGDWET: ("43", "43A01"), Law.WMO: ("03", "03A01")}
CLIENT = {
    "bsn": BSN,
    "geboortedatum": "2014-03-21",
    "geslacht": "2",
    "naam": {"achternaam": "Jansen", "voorletters": "S"},
}
PUBLISHED = {Law.JEUGDWET: "ijw-3.2", Law.WMO: "iwmo-3.2"}
#: Heenberichten the gateway sends, and the retours it sends back: the published schemas exist
#: for the iWmo 301/319 and for every iJw message (the iWmo retour XSDs are not published).
PUBLISHED_HEEN = (301, 319)
PUBLISHED_RETOUR = (306, 308, 316, 318, 325)


@pytest.fixture(params=[Law.JEUGDWET, Law.WMO], ids=["jeugdwet", "wmo"])
def law(request: pytest.FixtureRequest) -> Law:
    chosen: Law = request.param
    return chosen


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(database_url, tmp_path) as running:
        yield running


# --- helpers ------------------------------------------------------------------------------


def product_json(law: Law, *, other: bool = False, omvang: dict[str, Any] | None = None) -> dict[str, Any]:
    """A product for aanbieder 99990001: 4 uur per week unless ``omvang`` overrides some of it."""
    categorie, code = (OTHER_PRODUCT if other else PRODUCT)[law]
    return {
        "categorie": categorie,
        "code": code,
        "aanbieder_agb": AGB,
        "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2", **(omvang or {})},
    }


def beschikking(
    law: Law, *producten: dict[str, Any], begin: str = "2026-12-01", eind: str = "2027-05-31", bsn: str = BSN
) -> dict[str, Any]:
    body = beschikking_body(
        wet=law.value,
        producten=list(producten) or [product_json(law)],
        periode={"begindatum": begin, "einddatum": eind},
    )
    body["client"] = {**cast("dict[str, Any]", body["client"]), "bsn": bsn}
    return body


def api_get(stack: Stack, path: str, **params: Any) -> Any:
    response = stack.api.get(path, params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def api_post(stack: Stack, path: str, body: dict[str, Any]) -> Any:
    response = stack.api.post(path, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def sent_301(stack: Stack, message_id: int) -> dict[int, ToegewezenProduct]:
    """The 301 as the aanbieder reads it: its products by ToewijzingNummer."""
    payload = stack.api.get(f"/api/v1/berichten/{message_id}/payload", headers=AUTH).content
    return {p.toewijzingnummer: p for p in parse_toewijzing(payload).producten}


def mock_outcome(stack: Stack, referentienummer: str, expected: str, timeout_s: float = 10.0) -> None:
    """The mock GGk's outcome for a Di01 we sent (``/_mock/received``) becomes ``expected``.

    The mock notes ``retour_sent`` only after the gateway took the retour, so it may lag.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        outcomes = [
            e["outcome"]
            for e in stack.mock.get("/_mock/received").json()
            if e["referentienummer"] == referentienummer
        ]
        if outcomes == [expected]:
            return
        assert time.monotonic() < deadline, (
            f"mock outcome for {referentienummer}: {outcomes}, wanted {expected}"
        )
        time.sleep(0.05)


def aanbieder_sends(stack: Stack, law: Law, number: int, bericht: dict[str, Any]) -> dict[str, Any]:
    """The aanbieder sends a heenbericht; the gateway takes it (Bv03); returns the retour it got."""
    sent = stack.aanbieder_send(AGB, {"functie": law.function_name(number), "bericht": bericht})
    assert sent["answer"] == "bv03", sent
    answer = stack.aanbieder_answer(sent["referentienummer"])
    assert answer["operation"] == "ggk_Du01", answer
    assert answer["functie"] == law.function_name(number + 1 if number != 323 else 325)
    assert (answer["zender"], answer["ontvanger"]) == ("0637", AGB)
    return answer


def assert_ok_retour(answer: dict[str, Any]) -> None:
    """Fully accepted (IV028): the header only, no RetourCodes anywhere."""
    content = answer["content"]
    assert content["kind"] == "retour"
    assert content["header_codes"] == [] and content["element_codes"] == {}, content


def toewijzing(stack: Stack, law: Law, body: dict[str, Any] | None = None) -> tuple[int, int]:
    """Post a beschikking; wait for the mock's 302. Returns (toewijzingnummer, message id)."""
    result = stack.post_beschikking(body or beschikking(law))
    message_id: int = result["berichten"][0]["id"]
    detail = stack.wait_for_state(message_id, "answered")
    assert detail["type"] == law.function_name(301) and detail["answer"]["type"] == law.function_name(302)
    mock_outcome(stack, detail["referentienummer"], "retour_sent")
    nummer: int = result["toewijzingen"][0]["toewijzingnummer"]
    return nummer, message_id


def open_task(stack: Stack, soort: str, referentie: str) -> dict[str, Any]:
    tasks = api_get(stack, "/api/v1/verzoeken", status="open", soort=soort)["items"]
    found: list[dict[str, Any]] = [t for t in tasks if t["referentie_aanbieder"] == referentie]
    assert len(found) == 1, tasks
    return found[0]


def assert_conformant(stack: Stack) -> None:
    """Every 301/319 and every retour/325 the gateway stored validates against the published XSD."""
    if not REFERENCE.is_dir():
        pytest.skip(
            f"scenario passed; conformance not checked: the published reference {REFERENCE.resolve()} "
            "is absent"
        )
    base = REFERENCE / "istandaarden"
    with stack.runtime.sessions() as session:
        messages = list(session.scalars(select(Message).order_by(Message.id)))
    checked = 0
    for m in messages:
        law = Law(m.law) if m.law else None
        if law is None or not m.message_type[-3:].isdigit():
            continue
        number = int(m.message_type[-3:])
        heen = m.operation == "ggk_Di01" and number in PUBLISHED_HEEN
        retour = m.operation == "ggk_Du01" and number in PUBLISHED_RETOUR and law is Law.JEUGDWET
        if not (heen or retour):
            continue
        schema = load_schema(f"{PUBLISHED[law]}/{law.message_prefix}{number}.xsd", base_dir=base)
        found = violations(schema, parse_xml(m.payload))
        assert found == [], f"{m.message_type} (bericht {m.id}) fails the published XSD: {found}"
        checked += 1
    assert checked > 0, "no message was checked against the published XSDs"


# --- a. start and stop ----------------------------------------------------------------------


def test_start_and_stop_of_a_toewijzing(stack: Stack, law: Law) -> None:
    nummer, message_301 = toewijzing(stack, law)
    categorie, code = PRODUCT[law]
    product = {"categorie": categorie, "code": code}
    start = {
        "client": CLIENT,
        "producten": [
            {
                "toewijzingnummer": nummer,
                "begindatum": "2026-12-01",
                "status_aanlevering": "1",
                "product": product,
            }
        ],
    }
    assert_ok_retour(aanbieder_sends(stack, law, 305, start))
    stop = {
        "client": CLIENT,
        "producten": [
            {
                "toewijzingnummer": nummer,
                "begindatum": "2026-12-01",
                "einddatum": "2027-02-28",
                "reden_beeindiging": "31",
                "status_aanlevering": "1",
                "product": product,
            }
        ],
    }
    assert_ok_retour(aanbieder_sends(stack, law, 307, stop))

    [gestart] = api_get(stack, "/api/v1/events", type="zorg.gestart")["items"]
    [gestopt] = api_get(stack, "/api/v1/events", type="zorg.gestopt")["items"]
    assert gestart["data"]["toewijzingnummer"] == gestopt["data"]["toewijzingnummer"] == nummer
    assert gestart["data"]["begindatum"] == "2026-12-01" and gestart["data"]["wet"] == law.value
    state = api_get(stack, f"/api/v1/toewijzingen/{nummer}")
    assert [(b["id"], b["type"], b["state"]) for b in state["berichten"]] == [
        (message_301, law.function_name(301), "answered")
    ]
    assert_conformant(stack)


# --- b. oprekken ------------------------------------------------------------------------


def test_extension_keeps_the_number_with_reden_04(stack: Stack, law: Law) -> None:
    nummer, first_301 = toewijzing(stack, law)
    changed = api_post(stack, f"/api/v1/toewijzingen/{nummer}/wijzigingen", {"einddatum": "2027-08-31"})
    [row] = changed["gewijzigd"]
    assert (row["toewijzingnummer"], row["einddatum"], row["reden_wijziging"]) == (nummer, "2027-08-31", "04")
    assert changed["nieuw"] == []
    [ref] = changed["berichten"]
    assert ref["type"] == law.function_name(301) and ref["id"] != first_301
    stack.wait_for_state(ref["id"], "answered")
    [carried] = sent_301(stack, ref["id"]).values()
    assert (carried.toewijzingnummer, carried.einddatum, carried.reden_wijziging) == (
        nummer,
        date(2027, 8, 31),
        "04",
    )
    state = api_get(stack, f"/api/v1/toewijzingen/{nummer}")
    history = [(v["versie"], v["oorzaak"], v["reden_wijziging"]) for v in state["geschiedenis"]]
    assert history == [(1, "beschikking", None), (2, "wijziging", "04")]
    assert [b["id"] for b in state["berichten"]] == [first_301, ref["id"]]
    assert_conformant(stack)


# --- c. omvang changes ------------------------------------------------------------------


def test_another_frequentie_ends_the_old_toewijzing_and_frequentie_6_keeps_the_number(
    stack: Stack, law: Law
) -> None:
    nummer, _ = toewijzing(stack, law)
    wijziging = {"omvang": {"volume": 16, "eenheid": "04", "frequentie": "4"}, "ingangsdatum": "2027-02-01"}
    changed = api_post(stack, f"/api/v1/toewijzingen/{nummer}/wijzigingen", wijziging)
    [old], [new] = changed["gewijzigd"], changed["nieuw"]
    assert old["toewijzingnummer"] == nummer and old["einddatum"] == "2027-01-31"
    assert new["toewijzingnummer"] != nummer and new["vervangt"] == nummer
    assert (new["ingangsdatum"], new["einddatum"], new["volume"], new["frequentie"]) == (
        "2027-02-01",
        "2027-05-31",
        16,
        "4",
    )
    [ref] = changed["berichten"]
    stack.wait_for_state(ref["id"], "answered")
    carried = sent_301(stack, ref["id"])  # OP087: both in the one next 301
    assert set(carried) == {nummer, new["toewijzingnummer"]}
    assert carried[nummer].einddatum == date(2027, 1, 31)
    assert carried[nummer].reden_wijziging == old["reden_wijziging"] is not None
    new_omvang = carried[new["toewijzingnummer"]].omvang
    assert new_omvang is not None and (new_omvang.volume, new_omvang.frequentie) == (16, "4")

    totaal = beschikking(law, product_json(law, omvang={"volume": 100, "frequentie": "6"}), bsn=OTHER_BSN)
    nummer_6, _ = toewijzing(stack, law, totaal)
    kept = api_post(
        stack,
        f"/api/v1/toewijzingen/{nummer_6}/wijzigingen",
        {"omvang": {"volume": 120, "eenheid": "04", "frequentie": "6"}, "reden_wijziging": "01"},
    )
    assert kept["nieuw"] == []
    [row] = kept["gewijzigd"]
    assert (row["toewijzingnummer"], row["volume"], row["reden_wijziging"]) == (nummer_6, 120, "01")
    stack.wait_for_state(kept["berichten"][0]["id"], "answered")
    [carried_6] = sent_301(stack, kept["berichten"][0]["id"]).values()
    assert carried_6.toewijzingnummer == nummer_6 and carried_6.omvang is not None
    assert carried_6.omvang.volume == 120
    assert_conformant(stack)


# --- d. VOT -----------------------------------------------------------------------------


def vot(law: Law, referentie: str) -> dict[str, Any]:
    categorie, code = PRODUCT[law]
    return {
        "client": CLIENT,
        "producten": [
            {
                "referentie_aanbieder": referentie,
                "toewijzing_ingangsdatum": "2027-01-01",
                "toewijzing_einddatum": "2027-06-30",
                "verwijzer": {"type": "02", "naam": "Huisarts Dijkstra"},
                "product": {"categorie": categorie, "code": code},
                "omvang": {"volume": 2, "eenheid": "04", "frequentie": "2"},
            }
        ],
    }


def test_vot_honoured_and_vot_rejected(stack: Stack, law: Law) -> None:
    referentie = f"VOT-{uuid.uuid4().hex[:6]}"
    assert_ok_retour(aanbieder_sends(stack, law, 315, vot(law, referentie)))
    task = open_task(stack, "vot", referentie)
    granted = api_post(
        stack,
        f"/api/v1/verzoeken/{task['id']}/toekennen",
        {"beschikking": beschikking(law, begin="2027-01-01", eind="2027-06-30")},
    )
    assert granted["verzoek"]["status"] == "toegekend"
    [ref] = [b for b in granted["berichten"] if b["type"] == law.function_name(301)]  # not the CAK's 405
    detail = stack.wait_for_state(ref["id"], "answered")
    mock_outcome(stack, detail["referentienummer"], "retour_sent")
    [carried] = sent_301(stack, ref["id"]).values()
    assert carried.referentie_aanbieder == referentie

    afgewezen = f"VOT-{uuid.uuid4().hex[:6]}"
    assert_ok_retour(aanbieder_sends(stack, law, 315, vot(law, afgewezen)))
    task = open_task(stack, "vot", afgewezen)
    answer = api_post(stack, f"/api/v1/verzoeken/{task['id']}/afwijzen", {"reden_afwijzing": "3"})
    assert answer["status"] == "afgewezen" and answer["antwoord"]["type"] == law.function_name(319)
    detail = stack.wait_for_state(answer["antwoord"]["id"], "answered", timeout_s=5)
    assert detail["answer"]["type"] == law.function_name(320) and detail["retour_codes"] == []
    [seen] = [
        a
        for a in stack.mock.get("/_mock/aanbieder/antwoorden").json()
        if a["referentie_aanbieder"] == afgewezen
    ]
    assert (seen["functie"], seen["aanbieder"], seen["gemeente"], seen["law"]) == (
        law.function_name(319),
        AGB,
        "0637",
        law.value,
    )
    assert (seen["verzoek_antwoord"], seen["reden_afwijzing"]) == ("1", "3")
    assert_conformant(stack)


# --- e. VOW -----------------------------------------------------------------------------


def test_vow_honoured_extends_and_the_history_names_the_verzoek(stack: Stack, law: Law) -> None:
    nummer, first_301 = toewijzing(stack, law)
    referentie = f"VOW-{uuid.uuid4().hex[:6]}"
    vow = {
        "bsn": BSN,
        "referentie_aanbieder": referentie,
        "reden_verzoek": "1",
        "te_wijzigen": [
            {"toewijzingnummer": nummer, "gewenste_ingangsdatum": "2026-12-01", "einddatum": "2027-08-31"}
        ],
    }
    assert_ok_retour(aanbieder_sends(stack, law, 317, vow))
    task = open_task(stack, "vow", referentie)
    honoured = api_post(stack, f"/api/v1/verzoeken/{task['id']}/toekennen", {})
    assert honoured["verzoek"]["status"] == "toegekend" and honoured["beschikking"] is None
    [ref] = honoured["berichten"]
    assert ref["type"] == law.function_name(301) and ref["id"] != first_301
    stack.wait_for_state(ref["id"], "answered")
    [carried] = sent_301(stack, ref["id"]).values()
    assert (carried.toewijzingnummer, carried.einddatum, carried.referentie_aanbieder) == (
        nummer,
        date(2027, 8, 31),
        referentie,
    )
    state = api_get(stack, f"/api/v1/toewijzingen/{nummer}")
    assert [v["oorzaak"] for v in state["geschiedenis"]] == ["beschikking", "verzoek"]
    assert state["einddatum"] == "2027-08-31"
    assert_conformant(stack)


# --- f. declaratie ----------------------------------------------------------------------


def test_declaratie_with_one_prestatie_over_the_omvang(stack: Stack, law: Law) -> None:
    # Two toewijzingen of 10 hours per month, October 2026 (a past month).
    monthly: dict[str, Any] = {"volume": 10, "frequentie": "4"}
    body = beschikking(
        law,
        product_json(law, omvang=monthly),
        product_json(law, other=True, omvang=monthly),
        begin="2026-09-01",
        eind="2027-08-31",
    )
    result = stack.post_beschikking(body)
    stack.wait_for_state(result["berichten"][0]["id"], "answered")
    numbers = {(t["categorie"], t["productcode"]): t["toewijzingnummer"] for t in result["toewijzingen"]}
    tarief = 6000  # eurocent per hour; volumes in minutes

    def prestatie(referentie: str, which: tuple[str, str], minutes: int) -> dict[str, Any]:
        return {
            "referentienummer": referentie,
            "toewijzingnummer": numbers[which],
            "categorie": which[0],
            "productcode": which[1],
            "periode_begin": "2026-10-01",
            "periode_eind": "2026-10-31",
            "geleverd_volume": minutes,
            "eenheid": "01",
            "product_tarief": tarief,
            "ingediend_bedrag": {"bedrag": minutes * tarief // 60, "debet_credit": "D"},
        }

    ok = prestatie(f"OK{uuid.uuid4().hex[:6]}", PRODUCT[law], 600)
    over = prestatie(f"TE{uuid.uuid4().hex[:6]}", OTHER_PRODUCT[law], 660)
    declaratie = {
        "declaratienummer": f"DN{uuid.uuid4().hex[:8]}",
        "periode_begin": "2026-10-01",
        "periode_eind": "2026-10-31",
        "dagtekening": "2026-11-02",
        "totaal_ingediend": {"bedrag": 60000 + 66000, "debet_credit": "D"},
        "clienten": [{"bsn": BSN, "prestaties": [ok, over]}],
    }
    content = aanbieder_sends(stack, law, 323, declaratie)["content"]
    assert content["kind"] == "declaratie_antwoord", content
    assert content["declaratienummer"] == declaratie["declaratienummer"]
    codes = content["prestatie_codes"]
    assert codes[ok["referentienummer"]] == ["0200"]
    assert codes[over["referentienummer"]] in (["9321"], ["9322"])
    assert content["totaal_ingediend"] == {"bedrag": 126000, "debet_credit": "D"}
    assert content["totaal_toegekend"] == {"bedrag": 60000, "debet_credit": "D"}
    assert "declaratie.ontvangen" in [e["type"] for e in stack.events()]
    assert_conformant(stack)


# --- g. an overdue retour on a frozen clock --------------------------------------------


def test_a_missing_retour_becomes_overdue_once_after_3_werkdagen(
    database_url: str, tmp_path: Path, law: Law
) -> None:
    # Thursday 4 March 2027, 10:00: 3 werkdagen are Fri 5, Mon 8, Tue 9 - the weekend skipped.
    clock = FrozenClock(datetime(2027, 3, 4, 10, 0, tzinfo=NL))
    # Only the 301 is watched here: no eigen bijdrage report to the CAK (its 405 would be overdue too).
    with running_stack(database_url, tmp_path, clock=clock, eigen_bijdrage={"enabled": False}) as stack:
        stack.behave(mode="no_retour")
        result = stack.post_beschikking(beschikking(law, begin="2027-04-01", eind="2027-09-30"))
        message_id = result["berichten"][0]["id"]
        detail = stack.wait_for_state(message_id, "delivered")
        [termijn] = detail["termijnen"]
        due = datetime.fromisoformat(termijn["uiterlijk"]).astimezone(NL)
        assert (termijn["soort"], termijn["werkdagen"], due.date()) == ("retour", 3, date(2027, 3, 9))
        assert not detail["te_laat"] and termijn["te_laat_sinds"] is None
        mock_outcome(stack, detail["referentienummer"], "no_retour")

        clock.advance(datetime(2027, 3, 9, 23, 0, tzinfo=NL) - clock.now())
        assert scan_overdue(stack.runtime) == 0  # the last werkdag is not over yet
        clock.advance(timedelta(hours=1, minutes=30))  # Wednesday 10 March, 00:30
        assert scan_overdue(stack.runtime) == 1
        late = stack.bericht(message_id)
        assert late["te_laat"] and late["termijnen"][0]["te_laat_sinds"] is not None
        assert late["state"] == "delivered"
        events = api_get(stack, "/api/v1/events", type="deadline.verlopen")["items"]
        assert [(e["bericht_id"], e["data"]["kind"]) for e in events] == [(message_id, "retour")]

        assert scan_overdue(stack.runtime) == 0
        assert len(api_get(stack, "/api/v1/events", type="deadline.verlopen")["items"]) == 1
        assert_conformant(stack)
