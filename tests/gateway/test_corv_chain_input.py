"""Bad input from the chain side of /corv/ebms: precise ebMS/StUF errors, nothing processed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from connectors.corv import Stuurgegevens, Systeem, Zorgmelding, render_zorgmelding
from connectors.ebms import MessageHeader, MessageKind, Payload, build_user_message, parse_message
from gateway.store.corv_tables import CorvInbound, CorvReceived, CorvZorgmelding
from gateway.store.tables import Event
from tests.gateway.corv_stack import CORV_OIN, GEMEENTE_OIN, CorvStack, gateway_only, running_corv_stack

EBXML = {"SOAPAction": '"ebXML"'}


def _zorgmelding(referentienummer: str = "CORV-test-0001") -> bytes:
    from datetime import UTC, date, datetime

    return render_zorgmelding(
        Zorgmelding(
            stuurgegevens=Stuurgegevens(
                zender=Systeem(organisatie=CORV_OIN, applicatie="CORV"),
                ontvanger=Systeem(organisatie=GEMEENTE_OIN, applicatie="gemeente"),
                referentienummer=referentienummer,
                tijdstip=datetime.now(UTC),
                functie="zorgmeldingDi01",
            ),
            kenmerk="ZM-TEST-1",
            contactpersoon="Agent B.",
            document=b"%PDF-1.4 melding",
            document_creatiedatum=date(2026, 11, 28),
            extra={"aanleiding": "Huiselijke situatie"},
            initiator="Politie",
        )
    )


def _post(
    stack: CorvStack, from_party: str, to_party: str = GEMEENTE_OIN, cpa_id: str = "CPA-CORV-0637"
) -> Any:
    header = MessageHeader.new(
        from_party=from_party, to_party=to_party, cpa_id=cpa_id, action="zorgmeldingDi01"
    )
    content_type, body = build_user_message(header, [Payload(_zorgmelding())])
    return stack.api.post("/corv/ebms", content=body, headers={**EBXML, "Content-Type": content_type})


def _error_code(response: Any) -> str:
    with parse_message(response.headers["content-type"], response.content) as answer:
        assert answer.kind is MessageKind.ERROR
        return answer.errors[0].code


def _processed_nothing(stack: CorvStack) -> None:
    with stack.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CorvZorgmelding)) == 0
        assert session.scalar(select(func.count()).select_from(CorvReceived)) == 0
        assert session.scalar(select(func.count()).select_from(Event)) == 0
        assert set(session.scalars(select(CorvInbound.status))) <= {"invalid"}


def test_unknown_oins_and_broken_messages_get_a_message_error(database_url: str, tmp_path: Path) -> None:
    with gateway_only(database_url, tmp_path) as stack:
        unknown_from = _post(stack, "00000099000000009999")
        assert _error_code(unknown_from) == "ValueNotRecognized"
        assert _error_code(_post(stack, CORV_OIN, to_party="00000099000000000001")) == "ValueNotRecognized"
        assert _error_code(_post(stack, CORV_OIN, cpa_id="CPA-OTHER")) == "ValueNotRecognized"
        broken = stack.api.post(
            "/corv/ebms",
            content=b"--b\r\nContent-Type: text/xml\r\n\r\n<not-closed",
            headers={**EBXML, "Content-Type": 'multipart/related; type="text/xml"; boundary=b'},
        )
        assert _error_code(broken) == "MimeProblem"
        no_type = stack.api.post("/corv/ebms", content=b"hello", headers=EBXML)
        assert _error_code(no_type) == "MimeProblem"
        _processed_nothing(stack)
        with stack.runtime.sessions() as session:
            assert session.scalar(select(func.count()).select_from(CorvInbound)) == 5


def test_a_payload_failing_its_xsd_gets_fo03_stuf055(database_url: str, tmp_path: Path) -> None:
    with running_corv_stack(database_url, tmp_path) as stack:
        assert stack.mock is not None
        stuf = _zorgmelding().replace(b"<ZKN:bron>Zorgmelding</ZKN:bron>", b"<ZKN:onbekend/>").decode()
        answer = stack.mock.post(
            "/_mock/corv/send/raw", json={"stuf": stuf, "action": "zorgmeldingDi01"}
        ).json()
        assert (answer["status"], answer["answer_berichtcode"], answer["answer_code"]) == (
            "acked",
            "Fo03",
            "StUF055",
        )
        with stack.runtime.sessions() as session:
            assert session.scalar(select(func.count()).select_from(CorvZorgmelding)) == 0
            assert session.scalar(select(func.count()).select_from(Event)) == 0
            assert session.scalars(select(CorvInbound.status)).all() == ["invalid"]


def test_hostile_payloads_are_refused_and_store_nothing(database_url: str, tmp_path: Path) -> None:
    """The CORV side of tests/gateway/test_hostile_xml.py: entities, XXE and deep nesting in
    the StUF payload are answered StUF055 without being expanded, followed or stored."""
    zorgmelding = _zorgmelding().decode()
    body_start = zorgmelding.index("<ZKN:bron>")
    hostile = {
        "xxe": zorgmelding.replace(
            "<?xml version='1.0' encoding='UTF-8'?>",
            "<?xml version='1.0' encoding='UTF-8'?><!DOCTYPE x SYSTEM 'file:///etc/passwd'>",
        ),
        "deep": zorgmelding[:body_start] + "<a>" * 80 + "</a>" * 80 + zorgmelding[body_start:],
    }
    assert hostile["xxe"] != zorgmelding
    with running_corv_stack(database_url, tmp_path) as stack:
        assert stack.mock is not None
        for name, stuf in hostile.items():
            answer = stack.mock.post(
                "/_mock/corv/send/raw", json={"stuf": stuf, "action": "zorgmeldingDi01"}
            ).json()
            assert (answer["status"], answer["answer_code"]) == ("acked", "StUF055"), name
        with stack.runtime.sessions() as session:
            assert session.scalar(select(func.count()).select_from(CorvZorgmelding)) == 0
            assert session.scalar(select(func.count()).select_from(Event)) == 0


def _stuf_answer(response: Any) -> str:
    """The StUF answer's berichtcode/foutcode carried with the ebMS acknowledgement."""
    with parse_message(response.headers["content-type"], response.content) as answer:
        assert answer.kind is MessageKind.ACK
        assert answer.payload is not None
        stuf = answer.payload.read()
    for code in ("StUF016", "Fo03", "Bv01"):
        if code.encode() in stuf:
            return code
    raise AssertionError(stuf[:300])


