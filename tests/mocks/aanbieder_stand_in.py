"""A stand-in for the gateway, and aanbieder messages as JSON, for the mock aanbieder's tests.

The stand-in records the Di01s the mock sends it and answers Bv03 (or IB016 for a
referentienummer it already took), records the Du01s and Fo01s the mock posts back, and
the test can post a retour back to the mock the way the gateway's outbox would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

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
    render_fo03_fault,
    soap_request,
)
from connectors.istandaard import (
    Law,
    parse_declaratie,
    parse_start,
    parse_stop,
    parse_vot,
    parse_vow,
    render_antwoord,
)
from connectors.istandaard.model import BerichtHeader
from connectors.istandaard.model_inbound import Antwoordbericht
from mocks.ggk import MockGgkConfig, create_app
from tests.live_server import live_server

BSN = "999900006"
BSN_2 = "999900018"
AGB = "99990001"
GEMEENTE = Systeem(organisatie="0637", applicatie="Gemeente Gateway")
BOTH_LAWS = pytest.mark.parametrize("law", [Law.JEUGDWET, Law.WMO])


# --- the stand-in for the gateway --------------------------------------------------------------------


@dataclass
class Gateway:
    """Takes what the gateway's ``/ggk/soap`` takes and records it.

    A Di01 is answered Bv03, or IB016 when its referentienummer was seen before; a Du01
    (the mock's 320) and a Fo01 are answered Bv03.
    """

    di01s: list[tuple[str | None, Heenbericht]] = field(default_factory=list)
    du01s: list[Retourbericht] = field(default_factory=list)
    fo01s: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/ggk/soap")
        async def inbound(request: Request) -> Response:
            parsed = parse_soap_request(await request.body(), request.headers.get("soapaction"))
            if parsed.operation == "Fo01":
                with self.lock:
                    self.fo01s += 1
                return self._bv03(parse_fo01(parsed.element).referentienummer)
            envelope = parse_envelope(parsed.element)
            ref = envelope.referentienummer
            if isinstance(envelope, Retourbericht):
                with self.lock:
                    self.du01s.append(envelope)
                return self._bv03(ref)
            with self.lock:
                seen = any(h.referentienummer == ref for _, h in self.di01s)
                self.di01s.append((request.headers.get("soapaction"), envelope))
            if seen:
                fault = render_fo03_fault("IB016", "client", ref, ontvanger=envelope.zender, cross_ref=ref)
                return Response(fault, status_code=500, media_type="text/xml")
            return self._bv03(ref)

        return app

    def _bv03(self, ref: str) -> Response:
        answer = render_bv03(GEMEENTE, GGK_SYSTEEM, new_referentienummer(), ref)
        return Response(answer, media_type="text/xml; charset=utf-8")

    def last(self) -> Heenbericht:
        with self.lock:
            return self.di01s[-1][1]

    def wait_for_du01(self, timeout: float = 10) -> Retourbericht:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.du01s:
                    return self.du01s[0]
            time.sleep(0.02)
        raise AssertionError("no Du01 arrived")


@dataclass
class Setup:
    base_url: str
    gateway: Gateway
    http: httpx.Client

    def send(self, functie: str, agb: str = AGB, **request: Any) -> httpx.Response:
        return self.http.post(
            f"{self.base_url}/_mock/aanbieder/{agb}/send", json={"functie": functie, **request}, timeout=10
        )

    def sent_ok(self, functie: str, **request: Any) -> tuple[dict[str, Any], Heenbericht]:
        response = self.send(functie, **request)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        assert (result["answer"], result["status_code"], result["code"]) == ("bv03", 200, None)
        return result, self.gateway.last()

    def post_du01(self, heen: Heenbericht, functie: str, payload: bytes) -> None:
        """Answer ``heen`` as the gateway's outbox does: a Du01 to the aanbieder, crossRef = its Di01."""
        du01 = Retourbericht(
            zender=GEMEENTE,
            ontvanger=Systeem(heen.zender.organisatie),
            referentienummer=new_referentienummer(),
            cross_refnummer=heen.referentienummer,
            tijdstip=datetime.now(),
            functie=functie,
            payload=payload,
            cross_refnummer_bericht=heen.referentienummer_bericht,
        )
        body, headers = soap_request(render_du01(du01), "ggk_Du01")
        self._post_soap(body, headers)

    def post_di01(self, h: Heenbericht) -> None:
        self._post_soap(*soap_request(render_di01(h), "ggk_Di01"))

    def _post_soap(self, body: bytes, headers: Mapping[str, str]) -> None:
        response = self.http.post(f"{self.base_url}/ggk/soap", content=body, headers=dict(headers))
        assert parse_soap_response(response.status_code, response.content).kind == "bv03", response.text

    def retour(self, ref: str) -> httpx.Response:
        return self.http.get(f"{self.base_url}/_mock/aanbieder/retouren/{ref}")

    def get(self, path: str) -> Any:
        response = self.http.get(f"{self.base_url}{path}")
        assert response.status_code == 200, response.text
        return response.json()


@contextmanager
def serve_mock() -> Iterator[Setup]:
    """The mock GGk on loopback, its ``callback_url`` pointing at a :class:`Gateway` stand-in."""
    gateway = Gateway()
    with live_server(gateway.app()) as gateway_url:
        config = MockGgkConfig(
            callback_url=f"{gateway_url}/ggk/soap", retour_delay_s=0.05, callback_backoff_s=0.05
        )
        with live_server(create_app(config)) as base_url, httpx.Client() as http:
            yield Setup(base_url, gateway, http)


# --- messages as JSON, shaped like the model dataclasses -----------------------------------------------


def product(law: Law) -> dict[str, str]:
    return (
        {"categorie": "45", "code": "45A08"} if law is Law.JEUGDWET else {"categorie": "02", "code": "02A03"}
    )


CLIENT = {
    "bsn": BSN,
    "geboortedatum": "2012-01-01",
    "geslacht": "2",
    "naam": {"achternaam": "Çelik", "voorvoegsel": "van", "voorletters": "A"},
}


def start_json(law: Law) -> dict[str, Any]:
    return {
        "client": CLIENT,
        "producten": [
            {
                "toewijzingnummer": 300201,
                "product": product(law),
                "toewijzing_ingangsdatum": "2026-04-01",
                "begindatum": "2026-04-03",
                "status_aanlevering": "1",
            },
            {"toewijzingnummer": 300202, "begindatum": "2026-04-06", "status_aanlevering": "1"},
        ],
    }


def stop_json(law: Law) -> dict[str, Any]:
    return {
        "client": CLIENT,
        "producten": [
            {
                "toewijzingnummer": 300201,
                "begindatum": "2026-04-03",
                "einddatum": "2026-07-17",
                "reden_beeindiging": "31",
                "status_aanlevering": "1",
            }
        ],
    }


def vot_json(law: Law) -> dict[str, Any]:
    return {
        "client": CLIENT,
        "gezagsdrager_bekend": "1" if law is Law.JEUGDWET else None,
        "producten": [
            {
                "referentie_aanbieder": "REF-2026-001",
                "product": product(law),
                "toewijzing_ingangsdatum": "2026-05-01",
                "omvang": {"volume": 2, "eenheid": "16", "frequentie": "2"},
                "verwijzer": {"type": "01", "naam": "huisarts"},
            }
        ],
    }


def vow_json(law: Law) -> dict[str, Any]:
    return {
        "bsn": BSN,
        "referentie_aanbieder": "WIJZ-7",
        "reden_verzoek": "2",
        "ongewijzigd": [300201],
        "te_wijzigen": [{"toewijzingnummer": 300202, "gewenste_ingangsdatum": "2026-05-01", "budget": 5000}],
        "nieuw": [{"product": product(law), "gewenste_ingangsdatum": "2026-06-01", "budget": 250_000}],
    }


def prestatie_json(law: Law, referentie: str, toewijzing: int, volume: int) -> dict[str, Any]:
    p = product(law)
    return {
        "referentienummer": referentie,
        "toewijzingnummer": toewijzing,
        "categorie": p["categorie"],
        "productcode": p["code"],
        "periode_begin": "2026-04-01",
        "periode_eind": "2026-04-30",
        "geleverd_volume": volume,
        "eenheid": "04",
        "product_tarief": 6_500,
        "ingediend_bedrag": {"bedrag": volume * 6_500},
    }


def declaratie_json(law: Law) -> dict[str, Any]:
    return {
        "declaratienummer": "DN2026004",
        "periode_begin": "2026-04-01",
        "periode_eind": "2026-04-30",
        "dagtekening": "2026-05-04",
        "totaal_ingediend": {"bedrag": 11 * 6_500, "debet_credit": "D"},
        "clienten": [
            {"bsn": BSN, "prestaties": [prestatie_json(law, "RN2026-0001", 300201, 7)]},
            {"bsn": BSN_2, "prestaties": [prestatie_json(law, "RN2026-0002", 300202, 4)]},
        ],
    }


MESSAGES: dict[int, tuple[Callable[[Law], dict[str, Any]], Callable[[bytes], Any]]] = {
    305: (start_json, parse_start),
    307: (stop_json, parse_stop),
    315: (vot_json, parse_vot),
    317: (vow_json, parse_vow),
    323: (declaratie_json, parse_declaratie),
}


def jw319_di01(law: Law = Law.JEUGDWET, agb: str = AGB) -> Heenbericht:
    payload = render_antwoord(
        Antwoordbericht(
            header=BerichtHeader(
                law=law, afzender="0637", ontvanger=agb, identificatie="AW0001", dagtekening=date.today()
            ),
            referentie_aanbieder="REF-2026-001",
            verzoek_antwoord="1",
            reden_afwijzing="3",
        )
    )
    return Heenbericht(
        zender=GEMEENTE,
        ontvanger=Systeem(agb),
        referentienummer=new_referentienummer(),
        tijdstip=datetime.now(),
        functie=law.function_name(319),
        payload=payload,
        referentienummer_bericht="AW0001",
    )
