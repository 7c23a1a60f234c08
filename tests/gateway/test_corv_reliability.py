"""ebMS reliability over loopback: lost acks, MessageErrors, async acks, retries, restarts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import select

from connectors.corv import Fout, fo03, render_answer
from connectors.corv import parse_message as parse_stuf
from connectors.ebms import CORV_SERVICE, MessageHeader, build_ack
from connectors.ebms import parse_message as parse_ebms
from gateway.store.corv_tables import CorvOutbound
from tests.conftest import AUTH
from tests.gateway.corv_stack import (
    CORV_OIN,
    GEMEENTE_OIN,
    CorvStack,
    corv_settings,
    corv_stack,
    gateway_only,
    mock_hub,
    shared_corv_stack,
    vto_body,
)
from tests.live_server import free_port, live_server

__all__ = ["corv_stack", "shared_corv_stack"]  # fixtures: one stack per module and database


def _behave(stack: CorvStack, **behaviour: Any) -> None:
    assert stack.mock is not None
    stack.mock.put("/_mock/corv/behaviour", json=behaviour).raise_for_status()


def _received(mock: Any, message_id: str) -> dict[str, Any]:
    [item] = [r for r in mock.get("/_mock/corv/received").json()["received"] if r["message_id"] == message_id]
    found: dict[str, Any] = item
    return found


def test_lost_acks_mean_a_resend_with_the_same_message_id_seen_once(corv_stack: CorvStack) -> None:
    stack = corv_stack
    _behave(stack, drop_acks=2)
    created = stack.accepted_vto(vto_body("ZAAK-DROP"))
    detail = stack.wait_vto(created["id"], "accepted")
    # The Bv01 may settle the message while the third attempt's ack is still on its way:
    # that attempt is then logged (not applied) a moment after the VTO reads accepted.
    bericht_path = f"/api/v1/berichten/{detail['bericht']['id']}"
    _wait_for(lambda: len(stack.get(bericht_path)["attempt_log"]) == 3)
    bericht = stack.get(bericht_path)
    assert bericht["attempts"] == 3
    assert [a["outcome"] for a in bericht["attempt_log"]] == ["retryable", "retryable", "delivered"]
    seen = _received(stack.mock, detail["ebms_message_id"])
    assert (seen["deliveries"], seen["processed"]) == (3, 1)
    with stack.runtime.sessions() as session:
        outbound = session.get(CorvOutbound, detail["bericht"]["id"])
        assert outbound is not None and outbound.acked_at is not None
    assert len(stack.wait_events("corv.vto.geaccepteerd")) == 1


def test_a_message_error_parks_the_vto_without_retries(corv_stack: CorvStack) -> None:
    stack = corv_stack
    _behave(stack, message_errors=1, message_error_code="ValueNotRecognized")
    created = stack.accepted_vto(vto_body("ZAAK-ERR"))
    detail = stack.wait_vto(created["id"], "parked")
    assert detail["fout"]["code"] == "ValueNotRecognized"
    bericht = stack.get(f"/api/v1/berichten/{detail['bericht']['id']}")
    assert (bericht["state"], bericht["attempts"]) == ("parked", 1)
    assert [e["type"] for e in stack.events("bericht.geparkeerd")] == ["bericht.geparkeerd"]


def test_retries_stop_after_the_partys_count(corv_stack: CorvStack) -> None:
    stack = corv_stack
    _behave(stack, fail_5xx=100)
    created = stack.accepted_vto(vto_body("ZAAK-EXP"))
    detail = stack.wait_vto(created["id"], "expired")
    bericht = stack.get(f"/api/v1/berichten/{detail['bericht']['id']}")
    assert bericht["attempts"] == 1 + 3  # the test party allows 3 retries


@pytest.mark.parametrize("when", ["after_the_5xx", "while_in_flight"])
def test_a_standalone_acknowledgment_ends_the_retries(database_url: str, tmp_path: Path, when: str) -> None:
    """The ack ends the retries whether it comes after the attempt's 5xx (the message is
    queued for its retry) or while the attempt is still waiting for the hub's answer."""
    gateway_port = free_port()
    with mock_hub(gateway_port) as mock:
        in_flight = when == "while_in_flight"
        mock.put(
            "/_mock/corv/behaviour", json={"fail_5xx": 100, "delay_s": 1.0 if in_flight else 0}
        ).raise_for_status()
        corv = corv_settings(str(mock.base_url).rstrip("/"))
        corv["parties"][0]["retry_interval_s"] = 3600.0
        with gateway_only(database_url, tmp_path, port=gateway_port, corv=corv) as stack:
            created = stack.accepted_vto(vto_body("ZAAK-ASYNC-ACK"))
            sent = stack.wait_vto(created["id"], "sent")
            expected_state = "sending" if in_flight else "queued"
            _wait_for(lambda: stack.vto(created["id"])["bericht"]["state"] == expected_state)
            with stack.runtime.sessions() as session:
                outbound = session.scalars(
                    select(CorvOutbound).where(CorvOutbound.ebms_message_id == sent["ebms_message_id"])
                ).one()
            ours = MessageHeader(
                from_party=GEMEENTE_OIN,
                to_party=CORV_OIN,
                cpa_id=outbound.cpa_id,
                conversation_id=outbound.conversation_id,
                action="vtoDi01",
                message_id=outbound.ebms_message_id,
                timestamp=datetime.now(UTC),
                service=CORV_SERVICE,
            )
            content_type, body = build_ack(ours)
            response = stack.api.post(
                "/corv/ebms", content=body, headers={"Content-Type": content_type, "SOAPAction": '"ebXML"'}
            )
            assert (response.status_code, response.content) == (200, b"")
            detail = stack.wait_vto(created["id"], "acknowledged")
            assert detail["bericht"]["state"] == "delivered"
            assert detail["bericht"]["attempts"] == 1
            bericht_id = detail["bericht"]["id"]
            # The attempt's own 5xx, answered later, changes nothing: it is logged, not applied.
            _wait_for(lambda: len(stack.get(f"/api/v1/berichten/{bericht_id}")["attempt_log"]) == 1)
            bericht = stack.get(f"/api/v1/berichten/{bericht_id}")
            assert (bericht["state"], bericht["attempts"]) == ("delivered", 1)
            # (its 5xx, or a timeout when the delayed answer outlasts the test's send timeout)
            assert [a["outcome"] for a in bericht["attempt_log"]] in (["retryable"], ["unknown"])


