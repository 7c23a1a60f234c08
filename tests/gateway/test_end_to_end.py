"""A decision travels to the mock GGk and its retour comes back - over real HTTP,
on SQLite and PostgreSQL, with the mock misbehaving in each way the chain can."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from connectors.ggk import (
    Retourbericht,
    Systeem,
    new_referentienummer,
    render_du01,
    render_fo01,
    soap_request,
)
from connectors.istandaard import parse_toewijzing, parse_toewijzing_retour, render_toewijzing_retour
from gateway.outbox import enqueue_ggk_heenbericht
from gateway.store.database import transaction
from gateway.store.tables import InboundMessage, Message
from tests.conftest import AUTH, beschikking_body
from tests.gateway.stack import Stack, running_stack
from tests.live_server import free_port


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(database_url, tmp_path) as running:
        yield running


def _post_one(stack: Stack) -> int:
    message_id: int = stack.post_beschikking(beschikking_body())["berichten"][0]["id"]
    return message_id


def test_decision_is_delivered_and_answered_with_a_jw302(stack: Stack) -> None:
    started = time.monotonic()
    message_id = _post_one(stack)
    detail = stack.wait_for_state(message_id, "answered")
    elapsed = time.monotonic() - started
    assert detail["retour_codes"] == []
    assert [a["outcome"] for a in detail["attempt_log"]] == ["delivered"]
    assert detail["answer"]["type"] == "JW302"
    retour = stack.api.get(f"/api/v1/berichten/{message_id}/retour", headers=AUTH)
    assert retour.status_code == 200
    parsed = parse_toewijzing_retour(retour.content)
    assert parsed.header.identificatie == detail["bericht_identificatie"]
    assert parsed.header_codes == ()
    sent = stack.api.get(f"/api/v1/berichten/{message_id}/payload", headers=AUTH)
    assert parse_toewijzing(sent.content).header.ontvanger == "99990001"
    types = [e["type"] for e in stack.events()]
    assert types == ["beschikking.geaccepteerd", "bericht.afgeleverd", "retour.ontvangen"]
    assert elapsed < 15  # the real figure is printed by the Quickstart benchmark, not asserted here


def test_product_level_rejection_is_stored_per_toewijzing(stack: Stack) -> None:
    stack.behave(mode="reject", level="product", retourcodes=["8001"])
    result = stack.post_beschikking(beschikking_body())
    detail = stack.wait_for_state(result["berichten"][0]["id"], "rejected")
    number = result["toewijzingen"][0]["toewijzingnummer"]
    assert [t["toewijzingnummer"] for t in detail["answer"]["toewijzingen"]] == [number]
    codes = [c["code"] for c in detail["answer"]["toewijzingen"][0]["retour_codes"]]
    assert codes == ["8001"]
    assert all(c["betekenis"] for c in detail["retour_codes"])
    event = next(e for e in stack.events() if e["type"] == "retour.ontvangen")
    assert event["data"]["refused"] is True


def test_header_rejection_0001(stack: Stack) -> None:
    stack.behave(mode="reject", level="header")
    detail = stack.wait_for_state(_post_one(stack), "rejected")
    assert [c["code"] for c in detail["retour_codes"]] == ["0001"]


def test_503_is_retried_until_delivered(stack: Stack) -> None:
    stack.behave(mode="fail", status=503, times=2)
    detail = stack.wait_for_state(_post_one(stack), "answered")
    assert [a["outcome"] for a in detail["attempt_log"]] == ["retryable", "retryable", "delivered"]
    assert [a["http_status"] for a in detail["attempt_log"]] == [503, 503, 200]


def test_ggk_temporarily_blocked_ib103_is_retried(stack: Stack) -> None:
    stack.behave(mode="ggk_error", ggk_code="IB103", times=1)
    detail = stack.wait_for_state(_post_one(stack), "answered")
    assert [(a["outcome"], a["code"]) for a in detail["attempt_log"]] == [
        ("retryable", "IB103"),
        ("delivered", None),
    ]


def test_permanent_ggk_error_parks_the_message_at_once(stack: Stack) -> None:
    stack.behave(mode="ggk_error", ggk_code="IB002")
    detail = stack.wait_for_state(_post_one(stack), "parked")
    assert [(a["outcome"], a["code"]) for a in detail["attempt_log"]] == [("permanent", "IB002")]
    assert "IB002" in detail["last_error"]
    assert "bericht.geparkeerd" in [e["type"] for e in stack.events()]


def test_timeout_after_acceptance_resends_same_ids_and_counts_as_delivered(
    database_url: str, tmp_path: Path
) -> None:
    # The mock accepts the message but answers after the gateway's 2 s send timeout; the
    # aanbieder's retour follows only after 4 s, so the gateway must re-send first.
    with running_stack(database_url, tmp_path, retour_delay_s=4) as stack:
        stack.behave(mode="timeout", delay_s=3, times=1)
        message_id = _post_one(stack)
        stack.wait_for_state(message_id, "delivered", timeout_s=20)
        detail = stack.wait_for_state(message_id, "answered", timeout_s=20)
        received = stack.mock.get("/_mock/received").json()
        duplicates = stack.mock.get("/_mock/stats").json()["duplicates_seen"]
    outcomes = [(a["outcome"], a["code"]) for a in detail["attempt_log"]]
    assert outcomes[0] == ("unknown", None)
    assert outcomes[-1] == ("delivered", "IB016")  # the GGk already had it: same referentienummer
    mine = [r for r in received if r["referentienummer"] == detail["referentienummer"]]
    assert len(mine) == 1 and mine[0]["times_seen"] == 2
    assert duplicates == 1


def test_a_retour_that_overtakes_a_timed_out_send_settles_the_message(stack: Stack) -> None:
    # Accepted, Bv03 delayed past the send timeout, but the retour arrives first: the
    # message is answered and the late "unknown" attempt must not re-queue it.
    stack.behave(mode="timeout", delay_s=3, times=1)
    message_id = _post_one(stack)
    stack.wait_for_state(message_id, "answered")
    deadline = time.monotonic() + 10
    while not stack.bericht(message_id)["attempt_log"] and time.monotonic() < deadline:
        time.sleep(0.1)
    detail = stack.bericht(message_id)
    assert detail["state"] == "answered"
    assert [a["outcome"] for a in detail["attempt_log"]] == ["unknown"]
    assert stack.mock.get("/_mock/stats").json()["duplicates_seen"] == 0


def test_unreachable_partner_is_retried_then_expires(database_url: str, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/ggk/soap"
    with running_stack(
        database_url,
        tmp_path,
        ggk_url=closed,
        retry={
            "initial_delay_s": 0.05,
            "multiplier": 2,
            "max_delay_s": 0.2,
            "jitter_s": 0,
            "horizon_days": 1 / 86400,
        },
    ) as stack:
        detail = stack.wait_for_state(_post_one(stack), "expired")
    assert len(detail["attempt_log"]) >= 2
    assert {a["outcome"] for a in detail["attempt_log"]} == {"retryable"}
    assert "not sent" in detail["last_error"]


def test_payload_failing_its_xsd_comes_back_as_fo01_stuf055(stack: Stack) -> None:
    runtime = stack.runtime
    broken = b'<?xml version="1.0" encoding="UTF-8"?><jw301:Bericht xmlns:jw301="http://www.istandaarden.nl/ijw/3_2/jw301/schema"/>'
    with transaction(runtime.sessions) as session:
        message = enqueue_ggk_heenbericht(
            session,
            runtime,
            functie="JW301",
            law="jeugdwet",
            receiver="99990001",
            render_payload=lambda _ident: broken,
            beschikking_id=None,
            bsn_hash=None,
        )
        message_id = message.id
    stack.worker.wake()
    detail = stack.wait_for_state(message_id, "rejected")
    assert [c["code"] for c in detail["retour_codes"]] == ["StUF055"]
    assert "bericht.afgewezen" in [e["type"] for e in stack.events()]


def _du01(cross_ref: str, payload: bytes, referentienummer: str | None = None) -> bytes:
    envelope = render_du01(
        Retourbericht(
            zender=Systeem("99990001", "MockAanbieder"),
            ontvanger=Systeem("0637", "GGk"),
            referentienummer=referentienummer or new_referentienummer(),
            cross_refnummer=cross_ref,
            tijdstip=datetime.now(UTC).replace(tzinfo=None),
            functie="JW302",
            payload=payload,
        )
    )
    body, _headers = soap_request(envelope, "ggk_Du01")
    return body


def _post_soap(stack: Stack, body: bytes, operation: str = "ggk_Du01") -> httpx.Response:
    from connectors.ggk import soap_headers

    return stack.api.post("/ggk/soap", content=body, headers=soap_headers(operation))  # type: ignore[arg-type]


def _retour_for(stack: Stack, message_id: int) -> bytes:
    with stack.runtime.sessions() as session:
        message = session.get(Message, message_id)
        assert message is not None
        heen = parse_toewijzing(message.payload)
    return render_toewijzing_retour(heen, identificatie_retour="R1", dagtekening_retour=datetime.now().date())


def test_retour_for_an_unknown_message_is_stored_unmatched(stack: Stack) -> None:
    stack.behave(mode="no_retour")
    message_id = _post_one(stack)
    stack.wait_for_state(message_id, "delivered")
    unknown_ref = str(uuid.uuid4())
    response = _post_soap(stack, _du01(unknown_ref, _retour_for(stack, message_id)))
    assert response.status_code == 200
    assert b"Bv03Bericht" in response.content
    with stack.runtime.sessions() as session:
        inbound = session.scalars(
            select(InboundMessage).where(InboundMessage.cross_refnummer == unknown_ref)
        ).one()
        assert inbound.status == "unmatched" and inbound.matched_message_id is None
    assert "inbound.niet_gekoppeld" in [e["type"] for e in stack.events()]
    assert stack.bericht(message_id)["state"] == "delivered"


def test_a_repeated_du01_is_processed_once(stack: Stack) -> None:
    stack.behave(mode="no_retour")
    message_id = _post_one(stack)
    detail = stack.wait_for_state(message_id, "delivered")
    body = _du01(
        detail["referentienummer"], _retour_for(stack, message_id), referentienummer=str(uuid.uuid4())
    )
    assert _post_soap(stack, body).status_code == 200
    assert _post_soap(stack, body).status_code == 200
    assert stack.bericht(message_id)["state"] == "answered"
    with stack.runtime.sessions() as session:
        rows = session.scalars(
            select(InboundMessage).where(InboundMessage.matched_message_id == message_id)
        ).all()
    assert len(rows) == 1
    assert [e["type"] for e in stack.events()].count("retour.ontvangen") == 1


def test_invalid_retour_payload_is_refused_with_stuf055_and_kept(stack: Stack) -> None:
    stack.behave(mode="no_retour")
    message_id = _post_one(stack)
    detail = stack.wait_for_state(message_id, "delivered")
    response = _post_soap(stack, _du01(detail["referentienummer"], b"<niet-een-jw302/>"))
    assert response.status_code == 500
    assert b"StUF055" in response.content
    with stack.runtime.sessions() as session:
        inbound = session.scalars(
            select(InboundMessage).where(InboundMessage.matched_message_id == message_id)
        ).one()
        assert inbound.status == "invalid" and inbound.error is not None and "StUF055" in inbound.error
    assert stack.bericht(message_id)["state"] == "delivered"


def test_a_repeated_invalid_du01_is_acknowledged_and_kept_once(stack: Stack) -> None:
    stack.behave(mode="no_retour")
    message_id = _post_one(stack)
    detail = stack.wait_for_state(message_id, "delivered")
    body = _du01(detail["referentienummer"], b"<niet-een-jw302/>", referentienummer=str(uuid.uuid4()))
    assert _post_soap(stack, body).status_code == 500  # StUF055, and stored as invalid
    again = _post_soap(stack, body)
    assert again.status_code == 200 and b"Bv03Bericht" in again.content  # seen before: acknowledged
    with stack.runtime.sessions() as session:
        rows = session.scalars(
            select(InboundMessage).where(InboundMessage.matched_message_id == message_id)
        ).all()
    assert [r.status for r in rows] == ["invalid"]
    assert stack.bericht(message_id)["state"] == "delivered"


def test_garbage_on_the_soap_endpoint_is_a_fo03_rin001(stack: Stack) -> None:
    response = stack.api.post("/ggk/soap", content=b"<soap:Envelope", headers={"SOAPAction": "x"})
    assert response.status_code == 500
    assert b"RIN001" in response.content
    with stack.runtime.sessions() as session:
        assert session.scalars(select(InboundMessage.status)).all() == ["invalid"]


def test_fo01_for_our_message_rejects_it(stack: Stack) -> None:
    stack.behave(mode="no_retour")
    message_id = _post_one(stack)
    detail = stack.wait_for_state(message_id, "delivered")
    body = render_fo01(
        "StUF055",
        "client",
        "Berichtbody is niet conform schema",
        zender=Systeem("IB", "GGKWebservice"),
        ontvanger=Systeem("0637", "GGk"),
        cross_ref=detail["referentienummer"],
    )
    assert _post_soap(stack, body, "Fo01").status_code == 200
    assert stack.bericht(message_id)["state"] == "rejected"
