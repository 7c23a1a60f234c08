"""Encryption at rest: the database holds no plaintext personal data; keys rotate; wrong keys fail clearly."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog.testing
from sqlalchemy import Table, TextClause, create_engine, event, select, text

from gateway.app import create_app
from gateway.encryption import (
    DEV_KEY_ID,
    EncryptionError,
    KeyConfigurationError,
    KeyRing,
    build_key_ring,
    key_id_of,
)
from gateway.key_rotation import add_key_to_file, reencrypt
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.migrate import upgrade
from gateway.store.tables import Base, Beschikking, Message
from tests.conftest import AUTH, BSN, beschikking_body, make_settings
from tests.live_server import live_server

KEY_1 = base64.b64encode(b"1" * 32).decode()
KEY_2 = base64.b64encode(b"2" * 32).decode()
PERSONAL = [BSN.encode(), b"Jansen", b"Sanne", b"Markt", b"2711AA", b"Jeugdteam Zoetermeer", b"2014-03-21"]


def _raw_select(table: Table) -> TextClause:
    """Every column as the database stores it: plain SQL, so no column type decrypts it."""
    columns = ", ".join('"' + column.name + '"' for column in table.columns)
    return text(f'SELECT {columns} FROM "{table.name}"')  # noqa: S608 - names from our own metadata


def _raw_bytes(database_url: str) -> bytes:
    """Every value of every table, as the database stores it (no ORM, no decryption)."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    chunks: list[bytes] = []
    try:
        with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                for row in connection.execute(_raw_select(table)):
                    for value in row:
                        if isinstance(value, bytes | memoryview):
                            chunks.append(bytes(value))
                        elif value is not None:
                            chunks.append(json.dumps(value, default=str).encode())
    finally:
        engine.dispose()
    return b"\n".join(chunks)


def _runtime(database_url: str, tmp_path: Path, **encryption: Any) -> Runtime:
    return Runtime.create(make_settings(database_url, tmp_path, encryption=encryption))


@pytest.fixture
def keyed_runtime(runtime: Runtime, tmp_path: Path) -> Iterator[Runtime]:
    rt = _runtime(runtime.settings.effective_database_url, tmp_path, keys={"k1": KEY_1})
    yield rt
    rt.close()


def _post(runtime: Runtime, **overrides: object) -> dict[str, Any]:
    with live_server(create_app(runtime)) as base, httpx.Client(base_url=base, timeout=10) as api:
        response = api.post("/api/v1/beschikkingen", json=beschikking_body(**overrides), headers=AUTH)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_the_stored_bytes_hold_no_bsn_name_address_or_payload(keyed_runtime: Runtime) -> None:
    created = _post(keyed_runtime, commentaar="Moeder belt liever na 16 uur")
    raw = _raw_bytes(keyed_runtime.settings.effective_database_url)
    for value in [*PERSONAL, b"Moeder belt", b"ToewijzingNummer", b"Envelope"]:
        assert value not in raw, f"{value!r} stored in plaintext"
    # ... and the application still reads everything back.
    with keyed_runtime.sessions() as session:
        beschikking = session.get(Beschikking, created["id"])
        assert beschikking is not None
        assert beschikking.bsn == BSN and beschikking.client["naam"]["achternaam"] == "Jansen"
        message = session.get(Message, created["berichten"][0]["id"])
        assert message is not None and b"Jansen" in message.payload and b"Envelope" in message.wire_body
        stored = session.execute(text("SELECT payload FROM messages")).scalar_one()
    assert key_id_of(bytes(stored)) == "k1"


def test_rotation_keeps_old_rows_readable_and_reencrypt_moves_them(
    keyed_runtime: Runtime, tmp_path: Path
) -> None:
    old = _post(keyed_runtime)
    url = keyed_runtime.settings.effective_database_url
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps({"active": "k1", "keys": {"k1": KEY_1}}))
    add_key_to_file(key_file, "k2")
    assert json.loads(key_file.read_text())["active"] == "k2"
    assert key_file.stat().st_mode & 0o077 == 0
    rotated = _runtime(url, tmp_path, key_file=key_file)
    try:
        new = _post(rotated, client={**beschikking_body()["client"], "bsn": "999900018"})  # type: ignore[dict-item]
        with rotated.sessions() as session:
            assert session.get(Beschikking, old["id"]).bsn == BSN  # type: ignore[union-attr]
            payloads: dict[int, bytes] = dict(
                session.execute(text("SELECT beschikking_id, payload FROM messages")).all()
            )
        assert key_id_of(bytes(payloads[old["id"]])) == "k1"
        assert key_id_of(bytes(payloads[new["id"]])) == "k2"
        counts = reencrypt(rotated, batch_size=1)
        assert counts["messages.payload"] == 1 and counts["beschikkingen.client"] == 1
        assert reencrypt(rotated)["messages.payload"] == 0  # nothing left to move
    finally:
        rotated.close()
    # The old key can go now: only k2 is needed to read everything.
    only_new_key = json.loads(key_file.read_text())["keys"]["k2"]
    latest = _runtime(url, tmp_path, keys={"k2": only_new_key})
    try:
        with latest.sessions() as session:
            assert {b.bsn for b in session.scalars(select(Beschikking))} == {BSN, "999900018"}
            assert all(b"Jansen" in p for p in session.scalars(select(Message.payload)))
    finally:
        latest.close()


