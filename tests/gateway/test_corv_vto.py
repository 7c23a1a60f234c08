"""VTOs end to end over loopback HTTP: gateway -> mock CORV hub -> answers back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.gateway.corv_stack import (
    CORV_OIN,
    CorvStack,
    corv_stack,
    gateway_only,
    shared_corv_stack,
    vto_body,
)
from tests.live_server import free_port, live_server

__all__ = ["corv_stack", "shared_corv_stack"]  # fixtures: one stack per module and database


def _mock_received(stack: CorvStack, action: str) -> list[dict[str, Any]]:
    assert stack.mock is not None
    items: list[dict[str, Any]] = stack.mock.get("/_mock/corv/received").json()["received"]
    return [item for item in items if item["action"] == action]


def test_a_correct_vto_is_accepted_with_bv01(corv_stack: CorvStack) -> None:
    stack = corv_stack
    created = stack.accepted_vto(vto_body("ZAAK-OK-1"))
    assert created["state"] in ("queued", "sent", "acknowledged", "accepted")
    detail = stack.wait_vto(created["id"], "accepted")
    assert detail["fout"] is None
    assert detail["bericht"]["state"] == "answered"
    # the hub got exactly this VTO once, with its documents
    [seen] = _mock_received(stack, "vtoDi01")
    assert seen["message_id"] == detail["ebms_message_id"]
    assert (seen["deliveries"], seen["processed"]) == (1, 1)
    assert stack.mock is not None
    [vto] = stack.mock.get("/_mock/corv/vtos").json()
    assert vto["zaak_identificatie"] == "ZAAK-OK-1"
    assert vto["documenten"][0]["soort"] == "Verzoek tot onderzoek RvdK"
    [event] = stack.wait_events("corv.vto.geaccepteerd")
    assert event["data"]["vto_id"] == created["id"]
    assert event["data"]["zaak_identificatie"] == "ZAAK-OK-1"
    # the outbox shows it like any other message
    bericht = stack.get(f"/api/v1/berichten/{detail['bericht']['id']}")
    assert (bericht["type"], bericht["route"]) == ("vtoDi01", "corv:00000099000000001000")


def test_an_incorrect_vto_gets_an_asynchronous_fo01(corv_stack: CorvStack) -> None:
    stack = corv_stack
    assert stack.mock is not None
    stack.mock.put(
        "/_mock/corv/behaviour",
        json={"reject_vtos": 1, "reject_code": "CORV02", "reject_omschrijving": "niet in behandeling"},
    ).raise_for_status()
    created = stack.accepted_vto(vto_body("ZAAK-FO01"))
    detail = stack.wait_vto(created["id"], "rejected")
    assert detail["fout"] == {"code": "CORV02", "omschrijving": "niet in behandeling"}
    assert detail["bericht"]["state"] == "rejected"
    [event] = stack.wait_events("corv.vto.afgewezen")
    assert event["data"]["code"] == "CORV02"
    assert event["data"]["soort"] == "fo01"
    # a rejected VTO may be sent again for the same zaak (the hub accepts this one)
    again = stack.accepted_vto(vto_body("ZAAK-FO01"))
    assert stack.wait_vto(again["id"], "accepted")["zaak_identificatie"] == "ZAAK-FO01"

    # the Raad's own rule: a child unknown in the BRP -> Fo01; while open, a second VTO
    # for the zaak is refused
    stack.mock.put("/_mock/corv/behaviour", json={"answer_delay_s": 1.0}).raise_for_status()
    body = vto_body("ZAAK-BRP")
    body["kinderen"][0]["persoon"]["bsn"] = "999900055"
    created = stack.accepted_vto(body)
    conflict = stack.post_vto(vto_body("ZAAK-BRP"))
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["type"] == "urn:gateway:problem:vto-exists"
    detail = stack.wait_vto(created["id"], "rejected")
    assert detail["fout"] is not None and detail["fout"]["code"]
    assert len(stack.wait_events("corv.vto.afgewezen", 2)) == 2


def test_the_quickstart_mock_server_hosts_the_corv_hub(database_url: str, tmp_path: Path) -> None:
    """``serve --with-mocks``: the hub shares the mock GGk's port and calls the gateway back."""
    from gateway.corv.quickstart import mount_mock_hub
    from mocks.ggk import MockGgkConfig
    from mocks.ggk import create_app as create_ggk

    gateway_port, mock_port = free_port(), free_port()
    corv = {"parties": [{"oin": CORV_OIN, "retries": 3, "retry_interval_s": 0.2}]}  # url: the mock's
    with gateway_only(database_url, tmp_path, port=gateway_port, corv=corv, mock_port=mock_port) as stack:
        settings = stack.runtime.settings
        combined = mount_mock_hub(create_ggk(MockGgkConfig(callback_url=settings.inbound_ggk_url)), settings)
        with live_server(combined, mock_port) as mock_url, httpx.Client(base_url=mock_url) as mock:
            created = stack.accepted_vto(vto_body("ZAAK-QUICKSTART"))
            assert stack.wait_vto(created["id"], "accepted")["state"] == "accepted"
            sent = mock.post("/_mock/corv/send/ambtshalve", json={}).json()
            assert sent["answer_berichtcode"] == "Bv01"
            assert mock.get("/_mock/behaviour").status_code == 200  # the mock GGk still answers
