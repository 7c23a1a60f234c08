"""Scopes per law on the verzoeken, PGB and bulk routes (over loopback HTTP, both databases).

A client with write access for one law must not write the other law there, and a
client that may read one law sees only that law's verzoeken and budgets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from gateway.api_keys import create_client
from gateway.app import create_app
from gateway.bsn import keyed_hash
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import Beschikking, InboundMessage, Message, Verzoek
from tests.conftest import BSN, beschikking_body, make_settings
from tests.live_server import live_server

WMO_PRODUCT = {
    "categorie": "02",
    "code": "02A01",
    "aanbieder_agb": "99990002",
    "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
}
WMO_PGB = {
    "categorie": "02",
    "code": "02A01",
    "leveringsvorm": "PGB",
    "hulpverlener": "zelfstandige",
    "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
}


@dataclass
class Api:
    runtime: Runtime
    http: httpx.Client

    def key(self, name: str, *scopes: str) -> dict[str, str]:
        with transaction(self.runtime.sessions) as session:
            _client, key = create_client(session, name, list(scopes), self.runtime.clock.now())
        return {"X-API-Key": key}

    def count(self, model: Any) -> int:
        with self.runtime.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    runtime = Runtime.create(make_settings(database_url, tmp_path))
    try:
        with live_server(create_app(runtime)) as url, httpx.Client(base_url=url, timeout=10) as http:
            yield Api(runtime, http)
    finally:
        runtime.close()


def jeugdwet_verzoek(api: Api) -> int:
    """An open VOT under the Jeugdwet, as the inbound 315 handling leaves it."""
    now = datetime.now(UTC)
    with transaction(api.runtime.sessions) as session:
        inbound = InboundMessage(
            party="ggk",
            operation="ggk_Di01",
            message_type="JW315",
            law="jeugdwet",
            status="accepted",
            body=b"<Envelope/>",
            received_at=now,
        )
        session.add(inbound)
        session.flush()
        verzoek = Verzoek(
            law="jeugdwet",
            soort="vot",
            aanbieder_agb="99990001",
            referentie_aanbieder="VZ-SCOPE-1",
            bsn=BSN,
            bsn_hash=keyed_hash(BSN, api.runtime.settings.hash_key),
            inbound_id=inbound.id,
            status="open",
            inhoud={"producten": []},
            received_at=now,
        )
        session.add(verzoek)
        session.flush()
        return verzoek.id


def test_verzoeken_of_one_law_are_not_answered_or_seen_with_the_other_laws_scopes(api: Api) -> None:
    verzoek_id = jeugdwet_verzoek(api)
    wmo = api.key("wmo-bo", "wmo:write", "wmo:read")
    for action, body in (
        ("afwijzen", {"reden_afwijzing": "3"}),
        ("in-onderzoek", None),
        ("toekennen", {"beschikking": beschikking_body()}),
    ):
        response = api.http.post(f"/api/v1/verzoeken/{verzoek_id}/{action}", json=body, headers=wmo)
        assert response.status_code == 403, (action, response.text)
        assert response.json()["detail"] == "This needs the scope 'jeugdwet:write'."
    with api.runtime.sessions() as session:
        verzoek = session.get(Verzoek, verzoek_id)
        assert verzoek is not None and (verzoek.status, verzoek.answer_message_id) == ("open", None)
    assert api.count(Message) == 0 and api.count(Beschikking) == 0

    assert api.http.get("/api/v1/verzoeken", headers=wmo).json()["items"] == []
    assert api.http.get(f"/api/v1/verzoeken/{verzoek_id}", headers=wmo).status_code == 403
    jeugd_reader = api.key("jeugd-reader", "jeugdwet:read")
    assert [v["id"] for v in api.http.get("/api/v1/verzoeken", headers=jeugd_reader).json()["items"]] == [
        verzoek_id
    ]
    assert api.http.get(f"/api/v1/verzoeken/{verzoek_id}", headers=jeugd_reader).status_code == 200


def test_pgb_budgets_are_read_only_with_their_laws_scope(api: Api) -> None:
    writer = api.key("wmo-bo", "wmo:write", "wmo:read")
    body = beschikking_body(wet="wmo", producten=[WMO_PGB])
    body["client"] = {**body["client"], "geboortedatum": "1950-01-15"}  # type: ignore[dict-item]
    created = api.http.post("/api/v1/beschikkingen", json=body, headers=writer)
    assert created.status_code == 201, created.text
    nummer = created.json()["toewijzingen"][0]["toewijzingnummer"]

    jeugd = api.key("jeugd-bo", "jeugdwet:write", "jeugdwet:read")
    assert api.http.get(f"/api/v1/toewijzingen/{nummer}/pgb", headers=jeugd).status_code == 403
    found = api.http.post("/api/v1/pgb/zoeken", json={"bsn": BSN}, headers=jeugd)
    assert found.status_code == 200 and found.json()["budgetten"] == []
    asked = api.http.post("/api/v1/pgb/zoeken", json={"bsn": BSN, "wet": "wmo"}, headers=jeugd)
    assert asked.status_code == 403

    assert api.http.get(f"/api/v1/toewijzingen/{nummer}/pgb", headers=writer).status_code == 200
    mine = api.http.post("/api/v1/pgb/zoeken", json={"bsn": BSN}, headers=writer).json()["budgetten"]
    assert [b["toewijzingnummer"] for b in mine] == [nummer]


def test_bulk_intake_refuses_the_lines_of_a_law_the_client_may_not_write(api: Api) -> None:
    jeugd = api.key("jeugd-bo", "jeugdwet:write", "jeugdwet:read")
    wmo_line = beschikking_body(wet="wmo", producten=[WMO_PRODUCT], beschikkingnummer="BULK-WMO-1")
    jeugd_line = beschikking_body(beschikkingnummer="BULK-JW-1")
    ndjson = "".join(json.dumps(line) + "\n" for line in (wmo_line, jeugd_line))
    response = api.http.post(
        "/api/v1/beschikkingen/bulk",
        content=ndjson.encode(),
        headers={**jeugd, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [(line.get("line"), line.get("status")) for line in lines[:2]] == [
        (1, "rejected"),
        (2, "accepted"),
    ]
    assert lines[0]["problem"]["status"] == 403
    assert lines[0]["problem"]["detail"] == "This needs the scope 'wmo:write'."
    assert lines[-1]["summary"]["accepted"] == 1 and lines[-1]["summary"]["rejected"] == 1
    with api.runtime.sessions() as session:
        assert list(session.scalars(select(Beschikking.beschikkingnummer))) == ["BULK-JW-1"]
