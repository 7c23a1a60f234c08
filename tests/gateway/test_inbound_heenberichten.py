"""An aanbieder's heenberichten reach the gateway over real HTTP and get the standard's
answer: a retour with the right codes at the right place, or a Fo01 - on SQLite and
PostgreSQL, for both laws."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.ggk import parse_fo01
from connectors.istandaard import Law, render_start, render_stop, render_vot, render_vow
from connectors.istandaard.model import Omvang
from connectors.istandaard.model_inbound import (
    AangevraagdProduct,
    StartBericht,
    StartProduct,
    StopBericht,
    StopProduct,
    TeWijzigenProduct,
    Verwijzer,
    VerzoekOmToewijzing,
    VerzoekOmWijziging,
)
from gateway.store.tables import InboundMessage
from tests.conftest import AUTH, beschikking_body
from tests.gateway.inbound_helpers import AGB, answer, client, header, inbound, post_di01, product, retour
from tests.gateway.stack import Stack, running_stack

START = date(2026, 12, 1)


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(database_url, tmp_path) as running:
        yield running


def _toewijzing(stack: Stack, law: Law = Law.JEUGDWET) -> int:
    body = beschikking_body()
    if law is Law.WMO:
        body = beschikking_body(
            wet="wmo",
            producten=[
                {
                    "categorie": "02",
                    "code": "02A01",
                    "aanbieder_agb": AGB,
                    "omvang": {"volume": 3, "eenheid": "04", "frequentie": "2"},
                }
            ],
        )
    number: int = stack.post_beschikking(body)["toewijzingen"][0]["toewijzingnummer"]
    return number


def _product(law: Law) -> tuple[str, str]:
    return ("45", "45A08") if law is Law.JEUGDWET else ("02", "02A01")


def _start(law: Law, nummer: int, ident: str, begindatum: date = START, status: str = "1") -> bytes:
    cat, code = _product(law)
    return render_start(
        StartBericht(
            header(law, ident),
            client(),
            (
                StartProduct(
                    begindatum=begindatum,
                    status_aanlevering=status,
                    toewijzingnummer=nummer,
                    product=product(cat, code),
                ),
            ),
        )
    )


@pytest.mark.parametrize("law", [Law.JEUGDWET, Law.WMO])
def test_start_of_a_known_toewijzing_gets_a_header_only_306(stack: Stack, law: Law) -> None:
    nummer = _toewijzing(stack, law)
    ref, response = post_di01(stack, _start(law, nummer, "S1"), law.function_name(305))
    assert response.status_code == 200 and b"Bv03Bericht" in response.content
    answered = retour(stack, ref)
    assert answered.number == 306 and answered.header_codes == () and answered.element_codes == {}
    assert answer(stack, ref).message_type == law.function_name(306)
    assert "zorg.gestart" in [e["type"] for e in stack.events()]
    assert inbound(stack, ref).status == "accepted"


def test_start_of_an_unknown_toewijzing_is_refused_with_9019_on_the_product(stack: Stack) -> None:
    _toewijzing(stack)
    ref, _ = post_di01(stack, _start(Law.JEUGDWET, 987654, "S2"), "JW305")
    answered = retour(stack, ref)
    assert answered.element_codes["Client/StartProducten/StartProduct[1]"] == ("9019",)
    assert answered.header_codes == ("0200",)
    assert inbound(stack, ref).status == "refused"


def test_start_then_stop_is_accepted_and_a_stop_without_start_refused(stack: Stack) -> None:
    nummer = _toewijzing(stack)
    post_di01(stack, _start(Law.JEUGDWET, nummer, "S3"), "JW305")
    stop = StopBericht(
        header(Law.JEUGDWET, "T1"),
        client(),
        (
            StopProduct(
                begindatum=START,
                einddatum=date(2027, 2, 28),
                reden_beeindiging="31",
                status_aanlevering="1",
                toewijzingnummer=nummer,
                product=product(),
            ),
        ),
    )
    ref, _ = post_di01(stack, render_stop(stop), "JW307")
    assert retour(stack, ref).header_codes == ()
    orphan = StopBericht(
        header(Law.JEUGDWET, "T2"),
        client(),
        (
            StopProduct(
                begindatum=date(2027, 1, 5),
                einddatum=date(2027, 2, 28),
                reden_beeindiging="31",
                status_aanlevering="1",
                toewijzingnummer=nummer,
                product=product(),
            ),
        ),
    )
    ref2, _ = post_di01(stack, render_stop(orphan), "JW307")
    assert retour(stack, ref2).element_codes["Client/StopProducten/StopProduct[1]"] == ("9069",)


def test_reused_bericht_identificatie_is_refused_with_9056(stack: Stack) -> None:
    nummer = _toewijzing(stack)
    post_di01(stack, _start(Law.JEUGDWET, nummer, "DUP1"), "JW305")
    ref, _ = post_di01(stack, _start(Law.JEUGDWET, nummer, "DUP1", begindatum=date(2026, 12, 2)), "JW305")
    answered = retour(stack, ref)
    assert answered.header_codes == ("9056",)
    assert set(answered.all_codes()) == {"9056", "0233"}


def test_the_same_envelope_twice_is_processed_once(stack: Stack) -> None:
    nummer = _toewijzing(stack)
    payload = _start(Law.JEUGDWET, nummer, "ONCE")
    ref, first = post_di01(stack, payload, "JW305")
    _, second = post_di01(stack, payload, "JW305", referentienummer=ref)
    assert first.status_code == second.status_code == 200
    with stack.runtime.sessions() as session:
        # Counted by type: the mock aanbieder's JW302 for the toewijzing may arrive meanwhile.
        stored = select(func.count()).where(InboundMessage.message_type == "JW305")
        assert session.scalar(stored) == 1


@pytest.mark.parametrize(
    ("payload", "functie", "reason"),
    [
        (b'<x:Bericht xmlns:x="urn:not-an-istandaard"/>', "JW305", "root element"),
        ("wrong-functie", "JW307", "JW305"),
        ("bad-date", "JW305", "Begindatum"),
        (b"<not-xml", "JW305", "XML"),
    ],
)
def test_unreadable_payloads_get_an_asynchronous_fo01_stuf055(
    stack: Stack, payload: bytes | str, functie: str, reason: str
) -> None:
    nummer = _toewijzing(stack)
    if payload == "wrong-functie":
        payload = _start(Law.JEUGDWET, nummer, "F1")
    elif payload == "bad-date":
        payload = _start(Law.JEUGDWET, nummer, "F2").replace(b"2026-12-01</", b"2026-12-41</")
    assert isinstance(payload, bytes)
    ref, response = post_di01(stack, payload, functie)
    assert response.status_code == 200  # the envelope was fine; the payload is refused asynchronously
    message = answer(stack, ref)
    assert message.operation == "Fo01"
    fo01 = parse_fo01(message.wire_body)
    assert fo01.code == "StUF055" and fo01.cross_ref == ref
    row = inbound(stack, ref)
    assert row.status == "invalid" and row.error is not None and reason.lower() in row.error.lower()
    stack.wait_for_state(message.id, "delivered")


def test_a_di01_for_another_gemeente_is_a_fo03(stack: Stack) -> None:
    nummer = _toewijzing(stack)
    _, response = post_di01(stack, _start(Law.JEUGDWET, nummer, "G1"), "JW305", gemeente="0160")
    assert response.status_code == 500 and b"IB210" in response.content


def _vot(law: Law, ident: str, ref: str) -> bytes:
    cat, code = _product(law)
    return render_vot(
        VerzoekOmToewijzing(
            header(law, ident),
            client(),
            (
                AangevraagdProduct(
                    referentie_aanbieder=ref,
                    toewijzing_ingangsdatum=date(2027, 1, 1),
                    verwijzer=Verwijzer(type="02", naam="Huisarts Dijkstra"),
                    product=product(cat, code),
                    toewijzing_einddatum=date(2027, 6, 30),
                    omvang=Omvang(volume=2, eenheid="04", frequentie="2"),
                ),
            ),
        )
    )


@pytest.mark.parametrize("law", [Law.JEUGDWET, Law.WMO])
def test_vot_becomes_a_task_and_a_rejection_is_a_319(stack: Stack, law: Law) -> None:
    ref, _ = post_di01(stack, _vot(law, "V1", "REF-001"), law.function_name(315))
    assert retour(stack, ref).header_codes == ()
    [task] = stack.api.get("/api/v1/verzoeken", params={"status": "open"}, headers=AUTH).json()["items"]
    assert task["soort"] == "vot" and task["referentie_aanbieder"] == "REF-001"
    rejected = stack.api.post(
        f"/api/v1/verzoeken/{task['id']}/afwijzen", json={"reden_afwijzing": "3"}, headers=AUTH
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "afgewezen"
    message = stack.bericht(rejected.json()["antwoord"]["id"])
    assert message["type"] == law.function_name(319)
    again = stack.api.post(
        f"/api/v1/verzoeken/{task['id']}/afwijzen", json={"reden_afwijzing": "3"}, headers=AUTH
    )
    assert again.status_code == 409
    # The same ReferentieAanbieder may not be used twice (9347).
    ref2, _ = post_di01(stack, _vot(law, "V2", "REF-001"), law.function_name(315))
    codes = retour(stack, ref2).element_codes
    assert {path: c for path, c in codes.items() if c != ("0200",)} == {
        "Client/AangevraagdeProducten/AangevraagdProduct[1]": ("9347",)
    }


def test_honouring_a_vot_sends_a_301_with_the_referentie(stack: Stack) -> None:
    post_di01(stack, _vot(Law.JEUGDWET, "V3", "REF-777"), "JW315")
    [task] = stack.api.get("/api/v1/verzoeken", headers=AUTH).json()["items"]
    granted = beschikking_body(periode={"begindatum": "2027-01-01", "einddatum": "2027-06-30"})
    response = stack.api.post(
        f"/api/v1/verzoeken/{task['id']}/toekennen", json={"beschikking": granted}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    message_id = response.json()["berichten"][0]["id"]
    payload = stack.api.get(f"/api/v1/berichten/{message_id}/payload", headers=AUTH).content
    assert b"<jw301:ReferentieAanbieder>REF-777</jw301:ReferentieAanbieder>" in payload
    nummer = response.json()["beschikking"]["toewijzingen"][0]["toewijzingnummer"]
    assert (
        stack.api.get(f"/api/v1/toewijzingen/{nummer}", headers=AUTH).json()["referentie_aanbieder"]
        == "REF-777"
    )


def _vow(
    ident: str, ref: str, te_wijzigen: tuple[TeWijzigenProduct, ...], ongewijzigd: tuple[int, ...] = ()
) -> bytes:
    return render_vow(
        VerzoekOmWijziging(
            header(Law.JEUGDWET, ident),
            "999900006",
            ref,
            "1",
            ongewijzigd=ongewijzigd,
            te_wijzigen=te_wijzigen,
        )
    )


def test_vow_that_leaves_out_a_current_toewijzing_is_refused_with_9349(stack: Stack) -> None:
    first = _toewijzing(stack)
    second = stack.post_beschikking(
        beschikking_body(
            producten=[{"categorie": "45", "code": "45A09", "aanbieder_agb": AGB, "budget": 50000}]
        )
    )["toewijzingen"][0]
    change = TeWijzigenProduct(
        toewijzingnummer=first, gewenste_ingangsdatum=START, einddatum=date(2027, 8, 31)
    )
    ref, _ = post_di01(stack, _vow("W1", "VOW-1", (change,)), "JW317")
    codes = retour(stack, ref).element_codes
    assert codes["Client/Verzoek"] == ("9349",)
    ref2, _ = post_di01(stack, _vow("W2", "VOW-2", (change,), ongewijzigd=(424242,)), "JW317")
    assert retour(stack, ref2).element_codes[
        "Client/Verzoek/OngewijzigdeProducten/OngewijzigdProduct[1]"
    ] == ("9350",)
    ref3, _ = post_di01(
        stack, _vow("W3", "VOW-3", (change,), ongewijzigd=(second["toewijzingnummer"],)), "JW317"
    )
    assert retour(stack, ref3).header_codes == ()


def test_honouring_a_vow_extends_the_toewijzing_and_a_second_open_vow_gets_9374(stack: Stack) -> None:
    nummer = _toewijzing(stack)
    change = TeWijzigenProduct(
        toewijzingnummer=nummer, gewenste_ingangsdatum=START, einddatum=date(2027, 8, 31)
    )
    post_di01(stack, _vow("W4", "VOW-4", (change,)), "JW317")
    ref, _ = post_di01(stack, _vow("W5", "VOW-5", (change,)), "JW317")
    assert retour(stack, ref).element_codes["Client/Verzoek"] == ("9374",)
    [task] = stack.api.get("/api/v1/verzoeken", params={"status": "open"}, headers=AUTH).json()["items"]
    response = stack.api.post(f"/api/v1/verzoeken/{task['id']}/toekennen", json={}, headers=AUTH)
    assert response.status_code == 200, response.text
    state = stack.api.get(f"/api/v1/toewijzingen/{nummer}", headers=AUTH).json()
    assert state["einddatum"] == "2027-08-31"
    assert state["reden_wijziging"] == "12" and state["referentie_aanbieder"] == "VOW-4"
    assert [v["oorzaak"] for v in state["geschiedenis"]] == ["beschikking", "verzoek"]


def test_vow_changing_an_unknown_toewijzing_gets_9351(stack: Stack) -> None:
    nummer = _toewijzing(stack)
    unknown = TeWijzigenProduct(
        toewijzingnummer=424242, gewenste_ingangsdatum=START, einddatum=date(2027, 8, 31)
    )
    ref, _ = post_di01(stack, _vow("W6", "VOW-6", (unknown,), ongewijzigd=(nummer,)), "JW317")
    assert retour(stack, ref).element_codes["Client/Verzoek/TeWijzigenProducten/TeWijzigenProduct[1]"] == (
        "9351",
    )


def test_vow_back_in_time_gets_9357(stack: Stack) -> None:
    nummer = _toewijzing(stack)
    # Dagtekening today; a wished start before today that is not the original ingangsdatum.
    back = TeWijzigenProduct(
        toewijzingnummer=nummer, gewenste_ingangsdatum=date(2026, 1, 15), einddatum=date(2027, 8, 31)
    )
    ref, _ = post_di01(stack, _vow("W7", "VOW-7", (back,)), "JW317")
    assert retour(stack, ref).element_codes["Client/Verzoek/TeWijzigenProducten/TeWijzigenProduct[1]"] == (
        "9357",
    )


def test_vow_budget_change_from_another_date_gets_9373(stack: Stack) -> None:
    budget = stack.post_beschikking(
        beschikking_body(producten=[{"categorie": "45", "aanbieder_agb": AGB, "budget": 50000}])
    )["toewijzingen"][0]["toewijzingnummer"]
    change = TeWijzigenProduct(toewijzingnummer=budget, gewenste_ingangsdatum=date(2027, 3, 1), budget=80000)
    ref, _ = post_di01(stack, _vow("W8", "VOW-8", (change,)), "JW317")
    assert retour(stack, ref).element_codes["Client/Verzoek/TeWijzigenProducten/TeWijzigenProduct[1]"] == (
        "9373",
    )