def test_a_wrong_key_fails_clearly_without_plaintext(keyed_runtime: Runtime, tmp_path: Path) -> None:
    created = _post(keyed_runtime)
    url = keyed_runtime.settings.effective_database_url
    wrong = _runtime(url, tmp_path, keys={"k1": KEY_2})
    try:
        with wrong.sessions() as session, pytest.raises(EncryptionError) as raised:
            session.get(Beschikking, created["id"])
    finally:
        wrong.close()
    assert "decryption under key 'k1' failed" in str(raised.value)
    assert "beschikkingen." in str(raised.value)
    other = _runtime(url, tmp_path, keys={"k9": KEY_2})
    try:
        with other.sessions() as session, pytest.raises(EncryptionError) as missing:
            session.scalars(select(Message.payload)).all()
    finally:
        other.close()
    assert "key 'k1', which is not in the key ring" in str(missing.value)
    for error in (raised.value, missing.value):
        assert not any(value.decode() in str(error) for value in PERSONAL)


def test_a_value_moved_to_another_column_does_not_decrypt() -> None:
    ring = KeyRing({"k1": b"1" * 32}, "k1")
    sealed = ring.encrypt(b"Jansen", "beschikkingen.client")
    assert ring.decrypt(sealed, "beschikkingen.client") == b"Jansen"
    with pytest.raises(EncryptionError):
        ring.decrypt(sealed, "messages.payload")
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(EncryptionError):
        ring.decrypt(bytes(tampered), "beschikkingen.client")


def test_plaintext_from_before_encryption_stays_readable(keyed_runtime: Runtime) -> None:
    created = _post(keyed_runtime)
    message_id = created["berichten"][0]["id"]
    with transaction(keyed_runtime.sessions) as session:
        session.execute(
            text("UPDATE messages SET payload = :p WHERE id = :id"), {"p": b"<legacy/>", "id": message_id}
        )
    with keyed_runtime.sessions() as session:
        assert session.get(Message, message_id).payload == b"<legacy/>"  # type: ignore[union-attr]
    assert reencrypt(keyed_runtime)["messages.payload"] == 1
    assert b"<legacy/>" not in _raw_bytes(keyed_runtime.settings.effective_database_url)


def test_key_configuration_errors_are_specific() -> None:
    with pytest.raises(KeyConfigurationError, match="production mode needs encryption keys"):
        build_key_ring({}, "", None, development=False)
    assert build_key_ring({}, "", None, development=True).active_id == DEV_KEY_ID
    with pytest.raises(KeyConfigurationError, match="must decode to 32 bytes"):
        build_key_ring({"k1": base64.b64encode(b"short").decode()}, "", None, development=False)
    with pytest.raises(KeyConfigurationError, match="not valid base64"):
        build_key_ring({"k1": "not base64!"}, "", None, development=False)
    with pytest.raises(KeyConfigurationError, match="active key 'k3'"):
        build_key_ring({"k1": KEY_1}, "k3", None, development=False)
    ring = build_key_ring({"k1": KEY_1, "k2": KEY_2}, "", None, development=False)
    assert ring.active_id == "k2" and KEY_1 not in repr(ring)


def test_rows_written_before_the_migration_are_read_then_encrypted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO beschikkingen (law, beschikkingnummer, gemeentecode, bsn, bsn_hash, client,"
                " verwijzer, commentaar, received_at) VALUES ('jeugdwet', 'JW-OLD', '0637', :bsn, 'h',"
                " :client, NULL, 'oud commentaar', '2026-01-01 00:00:00')"
            ),
            {"bsn": BSN, "client": json.dumps({"naam": {"achternaam": "Jansen"}})},
        )
    engine.dispose()
    upgrade(url)
    rt = _runtime(url, tmp_path, keys={"k1": KEY_1})
    try:
        with rt.sessions() as session:
            old = session.scalars(select(Beschikking)).one()
            assert (old.bsn, old.client["naam"]["achternaam"], old.commentaar) == (
                BSN,
                "Jansen",
                "oud commentaar",
            )
        assert reencrypt(rt)["beschikkingen.bsn"] == 1
        with rt.sessions() as session:
            assert session.scalars(select(Beschikking.bsn)).one() == BSN
    finally:
        rt.close()
    assert BSN.encode() not in _raw_bytes(url) and b"Jansen" not in _raw_bytes(url)