def test_message_ids_are_remembered_for_the_partys_retry_window_then_the_stuf_reference_still_counts(
    database_url: str, tmp_path: Path
) -> None:
    """The ebMS MessageId is kept (1 + retries) x interval (here 4 x 0.2 s); after that a
    late copy is processed again, and the StUF layer (zender + referentienummer) refuses it
    with StUF016, so it is still not taken twice."""
    with gateway_only(database_url, tmp_path) as stack:
        header = MessageHeader.new(
            from_party=CORV_OIN, to_party=GEMEENTE_OIN, cpa_id="CPA-CORV-0637", action="zorgmeldingDi01"
        )
        content_type, body = build_user_message(header, [Payload(_zorgmelding("CORV-window-1"))])

        def send() -> Any:
            return stack.api.post("/corv/ebms", content=body, headers={**EBXML, "Content-Type": content_type})

        sent_at = stack.runtime.clock.now()
        assert _stuf_answer(send()) == "Bv01"
        with stack.runtime.sessions() as session:
            remembered = session.get(CorvReceived, header.message_id)
            assert remembered is not None
            # counted from arrival: at least the window after we sent it, and not much more
            expires_at = remembered.expires_at
            window = (expires_at - sent_at).total_seconds()
            assert 0.8 <= window < 5, window
        assert _stuf_answer(send()) == "Bv01"  # within the window: the stored answer, not processed
        time.sleep(max(0.0, (expires_at - stack.runtime.clock.now()).total_seconds()) + 0.05)
        assert _stuf_answer(_post(stack, CORV_OIN)) == "Bv01"  # any later message prunes expired ids
        with stack.runtime.sessions() as session:
            assert session.get(CorvReceived, header.message_id) is None
        assert _stuf_answer(send()) == "StUF016"  # processed again, refused by the StUF reference
        with stack.runtime.sessions() as session:
            assert session.scalar(select(func.count()).select_from(CorvZorgmelding)) == 2
            statuses = session.scalars(select(CorvInbound.status).order_by(CorvInbound.id)).all()
            assert statuses == ["accepted", "accepted", "duplicate"]
