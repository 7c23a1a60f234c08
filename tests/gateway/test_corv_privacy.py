"""CORV personal data at rest, in logs and under retention.

A VTO (with a document) and the chain's notificaties, notificatiejr and zorgmelding
(with its terugkoppeling) make a full round trip over loopback HTTP. Then:

- the database read with plain SQL (no column type decrypts) holds no BSN, no name and
  no document content - plain or base64 - in any table, CORV tables included;
- the logs of those flows (production JSON logging) hold no BSN;
- retention removes CORV bodies of finished conversations (wire chunks, received
  payloads) after the body retention, and keeps those still in flight.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, update

from gateway.clock import FrozenClock, SystemClock
from gateway.corv.wire import read_all
from gateway.retention import prune
from gateway.runtime import Runtime
from gateway.store.corv_tables import CorvInbound, CorvOutbound, CorvWireChunk, CorvZorgmelding
from gateway.store.database import transaction
from gateway.store.tables import Base, Message, MessageState
from tests.conftest import AUTH, make_settings
from tests.gateway.corv_stack import (
    PDF,
    CorvStack,
    corv_settings,
    open_spool_files,
    running_corv_stack,
    vto_body,
)
from tests.gateway.test_corv_chain_input import _zorgmelding
from tests.gateway.test_encryption import _raw_select
from tests.gateway.test_privacy import bsn_leaks, json_logs

__all__ = ["json_logs"]  # the fixture, imported for use here

#: Names in the VTO (child, parent, uitvoerende), the mock's messages and our terugkoppeling.
NAMES = ["Jansen", "de Vries", "Visser", "de Boer", "Zorgen over de veiligheid"]
ZORGMELDING_DOCUMENT = b"%PDF-1.4 zorgmelding\n"  # what the mock hub's zorgmelding carries
RETENTION = {"body_days": 30, "metadata_days": 365}


def _document_forms(document: bytes) -> list[bytes]:
    """The document as stored if it leaked: raw, or base64 as in the StUF message."""
    return [document[:24], base64.b64encode(document)[:32]]


def _round_trip(stack: CorvStack, zaak: str, *, terugkoppeling: bool = True) -> dict[str, Any]:
    """VTO -> Bv01, its notificaties, a notificatiejr and a zorgmelding (+ terugkoppeling)."""
    created = stack.accepted_vto(vto_body(zaak))
    stack.wait_vto(created["id"], "accepted")
    answers = stack.hub_send("notificaties", {"zaak_identificatie": zaak})
    assert [a["answer_berichtcode"] for a in answers] == ["Bv01"] * 3
    assert stack.hub_send("notificatiejr", {})["answer_berichtcode"] == "Bv01"
    assert stack.hub_send("zorgmelding", {"kenmerk": f"ZM-{zaak}"})["answer_berichtcode"] == "Bv01"
    [melding] = [
        m
        for m in stack.get("/api/v1/corv/zorgmeldingen", status="open")["items"]
        if m["kenmerk"] == f"ZM-{zaak}"
    ]
    if terugkoppeling:
        response = stack.api.post(
            f"/api/v1/corv/zorgmeldingen/{melding['id']}/terugkoppeling",
            json={"resultaat": "vervolgactie_nodig", "contactpersoon": "P. de Vries"},
            headers=AUTH,
        )
        assert response.status_code == 200, response.text
        stack.wait_events("corv.terugkoppeling.geaccepteerd")
    return {"vto": created["id"], "zorgmelding": melding["id"]}


def _raw_values(database_url: str) -> dict[str, list[bytes]]:
    """``table.column`` -> every stored value as the database holds it (plain SQL)."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    values: dict[str, list[bytes]] = {}
    try:
        with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                for row in connection.execute(_raw_select(table)):
                    for column, value in zip(table.columns, row, strict=True):
                        if value is None:
                            continue
                        raw = (
                            bytes(value)
                            if isinstance(value, bytes | memoryview)
                            else json.dumps(value, default=str).encode()
                        )
                        values.setdefault(f"{table.name}.{column.name}", []).append(raw)
    finally:
        engine.dispose()
    return values


