"""What the justice chain sends: notificaties, notificatiejr, zorgmeldingen, duplicates."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.ops.alerts import evaluate_alerts, list_alerts
from gateway.store.corv_tables import CorvInbound
from tests.conftest import AUTH
from tests.gateway.corv_stack import CorvStack, corv_stack, shared_corv_stack, vto_body

__all__ = ["corv_stack", "shared_corv_stack"]  # fixtures: one stack per module and database


def test_notificaties_link_to_their_vto_or_stay_unmatched_and_notificatiejr_is_stored(
    corv_stack: CorvStack,
) -> None:
    stack = corv_stack
    created = stack.accepted_vto(vto_body("ZAAK-SERIE"))
    stack.wait_vto(created["id"], "accepted")
    answers = stack.hub_send("notificaties", {"zaak_identificatie": "ZAAK-SERIE"})
    assert [(a["status"], a["answer_berichtcode"]) for a in answers] == [("acked", "Bv01")] * 3
    detail = stack.vto(created["id"])
    assert [n["inhoud"]["status"] for n in detail["notificaties"]] == [
        "Intake afgerond",
        "Onderzoek afgerond",
        "Zaak afgerond",
    ]
    assert detail["notificaties"][-1]["inhoud"]["resultaat"] == "Maatregel opgelegd"
    assert {n["koppeling"] for n in detail["notificaties"]} == {"matched"}
    events = stack.wait_events("corv.notificatie.ontvangen", 3)
    assert {e["data"]["vto_id"] for e in events} == {created["id"]}
    assert stack.events("corv.notificatie.onbekende_zaak") == []

    # ambtshalve (no zaak of ours) and an unknown zaak: stored unmatched, shown to operators
    assert stack.hub_send("ambtshalve", {"status": "Intake afgerond"})["answer_berichtcode"] == "Bv01"
    answer = stack.hub_send("notificatie", {"zaak_identificatie": "ZAAK-NOOIT-GEZIEN"})
    assert answer["answer_berichtcode"] == "Bv01"
    unmatched = stack.new_items("/api/v1/corv/notificaties", status="unmatched")
    assert [(n["zaak_identificatie"], n["inhoud"]["ambtshalve"]) for n in unmatched] == [
        (None, True),
        ("ZAAK-NOOIT-GEZIEN", False),
    ]
    assert len(stack.new_items("/api/v1/corv/notificaties", status="matched")) == 3
    events = stack.wait_events("corv.notificatie.onbekende_zaak", 2)
    assert [e["data"]["ambtshalve"] for e in events] == [True, False]
    assert stack.get(unmatched[0]["href"])["id"] == unmatched[0]["id"]
    # the unknown zaak (not the ambtshalve one) is an operator alert, raised once
    for _ in range(2):
        evaluate_alerts(stack.runtime)
        with stack.runtime.sessions() as session:
            alerts = list_alerts(session, kind="corv_unmatched")
        assert [a.summary.split(",")[0] for a in alerts] == [
            f"CORV notificatie {unmatched[1]['id']} names zaak ZAAK-NOOIT-GEZIEN"
        ]

    # jeugdreclassering
    assert stack.hub_send("notificatiejr", {"toezichtsoort": "07"})["answer_berichtcode"] == "Bv01"
    [item] = stack.new_items("/api/v1/corv/notificaties", soort="notificatiejr")
    assert item["inhoud"]["toezichtsoort"] == "07"
    [event] = stack.wait_events("corv.notificatiejr.ontvangen")
    assert event["data"]["notificatie_id"] == item["id"]


def test_a_zorgmelding_gets_bv01_and_its_terugkoppeling_is_accepted(corv_stack: CorvStack) -> None:
    stack = corv_stack
    sent = stack.hub_send("zorgmelding", {"kenmerk": "ZM-POLITIE-42"})
    assert (sent["status"], sent["answer_berichtcode"]) == ("acked", "Bv01")
    [melding] = stack.new_items("/api/v1/corv/zorgmeldingen", status="open")
    assert melding["kenmerk"] == "ZM-POLITIE-42"
    [event] = stack.wait_events("corv.zorgmelding.ontvangen")
    assert event["data"]["zorgmelding_id"] == melding["id"]
    response = stack.api.post(
        f"/api/v1/corv/zorgmeldingen/{melding['id']}/terugkoppeling",
        json={"resultaat": "vervolgactie_nodig", "contactpersoon": "P. de Vries"},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "teruggekoppeld"
    stack.wait_events("corv.terugkoppeling.geaccepteerd")
    answered = stack.get(f"/api/v1/corv/zorgmeldingen/{melding['id']}")
    assert answered["terugkoppeling_bericht"]["state"] == "answered"
    assert stack.mock is not None
    [received] = stack.mock.get("/_mock/corv/terugkoppelingen").json()
    assert (received["zorgmelding_kenmerk"], received["resultaat"]) == (
        "ZM-POLITIE-42",
        "Vervolgactie nodig",
    )
    # answered once: a second terugkoppeling is refused
    again = stack.api.post(
        f"/api/v1/corv/zorgmeldingen/{melding['id']}/terugkoppeling",
        json={"resultaat": "geen_actie_nodig", "contactpersoon": "P. de Vries"},
        headers=AUTH,
    )
    assert again.status_code == 409, again.text


def test_duplicates_get_stuf016_or_the_same_ack_and_no_second_event(corv_stack: CorvStack) -> None:
    stack = corv_stack
    first = stack.hub_send("notificatie", {"zaak_identificatie": "ZAAK-DUP"})
    assert first["answer_berichtcode"] == "Bv01"
    # an ebMS retry (same MessageId, same bytes) -> the stored answer again (Bv01), not processed
    retry = stack.hub_send("duplicate", {"mode": "same_message_id"})
    assert (retry["message_id"], retry["answer_berichtcode"]) == (first["message_id"], "Bv01")
    # the same StUF (zender + referentienummer) under a new ebMS MessageId -> Fo03 StUF016
    dup = stack.hub_send("duplicate", {"mode": "same_referentienummer"})
    assert dup["message_id"] != first["message_id"]
    assert (dup["status"], dup["answer_berichtcode"], dup["answer_code"]) == ("acked", "Fo03", "StUF016")
    assert len(stack.wait_events("corv.notificatie.onbekende_zaak")) == 1
    with stack.runtime.sessions() as session:
        ours = CorvInbound.id > stack.mark["inbound"]  # this test's rows
        statuses = session.scalars(select(CorvInbound.status).where(ours).order_by(CorvInbound.id)).all()
        assert statuses == ["accepted", "duplicate"]
        assert session.scalar(select(func.count()).select_from(CorvInbound).where(ours)) == 2