def _wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_gateway_restart_mid_conversation_loses_nothing(database_url: str, tmp_path: Path) -> None:
    gateway_port = free_port()
    with mock_hub(gateway_port) as mock:
        mock_url = str(mock.base_url).rstrip("/")
        mock.put("/_mock/corv/behaviour", json={"fail_5xx": 1000}).raise_for_status()
        corv = corv_settings(mock_url)
        corv["parties"][0].update(retries=50, retry_interval_s=0.5)  # not expired across the restart
        with gateway_only(database_url, tmp_path, port=gateway_port, corv=corv) as first:
            created = first.accepted_vto(vto_body("ZAAK-RESTART"))
            first.wait_vto(created["id"], "sent")
            ebms_message_id = first.vto(created["id"])["ebms_message_id"]
        mock.delete("/_mock/corv/behaviour").raise_for_status()
        # while the gateway is down the hub sends a zorgmelding: it keeps trying until we are back
        answers: list[dict[str, Any]] = []
        sender = threading.Thread(
            target=lambda: answers.append(mock.post("/_mock/corv/send/zorgmelding", json={}).json())
        )
        sender.start()
        with gateway_only(database_url, tmp_path, port=gateway_port, corv=corv) as second:
            detail = second.wait_vto(created["id"], "accepted")
            assert detail["ebms_message_id"] == ebms_message_id
            sender.join(timeout=30)
            assert answers and answers[0]["answer_berichtcode"] == "Bv01"
            [melding] = second.get("/api/v1/corv/zorgmeldingen", status="open")["items"]
            response = second.api.post(
                f"/api/v1/corv/zorgmeldingen/{melding['id']}/terugkoppeling",
                json={"resultaat": "geen_actie_nodig", "contactpersoon": "P. de Vries"},
                headers=AUTH,
            )
            assert response.status_code == 200, response.text
            second.wait_events("corv.terugkoppeling.geaccepteerd")
        seen = _received(mock, ebms_message_id)
        assert seen["processed"] == 1