def test_corv_tables_hold_no_plaintext_bsn_name_or_document_and_logs_no_bsn(
    database_url: str, tmp_path: Path, json_logs: Callable[[], pytest.CaptureFixture[str]]
) -> None:
    capture = json_logs()
    with running_corv_stack(database_url, tmp_path) as stack:
        _round_trip(stack, "ZAAK-PRIVACY")
        # a message failing its XSD, with a BSN in it: its payload and error are stored too
        assert stack.mock is not None
        stuf = _raw_zorgmelding_with_bsn()
        answer = stack.hub_send("raw", {"stuf": stuf, "action": "zorgmeldingDi01"})
        assert answer["answer_code"] == "StUF055"
        # the gateway itself still reads everything back (the columns decrypt)
        with stack.runtime.sessions() as session:
            vto_message = session.scalar(
                select(CorvOutbound.message_id).where(CorvOutbound.action == "vtoDi01")
            )
            assert vto_message is not None
            assert base64.b64encode(PDF)[:32] in read_all(session, vto_message).replace(b"\r\n", b"")
            payloads = session.scalars(select(CorvInbound.payload)).all()
            assert any(p is not None and b"999900043" in p for p in payloads)
        # the upload and the received messages were spooled under the data dir, and are gone
        spool = stack.runtime.settings.data_dir / "spool"
        assert spool.stat().st_mode & 0o777 == 0o700 and list(spool.iterdir()) == []
        if Path("/proc/self/fd").is_dir():
            assert open_spool_files(stack) == []
    output = capture.readouterr()
    stored = _raw_values(database_url)

    corv_columns = {name for name in stored if name.startswith("corv_")}
    assert {"corv_wire_chunks.data", "corv_inbound.payload", "corv_vtos.samenvatting"} <= corv_columns
    secrets = [name.encode() for name in NAMES] + _document_forms(PDF) + _document_forms(ZORGMELDING_DOCUMENT)
    found: dict[str, list[str]] = {}
    for column, values in stored.items():
        text = b"\n".join(values)
        hits = bsn_leaks(text.decode("utf-8", errors="replace"))
        hits += [secret.decode(errors="replace") for secret in secrets if secret in text]
        if hits:
            found[column] = hits
    assert found == {}
    assert bsn_leaks(output.out + output.err) == []
    assert "corv_" in output.err + output.out  # the CORV flows did log (JSON lines)


def _raw_zorgmelding_with_bsn() -> str:
    """A zorgmelding failing its XSD (an unknown element), with a BSN in that element."""
    stuf = _zorgmelding("CORV-privacy-0001").replace(
        b"<ZKN:bron>Zorgmelding</ZKN:bron>", b"<ZKN:onbekend>999900043</ZKN:onbekend>"
    )
    return stuf.decode()


def _later(database_url: str, tmp_path: Path, days: int) -> Runtime:
    clock = FrozenClock(SystemClock().now() + timedelta(days=days))
    return Runtime.create(
        make_settings(database_url, tmp_path, retention=RETENTION, corv=corv_settings("http://127.0.0.1:9")),
        clock,
    )


def test_retention_prunes_corv_bodies_of_finished_conversations_only(
    database_url: str, tmp_path: Path
) -> None:
    with running_corv_stack(database_url, tmp_path, retention=RETENTION) as stack:
        ids = _round_trip(stack, "ZAAK-RET-1")
        in_flight = _round_trip(stack, "ZAAK-RET-2", terugkoppeling=False)
        with stack.runtime.sessions() as session:
            rows = session.execute(
                select(CorvOutbound.message_id, CorvOutbound.action).order_by(CorvOutbound.message_id)
            )
            vto_messages = {message_id: action for message_id, action in rows}
    finished_vto, in_flight_vto = [m for m, action in vto_messages.items() if action == "vtoDi01"]
    # the second VTO is put back to awaiting its answer: nothing of it may go
    with transaction(stack.runtime.sessions) as session:
        session.execute(
            update(Message).where(Message.id == in_flight_vto).values(state=MessageState.DELIVERED)
        )

    early = _later(database_url, tmp_path, 10)
    try:
        removed = prune(early)
        assert (removed["corv_wire_bodies"], removed["corv_inbound_bodies"]) == (0, 0)
    finally:
        early.close()

    later = _later(database_url, tmp_path, 40)
    try:
        removed = prune(later)
        with later.sessions() as session:
            chunked = set(session.scalars(select(CorvWireChunk.message_id).distinct()))
            kept_payloads = {
                row.id: row
                for row in session.scalars(select(CorvInbound).where(CorvInbound.payload.is_not(None)))
            }
            open_melding = session.get(CorvZorgmelding, in_flight["zorgmelding"])
            answered_melding = session.get(CorvZorgmelding, ids["zorgmelding"])
            assert open_melding is not None and answered_melding is not None
            pruned_rows = session.scalar(select(func.count()).where(CorvInbound.payload.is_(None)))
            finished = session.get(Message, finished_vto)
            assert finished is not None and (finished.payload, finished.wire_body) == (b"", b"")
    finally:
        later.close()
    # finished: the first VTO and the terugkoppeling; in flight: the second VTO
    assert chunked == {in_flight_vto}
    assert removed["corv_wire_bodies"] == 2
    # received payloads: all gone but the open zorgmelding's and any answer to the VTO in flight
    assert open_melding.inbound_id in kept_payloads
    assert answered_melding.inbound_id not in kept_payloads
    assert {
        inbound_id
        for inbound_id, row in kept_payloads.items()
        if inbound_id != open_melding.inbound_id and row.matched_message_id != in_flight_vto
    } == set()
    assert pruned_rows is not None and pruned_rows > 0
    assert removed["corv_inbound_bodies"] == pruned_rows