def test_reencrypt_alongside_a_running_gateway_loses_no_update(
    keyed_runtime: Runtime, tmp_path: Path
) -> None:
    """A row the application rewrites between reencrypt's read and its write keeps the new value."""
    created = _post(keyed_runtime, commentaar="oud commentaar")
    rotated = _runtime(
        keyed_runtime.settings.effective_database_url,
        tmp_path,
        keys={"k1": KEY_1, "k2": KEY_2},
        active_key="k2",
    )
    fired: list[bool] = []

    def write_in_between(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if fired or not statement.startswith("UPDATE beschikkingen SET commentaar"):
            return
        fired.append(True)
        with transaction(rotated.sessions) as other:  # another connection: the running gateway
            beschikking = other.get(Beschikking, created["id"])
            assert beschikking is not None
            beschikking.commentaar = "nieuw commentaar"

    event.listen(rotated.engine, "before_cursor_execute", write_in_between)
    try:
        counts = reencrypt(rotated)
        assert fired and counts["beschikkingen.commentaar"] == 0
        with rotated.sessions() as session:
            assert session.get(Beschikking, created["id"]).commentaar == "nieuw commentaar"  # type: ignore[union-attr]
    finally:
        event.remove(rotated.engine, "before_cursor_execute", write_in_between)
        rotated.close()


def test_rotate_refuses_a_key_id_the_key_ring_could_not_load(tmp_path: Path) -> None:
    """Writing such an id as the active key would stop every gateway process at its next start."""
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps({"active": "k1", "keys": {"k1": KEY_1}}))
    for bad in ("2027 01", "k/2", "x" * 33, "k2\n"):
        with pytest.raises(KeyConfigurationError, match="key id"):
            add_key_to_file(key_file, bad)
    assert json.loads(key_file.read_text()) == {"active": "k1", "keys": {"k1": KEY_1}}


def test_a_key_file_readable_by_others_is_reported(runtime: Runtime, tmp_path: Path) -> None:
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps({"active": "k1", "keys": {"k1": KEY_1}}))
    key_file.chmod(0o644)
    url = runtime.settings.effective_database_url
    with structlog.testing.capture_logs() as logs:
        _runtime(url, tmp_path, key_file=key_file).close()
    assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == [
        "encryption_key_file_readable_by_others"
    ]
    key_file.chmod(0o600)
    with structlog.testing.capture_logs() as logs:
        _runtime(url, tmp_path, key_file=key_file).close()
    assert not [entry for entry in logs if entry["event"] == "encryption_key_file_readable_by_others"]


def test_the_stored_format_is_byte_exact_and_follows_a_changed_active_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The header and associated data are kept per (active key, column): a value is still
    ``MAGIC | version | len | key id | nonce | AES-GCM(plaintext, aad)``, built here by hand,
    and changing the active key changes what new values are sealed with."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    import gateway.encryption as encryption

    nonce = bytes(range(12))
    monkeypatch.setattr(encryption.os, "urandom", lambda n: nonce[:n])
    keys = {"k1": b"1" * 32, "k2": b"2" * 32}
    ring = KeyRing(dict(keys), "k1")

    def by_hand(key_id: str, plaintext: bytes, context: str) -> bytes:
        header = b"\xffGE" + bytes((1, len(key_id))) + key_id.encode()
        aad = b"gateway-at-rest|" + context.encode() + b"|" + header
        return header + nonce + AESGCM(keys[key_id]).encrypt(nonce, plaintext, aad)

    for _ in range(2):  # the second time from what was kept
        assert ring.encrypt(b"<x/>", "messages.payload") == by_hand("k1", b"<x/>", "messages.payload")
        assert ring.encrypt(b"{}", "beschikkingen.client") == by_hand("k1", b"{}", "beschikkingen.client")
    ring.active_id = "k2"
    sealed = ring.encrypt(b"<x/>", "messages.payload")
    assert sealed == by_hand("k2", b"<x/>", "messages.payload")
    assert key_id_of(sealed) == "k2" and ring.decrypt(sealed, "messages.payload") == b"<x/>"