def test_a_synchronous_fo03_rejects_the_vto_like_a_fo01(database_url: str, tmp_path: Path) -> None:
    """A hub answering ack + Fo03 in the same response (the contract allows it): rejected, event."""
    from fastapi import Response

    hub = FastAPI()

    @hub.post("/corv/ebms")
    async def ebms(request: Request) -> Response:
        with parse_ebms(request.headers["content-type"], await request.body()) as received:
            assert received.header is not None and received.payload is not None
            vto = parse_stuf(received.payload.read())
            answer = render_answer(
                fo03(vto.stuurgegevens, Fout("StUF058", "bericht kan niet verwerkt worden"))
            )
            content_type, body = build_ack(received.header, stuf_answer=answer)
        return Response(body, 200, headers={"Content-Type": content_type})

    with live_server(hub) as hub_url, gateway_only(database_url, tmp_path, mock_url=hub_url) as stack:
        created = stack.accepted_vto(vto_body("ZAAK-FO03"))
        detail = stack.wait_vto(created["id"], "rejected")
        assert detail["fout"] == {"code": "StUF058", "omschrijving": "bericht kan niet verwerkt worden"}
        assert detail["bericht"]["attempts"] == 1
        [event] = stack.wait_events("corv.vto.afgewezen")
        assert (event["data"]["soort"], event["data"]["code"]) == ("fo03", "StUF058")


def test_a_resend_streams_the_same_bytes_from_the_encrypted_chunks(database_url: str, tmp_path: Path) -> None:
    """A 2.5 MB document: several 1 MB chunks, each encrypted on its own; both sends identical."""
    import hashlib

    from sqlalchemy import text

    from gateway.encryption import is_encrypted
    from tests.gateway.corv_stack import PDF

    bodies: list[bytes] = []
    hub = FastAPI()

    @hub.post("/corv/ebms")
    async def ebms(request: Request) -> Response:
        body = await request.body()
        bodies.append(body)
        if len(bodies) == 1:
            return Response(status_code=503)  # no ErrorList: the gateway sends it again
        with parse_ebms(request.headers["content-type"], body) as received:
            assert received.header is not None
            content_type, ack = build_ack(received.header)
        return Response(ack, 200, headers={"Content-Type": content_type})

    document = PDF + bytes(range(256)) * 10_000  # ~2.5 MB, 3.4 MB as base64
    with live_server(hub) as hub_url, gateway_only(database_url, tmp_path, mock_url=hub_url) as stack:
        created = stack.accepted_vto(vto_body("ZAAK-RESEND"), {"doc1": document})
        detail = stack.wait_vto(created["id"], "acknowledged")
        assert detail["bericht"]["attempts"] == 2
        with stack.runtime.sessions() as session:
            outbound = session.get(CorvOutbound, detail["bericht"]["id"])
            assert outbound is not None
            raw_chunks = session.execute(
                text("SELECT data FROM corv_wire_chunks WHERE message_id = :id ORDER BY seq"),
                {"id": outbound.message_id},
            ).all()
    first, second = bodies
    assert first == second
    assert (len(first), hashlib.sha256(first).hexdigest()) == (outbound.wire_size, outbound.wire_sha256)
    assert len(raw_chunks) == -(-outbound.wire_size // (1024 * 1024)) >= 4
    assert all(is_encrypted(bytes(row.data)) for row in raw_chunks)
    encoded = first[first.index(b"JVBERi0xLjQK") :][:64]  # the document, base64, as sent
    assert all(encoded not in bytes(row.data) for row in raw_chunks)
