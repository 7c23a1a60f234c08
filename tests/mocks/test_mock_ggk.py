"""The mock GGk and its aanbieders, over real loopback HTTP.

A small FastAPI app stands in for the gateway's inbound SOAP endpoint: it records what
the mock posts back (Du01 retours, Fo01s) and answers Bv03, or fails on demand.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from connectors.ggk import (
    GGK_SYSTEEM,
    Heenbericht,
    Retourbericht,
    Systeem,
    new_referentienummer,
    parse_envelope,
    parse_fo01,
    parse_soap_request,
    parse_soap_response,
    render_bv03,
    render_di01,
    render_du01,
    render_fo01,
    soap_headers,
    soap_request,
)
from connectors.istandaard import Law, parse_toewijzing_retour, render_toewijzing
from connectors.istandaard.model import (
    Adres,
    BerichtHeader,
    Client,
    Contact,
    Naam,
    Omvang,
    Product,
    ToegewezenProduct,
    Toewijzingsbericht,
)
from mocks.ggk import MOCK_AANBIEDERS, Behaviour, MockGgk, MockGgkConfig, create_app
from tests.live_server import live_server

BSN = "999900006"
GEMEENTE = Systeem(organisatie="0637", applicatie="Gemeente Gateway")


# --- the stand-in for the gateway's inbound endpoint ---------------------------------------------


@dataclass
class Receiver:
    calls: list[tuple[str, bytes]] = field(default_factory=list)
    attempts: int = 0
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: The client port of every callback: one per TCP connection the mock opened.
    ports: list[int] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/ggk/soap")
        async def inbound(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.attempts += 1
                self.ports.append(request.client.port if request.client else 0)
                if self.fail_next > 0:
                    self.fail_next -= 1
                    return Response(b"busy", status_code=503)
            parsed = parse_soap_request(body, request.headers.get("soapaction"))
            with self.lock:
                self.calls.append((parsed.operation, body))
            ref = parsed.element.findtext("{*}stuurgegevens/{*}referentienummer") or ""
            answer = render_bv03(GEMEENTE, GGK_SYSTEEM, new_referentienummer(), ref)
            return Response(answer, media_type="text/xml; charset=utf-8")

        return app

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.calls) >= count:
                    return list(self.calls)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} callbacks, got {len(self.calls)}")


@dataclass
class Setup:
    base_url: str
    receiver: Receiver
    mock: MockGgk
    http: httpx.Client

    def send(self, h: Heenbericht, *, timeout: float = 10.0) -> httpx.Response:
        body, headers = soap_request(render_di01(h), "ggk_Di01")
        return self.http.post(f"{self.base_url}/ggk/soap", content=body, headers=headers, timeout=timeout)

    def behave(self, **rule: object) -> None:
        response = self.http.put(f"{self.base_url}/_mock/behaviour", json=rule)
        assert response.status_code == 200, response.text

    def received(self) -> list[dict[str, object]]:
        listing: list[dict[str, object]] = self.http.get(f"{self.base_url}/_mock/received").json()
        return listing

    def record(self, ref: str, outcome: str | None = None, timeout: float = 10.0) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.received() if r["referentienummer"] == ref]
            if found and (outcome is None or found[0]["outcome"] == outcome):
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no record {ref} with outcome {outcome}: {found}")
            time.sleep(0.02)


@pytest.fixture
def ggk() -> Iterator[Setup]:
    receiver = Receiver()
    with live_server(receiver.app()) as receiver_url:
        config = MockGgkConfig(
            callback_url=f"{receiver_url}/ggk/soap",
            retour_delay_s=0.05,
            callback_backoff_s=0.05,
            callback_attempts=5,
        )
        app = create_app(config)
        with live_server(app) as base_url, httpx.Client() as http:
            yield Setup(base_url, receiver, app.state.ggk, http)


# --- test messages --------------------------------------------------------------------------------


def product(nummer: int) -> ToegewezenProduct:
    return ToegewezenProduct(
        toewijzingnummer=nummer,
        toewijzingsdatum=date(2026, 4, 1),
        toewijzingstijd=clock(12, 0, 0),
        ingangsdatum=date(2026, 4, 1),
        einddatum=date(2026, 12, 31),
        product=Product(categorie="45", code="45A08"),
        omvang=Omvang(volume=3, eenheid="04", frequentie="2"),
    )


def jw301(agb: str = "99990001", identificatie: str = "TW2026000001") -> bytes:
    return render_toewijzing(
        Toewijzingsbericht(
            header=BerichtHeader(
                law=Law.JEUGDWET,
                afzender="0637",
                ontvanger=agb,
                identificatie=identificatie,
                dagtekening=date(2026, 4, 1),
            ),
            client=Client(
                bsn=BSN,
                geboortedatum=date(2012, 1, 1),
                geslacht="1",
                naam=Naam(achternaam="Berg", voorletters="J"),
                contacten=(
                    Contact(
                        soort="01",
                        adres=Adres(
                            huisnummer=12, postcode="2711AB", straatnaam="Markt", plaatsnaam="Zoetermeer"
                        ),
                    ),
                ),
            ),
            producten=(product(300201), product(300202)),
        )
    )


def di01(agb: str = "99990001", payload: bytes | None = None, ref: str | None = None) -> Heenbericht:
    return Heenbericht(
        zender=GEMEENTE,
        ontvanger=Systeem(agb),
        referentienummer=ref or new_referentienummer(),
        tijdstip=datetime.now(),
        functie="JW301",
        payload=payload if payload is not None else jw301(agb),
        referentienummer_bericht="TW2026000001",
    )


def retour_of(body: bytes) -> Retourbericht:
    inbound = parse_soap_request(body, None)
    assert inbound.operation == "ggk_Du01"
    envelope = parse_envelope(inbound.element)
    assert isinstance(envelope, Retourbericht)
    return envelope


# --- the happy path --------------------------------------------------------------------------------


def test_accept_gives_bv03_then_a_valid_jw302_in_a_du01(ggk: Setup) -> None:
    h = di01()
    response = ggk.send(h)
    assert response.status_code == 200
    assert parse_soap_response(response.status_code, response.content).kind == "bv03"

    ((_, body),) = ggk.receiver.wait_for(1)
    du01 = retour_of(body)
    assert du01.cross_refnummer == h.referentienummer
    assert du01.referentienummer != h.referentienummer
    assert (du01.functie, du01.zender.organisatie) == ("JW302", "99990001")
    assert du01.ontvanger.organisatie == "0637"
    assert du01.cross_refnummer_bericht == "TW2026000001"
    retour = parse_toewijzing_retour(du01.payload)
    assert retour.header.identificatie == "TW2026000001"
    assert retour.identificatie_retour == du01.referentienummer_bericht
    assert retour.all_codes() == ()

    record = ggk.record(h.referentienummer, "retour_sent")
    assert record["functie"] == "JW301" and record["ontvanger"] == "99990001" and record["times_seen"] == 1
    assert record["retour_referentienummer"] == du01.referentienummer
    assert BSN not in json.dumps(ggk.received())


def test_reject_at_product_level_carries_the_codes_per_product(ggk: Setup) -> None:
    ggk.behave(mode="reject", level="product", retourcodes=["9332"])
    ggk.send(di01())
    ((_, body),) = ggk.receiver.wait_for(1)
    retour = parse_toewijzing_retour(retour_of(body).payload)
    assert retour.product_codes == {300201: ("9332",), 300202: ("9332",)}
    assert retour.client_codes == ("0200",)


def test_reject_at_header_level_defaults_to_0001(ggk: Setup) -> None:
    ggk.behave(mode="reject")
    ggk.send(di01())
    ((_, body),) = ggk.receiver.wait_for(1)
    retour = parse_toewijzing_retour(retour_of(body).payload)
    assert retour.header_codes == ("0001",)


def test_payload_failing_its_xsd_gets_an_async_fo01_stuf055(ggk: Setup) -> None:
    broken = jw301().replace(b">436<", b">999<")  # BerichtCode outside its code list
    h = di01(payload=broken)
    assert ggk.send(h).status_code == 200  # the GGk does not look inside the payload
    ((operation, body),) = ggk.receiver.wait_for(1)
    assert operation == "Fo01"
    fo01 = parse_fo01(body)
    assert (fo01.code, fo01.cross_ref, fo01.zender.organisatie) == ("StUF055", h.referentienummer, "99990001")
    assert fo01.details == "JW301-00010000"
    assert BSN.encode() not in body
    ggk.record(h.referentienummer, "fo01_sent:StUF055")


def test_no_retour_accepts_and_stays_silent(ggk: Setup) -> None:
    ggk.behave(mode="no_retour")
    h = di01()
    assert parse_soap_response(*_status_body(ggk.send(h))).kind == "bv03"
    time.sleep(0.4)
    assert ggk.receiver.calls == []
    assert ggk.record(h.referentienummer)["outcome"] == "no_retour"


# --- failures of the GGk itself ----------------------------------------------------------------------


def test_fail_answers_503_and_does_not_take_the_message(ggk: Setup) -> None:
    ggk.behave(mode="fail", times=1)
    h = di01()
    first = ggk.send(h)
    assert first.status_code == 503
    answer = parse_soap_response(*_status_body(first))
    assert answer.kind == "fault" and answer.retryable
    # The re-send with the same referentienummer is not a duplicate: the first was never taken in.
    second = ggk.send(h)
    assert parse_soap_response(*_status_body(second)).kind == "bv03"
    ggk.receiver.wait_for(1)
    assert ggk.record(h.referentienummer, "retour_sent")["times_seen"] == 2


def test_fail_with_another_status(ggk: Setup) -> None:
    ggk.behave(mode="fail", status=502)
    assert ggk.send(di01()).status_code == 502


def test_ggk_error_ib103_is_a_retryable_fo03(ggk: Setup) -> None:
    ggk.behave(mode="ggk_error", ggk_code="IB103", times=1)
    response = ggk.send(di01())
    answer = parse_soap_response(*_status_body(response))
    assert (response.status_code, answer.kind, answer.code, answer.retryable) == (500, "fo03", "IB103", True)
    assert parse_soap_response(*_status_body(ggk.send(di01()))).kind == "bv03"  # the rule ran out


def test_ggk_error_other_codes_are_permanent(ggk: Setup) -> None:
    ggk.behave(mode="ggk_error", ggk_code="IB102")
    answer = parse_soap_response(*_status_body(ggk.send(di01())))
    assert (answer.code, answer.retryable) == ("IB102", False)


def test_timeout_accepts_then_answers_late_and_a_resend_is_ib016(ggk: Setup) -> None:
    ggk.behave(mode="timeout", delay_s=1.0, times=1)
    h = di01()
    with pytest.raises(httpx.ReadTimeout):
        ggk.send(h, timeout=0.3)
    ((_, body),) = ggk.receiver.wait_for(1)  # the retour follows all the same
    assert retour_of(body).cross_refnummer == h.referentienummer
    resend = parse_soap_response(*_status_body(ggk.send(h)))
    assert (resend.kind, resend.code, resend.retryable) == ("fo03", "IB016", False)
    assert ggk.http.get(f"{ggk.base_url}/_mock/stats").json()["duplicates_seen"] == 1


def test_duplicate_referentienummer_is_ib016_and_counted(ggk: Setup) -> None:
    h = di01()
    assert parse_soap_response(*_status_body(ggk.send(h))).kind == "bv03"
    for _ in range(2):
        answer = parse_soap_response(*_status_body(ggk.send(h)))
        assert (answer.kind, answer.code) == ("fo03", "IB016")
    assert ggk.record(h.referentienummer)["times_seen"] == 3
    assert ggk.http.get(f"{ggk.base_url}/_mock/stats").json()["duplicates_seen"] == 2
    ggk.receiver.wait_for(1)  # the retour of the first (slow on a loaded machine)
    time.sleep(0.3)
    assert len(ggk.receiver.calls) == 1  # one retour, not three


# --- envelope checks ---------------------------------------------------------------------------------


def test_bad_envelope_is_rin001(ggk: Setup) -> None:
    body, headers = soap_request(render_di01(di01()), "ggk_Di01")
    broken = body.replace(b"<GGK:functieVersie>0003<", b"<GGK:functieVersie>3<")
    response = ggk.http.post(f"{ggk.base_url}/ggk/soap", content=broken, headers=headers)
    answer = parse_soap_response(response.status_code, response.content)
    assert (response.status_code, answer.kind, answer.code) == (500, "fo03", "RIN001")


def test_not_xml_is_rin001(ggk: Setup) -> None:
    response = ggk.http.post(f"{ggk.base_url}/ggk/soap", content=b"hello", headers={"SOAPAction": "x"})
    assert parse_soap_response(response.status_code, response.content).code == "RIN001"


def test_referentienummer_not_uuid4_is_ib009(ggk: Setup) -> None:
    answer = parse_soap_response(*_status_body(ggk.send(di01(ref="123456789012"))))
    assert answer.code == "IB009"


def test_unknown_aanbieder_is_ib210(ggk: Setup) -> None:
    answer = parse_soap_response(*_status_body(ggk.send(di01(agb="12345678"))))
    assert answer.code == "IB210"


# --- steering and callbacks ----------------------------------------------------------------------------


def test_rules_for_one_aanbieder_leave_the_others_alone(ggk: Setup) -> None:
    ggk.behave(mode="ggk_error", ggk_code="IB102", agb="99990002")
    assert parse_soap_response(*_status_body(ggk.send(di01(agb="99990002")))).code == "IB102"
    assert parse_soap_response(*_status_body(ggk.send(di01(agb="99990001")))).kind == "bv03"


def test_rules_can_be_set_in_code(ggk: Setup) -> None:
    ggk.mock.rules.set(Behaviour(mode="fail", times=1))
    assert ggk.send(di01()).status_code == 503
    assert ggk.send(di01()).status_code == 200


def test_callback_is_retried_while_the_gateway_is_down(ggk: Setup) -> None:
    ggk.receiver.fail_next = 2
    h = di01()
    ggk.send(h)
    ggk.receiver.wait_for(1)
    assert ggk.receiver.attempts == 3
    ggk.record(h.referentienummer, "retour_sent")


def test_callbacks_share_a_few_kept_alive_connections(ggk: Setup) -> None:
    """One client for all callbacks (a client each cost ~80% of the mock's CPU in the round-trip bench)."""
    sent = [di01() for _ in range(24)]
    with ThreadPoolExecutor(8) as pool:
        assert all(r.status_code == 200 for r in pool.map(ggk.send, sent))
    ggk.receiver.wait_for(len(sent))
    for h in sent:
        ggk.record(h.referentienummer, "retour_sent")
    assert len(ggk.receiver.ports) == len(sent)
    assert len(set(ggk.receiver.ports)) <= 8 < len(sent)  # at most 8 posts at once, connections reused


def test_answers_from_the_gemeente_are_taken_with_bv03(ggk: Setup) -> None:
    du01 = Retourbericht(
        zender=GEMEENTE,
        ontvanger=Systeem("99990001"),
        referentienummer=new_referentienummer(),
        cross_refnummer=new_referentienummer(),
        tijdstip=datetime.now(),
        functie="JW306",
        payload=b"<x/>",
    )
    body, headers = soap_request(render_du01(du01), "ggk_Du01")
    response = ggk.http.post(f"{ggk.base_url}/ggk/soap", content=body, headers=headers)
    assert parse_soap_response(*_status_body(response)).kind == "bv03"
    fo01_body = render_fo01(
        "StUF055",
        "client",
        "payload",
        zender=GEMEENTE,
        ontvanger=Systeem("99990001"),
        cross_ref=new_referentienummer(),
    )
    response = ggk.http.post(f"{ggk.base_url}/ggk/soap", content=fo01_body, headers=soap_headers("Fo01"))
    assert parse_soap_response(*_status_body(response)).kind == "bv03"
    outcomes = sorted(str(r["outcome"]) for r in ggk.received())
    assert outcomes == ["accepted", "accepted:StUF055"]
    time.sleep(0.2)
    assert ggk.receiver.calls == []  # nobody answers an answer


def test_reset_health_and_invalid_rules(ggk: Setup) -> None:
    ggk.behave(mode="fail")
    ggk.send(di01())
    assert ggk.http.post(f"{ggk.base_url}/_mock/reset").status_code == 200
    assert ggk.received() == []
    assert ggk.send(di01()).status_code == 200
    health = ggk.http.get(f"{ggk.base_url}/_mock/health").json()
    assert health["status"] == "ok" and health["aanbieders"] == MOCK_AANBIEDERS
    bad = ggk.http.put(f"{ggk.base_url}/_mock/behaviour", json={"mode": "explode"})
    assert bad.status_code == 422


def _status_body(response: httpx.Response) -> tuple[int, bytes]:
    return response.status_code, response.content
