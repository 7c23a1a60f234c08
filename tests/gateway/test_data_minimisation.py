"""Data minimisation: each chain party gets only the personal fields its message needs.

docs/security.md lists, per message, which fields go to whom and why. These tests check
the two places where the gateway holds more than a message may carry: the CAK (WMO405)
gets identity only - no address, telephone, e-mail, referrer or the gemeente's
remarks - and a JW301 carries only the client it is about.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gateway.app import create_app
from gateway.runtime import Runtime
from gateway.store.tables import Message
from tests.conftest import AUTH, BSN, beschikking_body
from tests.live_server import live_server

CONTACT_DETAILS = {"telefoon": "0791234567", "emailadres": "sanne.jansen@example.org"}


@pytest.fixture
def api(runtime: Runtime) -> Iterator[httpx.Client]:
    with live_server(create_app(runtime)) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield client


def _payloads(runtime: Runtime) -> dict[str, bytes]:
    with runtime.sessions() as session:
        return {m.message_type: m.payload for m in session.scalars(select(Message).order_by(Message.id))}


def test_the_cak_gets_identity_and_provision_only(api: httpx.Client, runtime: Runtime) -> None:
    body: dict[str, Any] = copy.deepcopy(beschikking_body(wet="wmo", commentaar="Let op: hond in huis"))
    body["client"].update(CONTACT_DETAILS)
    body["verwijzer"] = {"type": "01", "naam": "Wijkteam Noord"}
    body["producten"] = [
        {
            "categorie": "02",
            "code": "02A01",
            "aanbieder_agb": "99990001",
            "omvang": {"volume": 3, "eenheid": "04", "frequentie": "2"},
        }
    ]
    response = api.post("/api/v1/beschikkingen", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    payloads = _payloads(runtime)
    assert set(payloads) >= {"WMO301", "WMO405"}
    to_cak = payloads["WMO405"]
    assert BSN.encode() in to_cak and b"Jansen" in to_cak and b"2014-03-21" in to_cak
    for not_needed in (b"2711AA", b"Markt", b"0791234567", b"example.org", b"hond", b"Wijkteam"):
        assert not_needed not in to_cak, not_needed
    # The aanbieder delivering care at home does get the address and the contact details.
    to_aanbieder = payloads["WMO301"]
    assert b"2711AA" in to_aanbieder and b"0791234567" in to_aanbieder


def test_a_301_carries_only_its_own_client(api: httpx.Client, runtime: Runtime) -> None:
    first = beschikking_body()
    second: dict[str, Any] = copy.deepcopy(beschikking_body())
    second["client"]["bsn"] = "999900018"
    second["client"]["naam"] = {"achternaam": "Bakker", "voorletters": "P"}
    for body in (first, second):
        assert api.post("/api/v1/beschikkingen", json=body, headers=AUTH).status_code == 201
    with runtime.sessions() as session:
        messages = session.scalars(select(Message).where(Message.message_type == "JW301")).all()
    by_bsn = {m.payload.count(b"999900018") > 0: m.payload for m in messages}
    assert b"Jansen" not in by_bsn[True] and BSN.encode() not in by_bsn[True]
    assert b"Bakker" not in by_bsn[False] and b"999900018" not in by_bsn[False]


def test_no_internal_field_leaves_the_gateway_in_any_message(api: httpx.Client, runtime: Runtime) -> None:
    """The aanbieder (WMO301), the SVB (WMO458 TKB) and the CAK (WMO405) for one ZIN + PGB
    decision: none gets the gebiedsteam, the keyed BSN hash or the API client; the SVB, like
    the CAK, gets no contact details, referrer or the gemeente's remarks."""
    body: dict[str, Any] = copy.deepcopy(
        beschikking_body(wet="wmo", commentaar="Let op: hond in huis", gebiedsteam="Team-Noord-Geheim")
    )
    body["client"].update(CONTACT_DETAILS, geboortedatum="1948-02-02")
    body["client"]["vertegenwoordiger"] = {
        "naam": {"achternaam": "Jansen", "voorletters": "K"},
        "relatie": "bewindvoerder",
    }
    body["verwijzer"] = {"type": "01", "naam": "Wijkteam Noord"}
    body["producten"] = [
        {
            "categorie": "02",
            "code": "02A01",
            "aanbieder_agb": "99990001",
            "omvang": {"volume": 3, "eenheid": "04", "frequentie": "2"},
        },
        {
            "categorie": "03",
            "code": "03A01",
            "leveringsvorm": "PGB",
            "hulpverlener": "zelfstandige",
            "omvang": {"volume": 3, "eenheid": "04", "frequentie": "2"},
        },
    ]
    response = api.post("/api/v1/beschikkingen", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    with runtime.sessions() as session:
        messages = session.scalars(select(Message).order_by(Message.id)).all()
        sent = {m.message_type: m.payload + m.wire_body for m in messages}
        bsn_hash = messages[0].bsn_hash
    assert set(sent) == {"WMO301", "WMO458", "WMO405"}
    assert bsn_hash
    for message_type, wire in sent.items():
        assert BSN.encode() in wire, message_type  # the one identifier every party needs
        for internal in (b"Team-Noord-Geheim", bsn_hash.encode(), b"test-backoffice"):
            assert internal not in wire, (message_type, internal)
    for not_needed in (b"0791234567", b"example.org", b"hond", b"Wijkteam"):
        assert not_needed not in sent["WMO458"], not_needed
