"""Shared pieces of the operations tests: operators, rows in bulk, an app on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import String, cast, insert, update

from gateway.app import create_app
from gateway.bsn import keyed_hash
from gateway.ops.operators import OperatorInfo, Role, create_operator
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import Beschikking, Message, MessageToewijzing, Toewijzing
from tests.live_server import live_server

PASSWORD = "correct horse battery staple"
BSN = "999900006"
OTHER_BSN = "999900018"


def cheap(runtime: Runtime) -> Runtime:
    """The test runtime with cheap Argon2 parameters (the production cost takes ~1 s a hash here)."""
    return with_ops_settings(runtime, password_time_cost=1, password_memory_kib=1024)


def with_ops_settings(runtime: Runtime, **ops: Any) -> Runtime:
    settings = runtime.settings.model_copy(update={"ops": runtime.settings.ops.model_copy(update=ops)})
    return Runtime(settings, runtime.engine, runtime.sessions, runtime.clock)


def operator(runtime: Runtime, name: str, role: Role) -> OperatorInfo:
    with transaction(runtime.sessions) as session:
        return create_operator(session, runtime, name, PASSWORD, role)


def three_operators(runtime: Runtime) -> dict[Role, OperatorInfo]:
    return {role: operator(runtime, f"op-{role.value}", role) for role in Role}


def wire(ref: str) -> bytes:
    return f'<Envelope xmlns="urn:x"><referentienummer>{ref}</referentienummer></Envelope>'.encode()


def payload(bsn: str = BSN) -> bytes:
    return (
        "<Bericht><Header><BerichtCode>414</BerichtCode></Header><Client>"
        f"<Bsn>{bsn}</Bsn><Geboortedatum><Datum>2014-03-21</Datum></Geboortedatum>"
        "<Naam><Geslachtsnaam><Achternaam>Jansen</Achternaam></Geslachtsnaam><Voorletters>S</Voorletters></Naam>"
        "<Adres><Straatnaam>Markt</Straatnaam><Huisnummer>1</Huisnummer><Postcode>2711AA</Postcode></Adres>"
        "<Product><Categorie>45</Categorie></Product></Client></Bericht>"
    ).encode()


def beschikking(
    runtime: Runtime, nummer: str = "JW-OPS-1", bsn: str = BSN, gebiedsteam: str | None = "Noord"
) -> int:
    with transaction(runtime.sessions) as session:
        row = Beschikking(
            law="jeugdwet",
            beschikkingnummer=nummer,
            gemeentecode="0637",
            bsn=bsn,
            bsn_hash=keyed_hash(bsn, runtime.settings.hash_key),
            client={},
            verwijzer=None,
            gebiedsteam=gebiedsteam,
            received_at=runtime.clock.now(),
        )
        session.add(row)
        session.flush()
        return row.id


def toewijzing(
    runtime: Runtime,
    beschikking_id: int,
    *,
    bsn: str = BSN,
    categorie: str = "45",
    productcode: str = "45A08",
    leveringsvorm: str = "ZIN",
    aanbieder: str = "99990001",
    toegewezen: date = date(2026, 11, 2),
) -> int:
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        row = Toewijzing(
            beschikking_id=beschikking_id,
            law="jeugdwet",
            bsn_hash=keyed_hash(bsn, runtime.settings.hash_key),
            aanbieder_agb=aanbieder,
            leveringsvorm=leveringsvorm,
            categorie=categorie,
            productcode=productcode,
            ingangsdatum=toegewezen,
            einddatum=None,
            toewijzingsdatum=toegewezen,
            toewijzingstijd=time(10),
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def insert_messages(
    runtime: Runtime,
    count: int,
    *,
    state: str = "parked",
    route: str = "ggk:99990001",
    party: str = "ggk",
    message_type: str = "JW301",
    bsn: str | None = BSN,
    beschikking_id: int | None = None,
    toewijzing_id: int | None = None,
    created_at: datetime | None = None,
    attempts: int = 1,
) -> list[int]:
    """``count`` messages in one statement (fast enough for thousands)."""
    now = created_at or runtime.clock.now()
    rows: list[dict[str, Any]] = []
    for _ in range(count):
        ref = str(uuid.uuid4())
        rows.append(
            {
                "party": party,
                "route": route,
                "message_type": message_type,
                "operation": "ggk_Di01",
                "law": "jeugdwet",
                "state": state,
                "sender": "0637",
                "receiver": route.split(":", 1)[-1],
                "referentienummer": ref,
                "bericht_identificatie": ref[:8],
                "beschikking_id": beschikking_id,
                "bsn_hash": keyed_hash(bsn, runtime.settings.hash_key) if bsn else None,
                "payload": payload(bsn or OTHER_BSN),
                "wire_body": wire(ref),
                "attempts": attempts,
                "possibly_delivered": False,
                "next_attempt_at": now if state == "queued" else None,
                "last_error": "permanent: HTTP 400" if state == "parked" else None,
                "created_at": now,
                "updated_at": now,
                "delivered_at": now + timedelta(seconds=2) if state in ("delivered", "answered") else None,
                "answered_at": now + timedelta(seconds=5) if state == "answered" else None,
            }
        )
    with transaction(runtime.sessions) as session:
        ids = list(session.scalars(insert(Message).returning(Message.id, sort_by_parameter_order=True), rows))
        session.execute(
            update(Message).where(Message.id.in_(ids)).values(bericht_identificatie=cast(Message.id, String))
        )
        if toewijzing_id is not None:
            session.execute(
                insert(MessageToewijzing), [{"message_id": i, "toewijzing_id": toewijzing_id} for i in ids]
            )
    return ids


@contextmanager
def ops_client(runtime: Runtime) -> Iterator[httpx.Client]:
    """The gateway app (no worker) on loopback, and a client for it."""
    with live_server(create_app(runtime)) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def bearer(client: httpx.Client, name: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/ops/api/v1/login", json={"name": name, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
