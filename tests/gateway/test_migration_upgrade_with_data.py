"""Upgrading a database that already holds data: every row survives and reads through the models.

The other migration tests start from an empty database. A gemeente upgrading from the
first release has beschikkingen with toewijzingen, messages with attempts, retours and
events - rows that reference each other. A migration that copies a table (SQLite's
``batch_alter_table``) must not trip over those references, and columns that became
encrypted must still give back the plaintext written before.

The rows are written with plain Core inserts into the tables as revision 0001 created
them (reflected from the database at that revision), then the database goes to head
(and, for the way back, down to 0001 again).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import MetaData, create_engine, func, insert, make_url, select, text

from gateway.api_keys import find_client
from gateway.bsn import keyed_hash
from gateway.runtime import Runtime
from gateway.store.database import create_db_engine
from gateway.store.migrate import alembic_config, current_head, upgrade
from gateway.store.tables import (
    ApiClient,
    Beschikking,
    DeliveryAttempt,
    Event,
    InboundMessage,
    Message,
    Toewijzing,
    Verzoek,
)
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, _postgres_problem, make_settings

BSN = "999900006"
OLD_KEY = "gw_oldkey01_" + "o" * 40
MOMENT = datetime(2026, 3, 2, 9, 30)  # naive UTC, as 0001's UTCDateTime columns hold it
PAYLOAD = b"<?xml version='1.0'?><JW301><Client><Bsn>999900006</Bsn></Client></JW301>"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database without any tables (the shared fixtures' are migrated to head already)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    problem = _postgres_problem()
    if problem is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"GATEWAY_REQUIRE_POSTGRES=1 but PostgreSQL is not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"gw_upgrade_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _first_release_rows() -> dict[str, list[dict[str, Any]]]:
    """Rows as the first release wrote them, in an order that satisfies the foreign keys."""
    hashed = keyed_hash(BSN, b"first-release-hash-key")
    client = {"bsn": BSN, "geboortedatum": "2015-03-01", "naam": {"geslachtsnaam": "Jansen"}}
    common_message = {
        "party": "ggk",
        "operation": "ggk_Di01",
        "law": "jeugdwet",
        "sender": "0637",
        "receiver": "99990001",
        "beschikking_id": 1,
        "bsn_hash": hashed,
        "payload": PAYLOAD,
        "wire_body": b"<soap:Envelope>" + PAYLOAD + b"</soap:Envelope>",
        "possibly_delivered": False,
        "created_at": MOMENT,
        "updated_at": MOMENT,
    }
    toewijzing = {
        "beschikking_id": 1,
        "law": "jeugdwet",
        "bsn_hash": hashed,
        "aanbieder_agb": "99990001",
        "leveringsvorm": "ZIN",
        "categorie": "45",
        "productcode": "45A01",
        "ingangsdatum": date(2026, 3, 1),
        "volume": 10,
        "eenheid": "04",
        "frequentie": "2",
        "toewijzingsdatum": date(2026, 3, 2),
        "toewijzingstijd": time(9, 30),
        "created_at": MOMENT,
        "updated_at": MOMENT,
    }
    return {
        "api_clients": [
            {
                "id": 1,
                "name": "jeugd-bo",
                "key_prefix": "oldkey01",
                "key_hash": hashlib.sha256(OLD_KEY.encode()).hexdigest(),
                "scopes": ["beschikkingen:write", "berichten:read"],
                "active": True,
                "created_at": MOMENT,
            }
        ],
        "beschikkingen": [
            {
                "id": 1,
                "law": "jeugdwet",
                "beschikkingnummer": "B-2026-0001",
                "gemeentecode": "0637",
                "bsn": BSN,
                "bsn_hash": hashed,
                "client": client,
                "verwijzer": {"type": "01", "naam": "Huisarts Test"},
                "gebiedsteam": "Noord",
                "commentaar": "Spoed gewenst",
                "api_client_id": 1,
                "received_at": MOMENT,
            }
        ],
        "toewijzingen": [
            {"id": 1, **toewijzing, "commentaar": "eerste toewijzing"},
            {"id": 2, **toewijzing, "productcode": "45A02", "commentaar": None},
        ],
        "messages": [
            {
                "id": 1,
                **common_message,
                "route": "ggk",
                "message_type": "JW301",
                "state": "answered",
                "referentienummer": "REF-0001",
                "bericht_identificatie": "TW2026000001",
                "attempts": 2,
                "last_outcome": "delivered",
                "first_attempt_at": MOMENT,
                "delivered_at": MOMENT,
                "answered_at": MOMENT,
            },
            {
                "id": 2,
                **common_message,
                "route": "ggk",
                "message_type": "JW301",
                "state": "queued",
                "referentienummer": "REF-0002",
                "bericht_identificatie": "TW2026000002",
                "attempts": 1,
                "next_attempt_at": MOMENT,
                "last_error": "retryable: ConnectError",
            },
        ],
        "delivery_attempts": [
            {
                "id": n,
                "message_id": message_id,
                "attempt_no": attempt_no,
                "worker": "worker-1",
                "started_at": MOMENT,
                "finished_at": MOMENT,
                "duration_ms": 12,
                "outcome": outcome,
                "http_status": status,
                "applied": True,
            }
            for n, (message_id, attempt_no, outcome, status) in enumerate(
                [(1, 1, "retryable", 503), (1, 2, "delivered", 200), (2, 1, "retryable", None)], start=1
            )
        ],
        "message_toewijzingen": [
            {"message_id": 1, "toewijzing_id": 1, "retour_codes": []},
            {"message_id": 2, "toewijzing_id": 2, "retour_codes": None},
        ],
        "inbound_messages": [
            {
                "id": 1,
                "party": "ggk",
                "operation": "ggk_Di01",
                "message_type": "JW302",
                "law": "jeugdwet",
                "referentienummer": "RET-0001",
                "cross_refnummer": "REF-0001",
                "sender": "99990001",
                "receiver": "0637",
                "status": "processed",
                "bsn_hash": hashed,
                "matched_message_id": 1,
                "retour_codes": ["0200"],
                "body": b"<soap:Envelope>retour</soap:Envelope>",
                "payload": b"<JW302><Bsn>999900006</Bsn></JW302>",
                "received_at": MOMENT,
            }
        ],
        "verzoeken": [
            {
                "id": 1,
                "law": "jeugdwet",
                "soort": "315",
                "aanbieder_agb": "99990001",
                "referentie_aanbieder": "VZ-0001",
                "bsn": BSN,
                "bsn_hash": hashed,
                "inbound_id": 1,
                "status": "open",
                "inhoud": {"producten": [{"categorie": "45", "code": "45A01"}], "bsn": BSN},
                "received_at": MOMENT,
                "beschikking_id": 1,
            }
        ],
        "events": [
            {"id": 1, "type": "message.answered", "message_id": 1, "beschikking_id": 1, "data": {"x": 1}},
            {"id": 2, "type": "beschikking.received", "message_id": None, "beschikking_id": 1, "data": {}},
        ],
    }


def _write_first_release(database_url: str) -> None:
    engine = create_db_engine(database_url)  # foreign keys enforced on SQLite, as in production
    try:
        tables = MetaData()
        tables.reflect(engine)
        with engine.begin() as connection:
            for name, rows in _first_release_rows().items():
                for row in rows:
                    if name == "events":
                        row = {**row, "created_at": MOMENT}
                    connection.execute(insert(tables.tables[name]), row)
    finally:
        engine.dispose()


def test_an_upgrade_from_the_first_release_keeps_every_row_readable(
    empty_database_url: str, tmp_path: Path
) -> None:
    upgrade(empty_database_url, "0001")
    _write_first_release(empty_database_url)

    upgrade(empty_database_url)  # to head

    engine = create_db_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            assert (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == current_head()
            )
            if engine.dialect.name == "sqlite":  # no reference left dangling by a table copy
                assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    finally:
        engine.dispose()
    runtime = Runtime.create(make_settings(empty_database_url, tmp_path))
    try:
        with runtime.sessions() as session:
            beschikking = session.get(Beschikking, 1)
            assert beschikking is not None
            # the columns that became encrypted give back the plaintext written before
            assert beschikking.bsn == BSN
            assert beschikking.client["naam"] == {"geslachtsnaam": "Jansen"}
            assert beschikking.verwijzer == {"type": "01", "naam": "Huisarts Test"}
            assert beschikking.commentaar == "Spoed gewenst"
            assert beschikking.api_client_id == 1
            toewijzingen = session.scalars(select(Toewijzing).order_by(Toewijzing.id)).all()
            assert [(t.id, t.beschikking_id, t.productcode, t.commentaar) for t in toewijzingen] == [
                (1, 1, "45A01", "eerste toewijzing"),
                (2, 1, "45A02", None),
            ]
            verzoek = session.get(Verzoek, 1)
            assert verzoek is not None and verzoek.bsn == BSN
            assert verzoek.inhoud["producten"] == [{"categorie": "45", "code": "45A01"}]

            messages = session.scalars(select(Message).order_by(Message.id)).all()
            assert [(m.id, m.state, m.attempts, m.beschikking_id) for m in messages] == [
                (1, "answered", 2, 1),
                (2, "queued", 1, 1),
            ]
            assert messages[0].payload == PAYLOAD
            attempts = session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
            assert [(a.message_id, a.attempt_no, a.outcome) for a in attempts] == [
                (1, 1, "retryable"),
                (1, 2, "delivered"),
                (2, 1, "retryable"),
            ]
            inbound = session.get(InboundMessage, 1)
            assert inbound is not None and inbound.matched_message_id == 1
            assert inbound.payload == b"<JW302><Bsn>999900006</Bsn></JW302>"
            assert inbound.body == b"<soap:Envelope>retour</soap:Envelope>"
            events = session.scalars(select(Event).order_by(Event.id)).all()
            assert [(e.type, e.message_id, e.beschikking_id) for e in events] == [
                ("message.answered", 1, 1),
                ("beschikking.received", None, 1),
            ]
            # the key issued by the first release still authenticates (0004 moved it)
            client = find_client(session, OLD_KEY, datetime.now(UTC))
            assert client is not None and client.name == "jeugd-bo"
            assert session.get(ApiClient, 1) is client
    finally:
        runtime.close()


def test_a_downgrade_back_to_the_first_release_keeps_the_rows(empty_database_url: str) -> None:
    upgrade(empty_database_url, "0001")
    _write_first_release(empty_database_url)
    upgrade(empty_database_url)

    command.downgrade(alembic_config(empty_database_url), "0001")

    engine = create_db_engine(empty_database_url)
    try:
        tables = MetaData()
        tables.reflect(engine)
        with engine.connect() as connection:
            for name, rows in _first_release_rows().items():
                count = connection.execute(select(func.count()).select_from(tables.tables[name])).scalar()
                assert count == len(rows), name
            beschikking = tables.tables["beschikkingen"]
            bsn, client = connection.execute(select(beschikking.c.bsn, beschikking.c.client)).one()
            assert (bsn, client["bsn"]) == (BSN, BSN)  # plaintext columns again
            if engine.dialect.name == "sqlite":
                assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    finally:
        engine.dispose()
