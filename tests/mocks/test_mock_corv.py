"""The mock CORV hub over real loopback HTTP, with a stand-in for the gateway."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.corv import (
    Kind,
    Notificatie,
    Notificatiejr,
    Persoon,
    StufAnswer,
    Zorgmelding,
    parse_message,
    render_terugkoppeling,
    render_vto_bytes,
)
from connectors.ebms import (
    ACK_ACTION,
    MessageHeader,
    MessageKind,
    Payload,
    build_user_message,
)
from connectors.ebms import (
    parse_message as parse_ebms,
)
from mocks.corv import UNKNOWN_CHILD_BSN
from tests.corv_samples import CORV_OIN, GEMEENTE_OIN, terugkoppeling, vto
from tests.mocks.corv_gateway_stand_in import Setup, serve_mock, wait_for


@pytest.fixture
def hub() -> Iterator[Setup]:
    with serve_mock() as setup:
        yield setup


def _message(stuf: bytes, action: str, *, from_party: str = GEMEENTE_OIN, cpa_id: str = "CPA-CORV-0637"):  # type: ignore[no-untyped-def]
    header = MessageHeader.new(
        from_party=from_party, to_party=CORV_OIN, cpa_id=cpa_id, action=action, host="gw"
    )
    content_type, body = build_user_message(header, [Payload(stuf)])
    return header, content_type, body


def _answer(response: Any) -> tuple[MessageKind, str | None, StufAnswer | None]:
    with parse_ebms(response.headers["content-type"], response.content) as message:
        stuf = message.payload.read() if message.payload is not None else None
        answer = parse_message(stuf) if stuf else None
        assert answer is None or isinstance(answer, StufAnswer)
        return message.kind, message.acked_message_id, answer


def _received(hub: Setup) -> dict[str, dict[str, Any]]:
    listing = hub.control("GET", "received")
    return {r["message_id"]: r for r in listing["received"]}


def test_correct_vto_gets_ack_and_bv01(hub: Setup) -> None:
    header, content_type, body = _message(render_vto_bytes(vto(referentienummer="REF-OK")), "vtoDi01")
    response = hub.post_ebms(content_type, body)
    assert response.status_code == 200
    kind, acked, answer = _answer(response)
    assert (kind, acked) == (MessageKind.ACK, header.message_id)
    assert answer is not None and answer.berichtcode == "Bv01"
    assert answer.stuurgegevens.cross_refnummer == "REF-OK"
    record = _received(hub)[header.message_id]
    assert (record["deliveries"], record["processed"], record["outcome"]) == (1, 1, "bv01")
    vtos = hub.control("GET", "vtos")
    assert vtos[0]["zaak_identificatie"] == "ZAAK-2026-0001"


EXPECTED_FO01 = {"behaviour": "CORV02", "unknown_child": "CORV03", "xsd_error": "StUF055"}


@pytest.mark.parametrize("trigger", sorted(EXPECTED_FO01))
def test_incorrect_vto_gets_ack_now_and_fo01_later(hub: Setup, trigger: str) -> None:
    stuf = render_vto_bytes(vto(referentienummer="REF-BAD"))
    if trigger == "behaviour":
        hub.control("PUT", "behaviour", json={"reject_vtos": 1, "reject_code": "CORV02"})
    elif trigger == "unknown_child":
        stuf = render_vto_bytes(
            vto(referentienummer="REF-BAD", kinderen=(Kind(Persoon(bsn=UNKNOWN_CHILD_BSN)),))
        )
    else:
        stuf = stuf.replace(b"Client (kind)", b"Client (kat)")
    header, content_type, body = _message(stuf, "vtoDi01")
    kind, acked, answer = _answer(hub.post_ebms(content_type, body))
    assert (kind, acked, answer) == (MessageKind.ACK, header.message_id, None)
    wait_for(lambda: hub.gateway.of_action("Fo01"), "the asynchronous Fo01")
    delivery = hub.gateway.of_action("Fo01")[0]
    assert delivery.header.ref_to_message_id == header.message_id
    assert delivery.header.conversation_id == header.conversation_id
    fo01 = parse_message(delivery.stuf)
    assert isinstance(fo01, StufAnswer) and fo01.berichtcode == "Fo01"
    assert fo01.stuurgegevens.cross_refnummer == "REF-BAD"
    assert fo01.fout is not None and fo01.fout.code == EXPECTED_FO01[trigger]
    wait_for(lambda: hub.control("GET", "sent")[0]["status"] == "acked", "the Fo01 acked")


def test_duplicate_message_id_gets_the_same_ack_and_is_processed_once(hub: Setup) -> None:
    header, content_type, body = _message(render_vto_bytes(vto()), "vtoDi01")
    first, second = hub.post_ebms(content_type, body), hub.post_ebms(content_type, body)
    assert first.content == second.content
    record = _received(hub)[header.message_id]
    assert (record["deliveries"], record["processed"]) == (2, 1)
    assert len(hub.control("GET", "vtos")) == 1


def test_dropped_acks_make_the_sender_retry_and_the_hub_sees_the_vto_once(hub: Setup) -> None:
    hub.control("PUT", "behaviour", json={"drop_acks": 2})
    header, content_type, body = _message(render_vto_bytes(vto()), "vtoDi01")
    statuses = [hub.post_ebms(content_type, body).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    record = _received(hub)[header.message_id]
    assert (record["deliveries"], record["processed"]) == (3, 1)


def test_same_referentienummer_under_a_new_message_id_is_fo03_stuf016(hub: Setup) -> None:
    stuf = render_vto_bytes(vto(referentienummer="REF-TWICE"))
    _, content_type, body = _message(stuf, "vtoDi01")
    hub.post_ebms(content_type, body)
    header, content_type, body = _message(stuf, "vtoDi01")
    kind, acked, answer = _answer(hub.post_ebms(content_type, body))
    assert (kind, acked) == (MessageKind.ACK, header.message_id)
    assert answer is not None and answer.berichtcode == "Fo03"
    assert answer.fout is not None and answer.fout.code == "StUF016"
    assert answer.stuurgegevens.cross_refnummer == "REF-TWICE"


def test_terugkoppeling_is_accepted_with_bv01(hub: Setup) -> None:
    _, content_type, body = _message(render_terugkoppeling(terugkoppeling()), "zorgmeldingTerugkoppelingDi01")
    kind, _, answer = _answer(hub.post_ebms(content_type, body))
    assert kind is MessageKind.ACK and answer is not None and answer.berichtcode == "Bv01"
    assert hub.control("GET", "terugkoppelingen")[0]["resultaat"] == "Geen actie nodig"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"from_party": "00000099000000009999"}, "ValueNotRecognized"),
        ({"cpa_id": "CPA-OTHER"}, "ValueNotRecognized"),
    ],
)
def test_unknown_party_or_cpa_is_a_message_error(hub: Setup, change: dict[str, str], code: str) -> None:
    _, content_type, body = _message(render_vto_bytes(vto()), "vtoDi01", **change)
    with parse_ebms(
        *(lambda r: (r.headers["content-type"], r.content))(hub.post_ebms(content_type, body))
    ) as m:
        assert m.kind is MessageKind.ERROR and m.errors[0].code == code


def test_malformed_multipart_is_mime_problem(hub: Setup) -> None:
    _, content_type, body = _message(render_vto_bytes(vto()), "vtoDi01")
    response = hub.post_ebms(content_type, body[: len(body) // 2])
    with parse_ebms(response.headers["content-type"], response.content) as m:
        assert m.kind is MessageKind.ERROR and m.errors[0].code == "MimeProblem"
    assert hub.control("GET", "received")["refusals"][0]["code"] == "MimeProblem"


def test_oversized_body_is_refused_precisely() -> None:
    with serve_mock(max_body_bytes=20_000) as hub:
        big = vto(documenten=(dataclasses.replace(vto().documenten[0], content=b"x" * 30_000),))
        _, content_type, body = _message(render_vto_bytes(big), "vtoDi01")
        response = hub.post_ebms(content_type, body)
        with parse_ebms(response.headers["content-type"], response.content) as m:
            assert m.kind is MessageKind.ERROR and m.errors[0].code == "NotSupported"
            assert "limit of 20000" in m.errors[0].description


def test_faults_message_error_and_5xx(hub: Setup) -> None:
    hub.control("PUT", "behaviour", json={"message_errors": 1, "fail_5xx": 1})
    assert hub.control("GET", "behaviour")["fail_5xx"] == 1
    _, content_type, body = _message(render_vto_bytes(vto()), "vtoDi01")
    assert hub.post_ebms(content_type, body).status_code == 503  # 5xx first, nothing taken in
    assert _received(hub) == {}
    with parse_ebms(
        *(lambda r: (r.headers["content-type"], r.content))(hub.post_ebms(content_type, body))
    ) as m:
        assert m.kind is MessageKind.ERROR
    kind, _, answer = _answer(hub.post_ebms(content_type, body))
    assert kind is MessageKind.ACK and answer is not None and answer.berichtcode == "Bv01"
    assert hub.control("DELETE", "behaviour")["message_errors"] == 0


def test_notificatie_series_for_a_vto_zaak(hub: Setup) -> None:
    results = hub.control("POST", "send/notificaties", json={"zaak_identificatie": "ZAAK-2026-0001"})
    assert [(r["status"], r["answer_berichtcode"]) for r in results] == [("acked", "Bv01")] * 3
    notificaties = [parse_message(d.stuf) for d in hub.gateway.of_action("notificatieDi01")]
    assert all(isinstance(n, Notificatie) for n in notificaties)
    assert [n.status for n in notificaties] == ["Intake afgerond", "Onderzoek afgerond", "Zaak afgerond"]  # type: ignore[union-attr]
    assert {n.gemeente_zaak_identificatie for n in notificaties} == {"ZAAK-2026-0001"}  # type: ignore[union-attr]
    assert notificaties[-1].resultaat == "Maatregel opgelegd"  # type: ignore[union-attr]


def test_ambtshalve_notificatiejr_and_zorgmelding(hub: Setup) -> None:
    assert hub.control("POST", "send/ambtshalve", json={})["answer_berichtcode"] == "Bv01"
    ambtshalve = parse_message(hub.gateway.of_action("notificatieDi01")[0].stuf)
    assert isinstance(ambtshalve, Notificatie) and ambtshalve.gemeente_zaak_identificatie is None
    assert hub.control("POST", "send/notificatiejr", json={"toezichtsoort": "13"})["status"] == "acked"
    jr = parse_message(hub.gateway.of_action("notificatiejrDi01")[0].stuf)
    assert isinstance(jr, Notificatiejr) and jr.toezichtsoort == "13"
    sent = hub.control("POST", "send/zorgmelding", json={"kenmerk": "ZM-1"})
    assert sent["answer_berichtcode"] == "Bv01"
    assert isinstance(parse_message(hub.gateway.of_action("zorgmeldingDi01")[0].stuf), Zorgmelding)


def test_duplicate_resends(hub: Setup) -> None:
    hub.control("POST", "send/zorgmelding", json={})
    same_id = hub.control("POST", "send/duplicate", json={"mode": "same_message_id"})
    assert same_id["answer_berichtcode"] == "Bv01"  # the gateway's stored answer again
    deliveries = hub.gateway.of_action("zorgmeldingDi01")
    assert deliveries[0].header.message_id == deliveries[1].header.message_id
    same_ref = hub.control("POST", "send/duplicate", json={"mode": "same_referentienummer"})
    assert (same_ref["answer_berichtcode"], same_ref["answer_code"]) == ("Fo03", "StUF016")
    assert hub.gateway.of_action("zorgmeldingDi01")[2].header.message_id != deliveries[0].header.message_id


def test_hub_retries_until_acked_and_stops_on_a_message_error(hub: Setup) -> None:
    hub.gateway.drop_next = 2
    sent = hub.control("POST", "send/notificatiejr", json={})
    assert (sent["status"], sent["attempts"]) == ("acked", 3)
    ids = {d.header.message_id for d in hub.gateway.of_action("notificatiejrDi01")}
    assert len(ids) == 1  # same MessageId on every attempt
    hub.gateway.refuse_next = 1
    sent = hub.control("POST", "send/notificatiejr", json={})
    assert (sent["status"], sent["attempts"], sent["ebms_error"]) == ("refused", 1, "ValueNotRecognized")


def test_async_ack_from_the_gateway_is_taken(hub: Setup) -> None:
    header = MessageHeader.new(from_party=CORV_OIN, to_party=GEMEENTE_OIN, cpa_id="CPA-CORV-0637", action="x")
    from connectors.ebms import build_ack

    content_type, body = build_ack(header)
    response = hub.post_ebms(content_type, body)
    assert (response.status_code, response.content) == (200, b"")
    assert ACK_ACTION == "Acknowledgment"
