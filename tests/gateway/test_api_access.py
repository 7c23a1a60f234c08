"""Back-office API access: scopes per law and capability, key rotation without downtime,
keys stored hashed, rate limits per client (429) and body size limits (413).

Everything over real loopback HTTP against the gateway, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from gateway.api.limits import presented_key
from gateway.api_keys import create_client, effective_scopes, find_client, revoke_key, rotate_key
from gateway.app import create_app
from gateway.clock import FrozenClock
from gateway.runtime import Runtime
from gateway.store.access_tables import ApiKey
from gateway.store.database import create_db_engine, transaction
from gateway.store.migrate import upgrade
from tests.conftest import beschikking_body, make_settings
from tests.live_server import live_server

WMO_PRODUCT = {
    "categorie": "02",
    "code": "02A01",
    "aanbieder_agb": "99990002",
    "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
}


@dataclass
class Api:
    runtime: Runtime
    http: httpx.Client
    clock: FrozenClock

    def client(self, name: str, scopes: list[str], **limits: Any) -> str:
        with transaction(self.runtime.sessions) as session:
            _client, key = create_client(session, name, scopes, self.clock.now(), **limits)
        return key

    def post(self, key: str, body: Any, path: str = "/api/v1/beschikkingen") -> httpx.Response:
        return self.http.post(path, json=body, headers={"X-API-Key": key})

    def get(self, key: str, path: str) -> httpx.Response:
        return self.http.get(path, headers={"X-API-Key": key})


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(
        database_url,
        tmp_path,
        api_limits={"max_body_bytes": 8192, "route_max_body_bytes": {"/api/v1/toewijzingen": 4096}},
    )
    clock = FrozenClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    runtime = Runtime.create(settings, clock)
    try:
        with live_server(create_app(runtime)) as url, httpx.Client(base_url=url, timeout=10) as http:
            yield Api(runtime, http, clock)
    finally:
        runtime.close()


def wmo_body() -> dict[str, Any]:
    return beschikking_body(wet="wmo", producten=[WMO_PRODUCT])


# --- scopes ---------------------------------------------------------------------------------------


def test_a_write_scope_for_one_law_does_not_write_the_other(api: Api) -> None:
    key = api.client("jeugd-only", ["jeugdwet:write", "jeugdwet:read"])
    refused = api.post(key, wmo_body())
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "wmo:write" in refused.json()["detail"]
    accepted = api.post(key, beschikking_body())
    assert accepted.status_code == 201, accepted.text
    assert api.get(key, f"/api/v1/beschikkingen/{accepted.json()['id']}").status_code == 200


def test_a_read_scope_for_one_law_sees_only_that_law(api: Api) -> None:
    writer = api.client("writer", ["beschikkingen:write"])  # the legacy scope: both laws
    jeugd = api.post(writer, beschikking_body()).json()["berichten"][0]["id"]
    wmo = api.post(writer, wmo_body()).json()["berichten"][0]["id"]
    reader = api.client("wmo-reader", ["wmo:read"])
    assert api.get(reader, f"/api/v1/berichten/{wmo}").status_code == 200
    refused = api.get(reader, f"/api/v1/berichten/{jeugd}")
    assert refused.status_code == 403 and "jeugdwet:read" in refused.json()["detail"]
    assert api.get(reader, f"/api/v1/berichten/{jeugd}/payload").status_code == 403
    listed = [item["id"] for item in api.get(reader, "/api/v1/berichten").json()["items"]]
    assert wmo in listed and jeugd not in listed
    # read is not write, and write is not read
    assert api.post(reader, wmo_body()).status_code == 403
    assert api.get(writer, "/api/v1/berichten").status_code == 403


def test_legacy_scopes_mean_both_laws() -> None:
    assert {"jeugdwet:write", "wmo:write"} <= effective_scopes(["beschikkingen:write"])
    assert {"jeugdwet:read", "wmo:read"} <= effective_scopes(["berichten:read"])
    assert "beschikkingen:write" in effective_scopes(["wmo:write"])  # the route-level gate
    assert "wmo:read" not in effective_scopes(["wmo:write"])


# --- keys -----------------------------------------------------------------------------------------


def test_a_rotated_key_works_at_once_and_the_old_one_until_revoked(api: Api) -> None:
    old = api.client("rotating", ["berichten:read"])
    with transaction(api.runtime.sessions) as session:
        _row, new = rotate_key(session, "rotating", api.clock.now())
    assert api.get(old, "/api/v1/berichten").status_code == 200
    assert api.get(new, "/api/v1/berichten").status_code == 200
    with transaction(api.runtime.sessions) as session:
        assert revoke_key(session, old.split("_")[1], api.clock.now()) == 1
    assert api.get(old, "/api/v1/berichten").status_code == 401
    assert api.get(new, "/api/v1/berichten").status_code == 200


def test_a_rotation_with_a_grace_period_expires_the_old_key(api: Api) -> None:
    old = api.client("graceful", ["berichten:read"])
    with transaction(api.runtime.sessions) as session:
        _row, new = rotate_key(session, "graceful", api.clock.now(), timedelta(hours=24))
    assert api.get(old, "/api/v1/berichten").status_code == 200
    api.clock.advance(timedelta(hours=24, seconds=1))
    assert api.get(old, "/api/v1/berichten").status_code == 401
    assert api.get(new, "/api/v1/berichten").status_code == 200


def test_keys_are_stored_only_as_hashes(api: Api) -> None:
    key = api.client("hashed", ["berichten:read"])
    with api.runtime.sessions() as session:
        rows = session.scalars(select(ApiKey)).all()
        assert rows and all(key not in (row.key_hash, row.prefix) for row in rows)
        assert all(key.split("_", 2)[2] not in row.key_hash for row in rows)


# --- limits ---------------------------------------------------------------------------------------


def test_a_client_over_its_rate_gets_429_with_retry_after(api: Api) -> None:
    limited = api.client("limited", ["berichten:read"], rate_per_minute=1, burst=2)
    other = api.client("other", ["berichten:read"], rate_per_minute=1, burst=2)
    assert [api.get(limited, "/api/v1/berichten").status_code for _ in range(2)] == [200, 200]
    refused = api.get(limited, "/api/v1/berichten")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:gateway:problem:rate-limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert api.get(other, "/api/v1/berichten").status_code == 200  # per client


def test_a_body_over_the_limit_gets_413_before_it_is_read(api: Api) -> None:
    key = api.client("big", ["beschikkingen:write", "berichten:read"])
    body = beschikking_body(commentaar="x" * 9000)
    refused = api.post(key, body)
    assert refused.status_code == 413
    assert refused.json()["type"] == "urn:gateway:problem:payload-too-large"
    assert "8192" in refused.json()["detail"]
    assert api.get(key, "/api/v1/berichten").json()["items"] == []  # nothing stored


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(api: Api) -> None:
    key = api.client("streamer", ["beschikkingen:write"])

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 1024

    refused = api.http.post(
        "/api/v1/beschikkingen",
        content=chunks(),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )
    assert refused.status_code == 413


def test_size_limits_per_route_and_per_client(api: Api) -> None:
    key = api.client("routes", ["beschikkingen:write"])
    wijziging = {"einddatum": "2027-01-31", "padding": "x" * 5000}
    assert api.post(key, wijziging, "/api/v1/toewijzingen/1/wijzigingen").status_code == 413  # route: 4096
    roomy = api.client("roomy", ["beschikkingen:write"], max_body_bytes=64 * 1024)
    assert api.post(roomy, beschikking_body(commentaar="x" * 9000)).status_code != 413


# --- migration ------------------------------------------------------------------------------------


def test_a_key_issued_before_the_migration_keeps_working(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    key = "gw_oldkey01_" + "o" * 40
    engine = create_db_engine(url)
    import hashlib

    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO api_clients (name, key_prefix, key_hash, scopes, active, created_at) "
                "VALUES ('old', 'oldkey01', :hash, '[\"berichten:read\"]', 1, '2026-01-01 00:00:00')"
            ),
            {"hash": hashlib.sha256(key.encode()).hexdigest()},
        )
    engine.dispose()
    upgrade(url)
    runtime = Runtime.create(make_settings(url, tmp_path))
    try:
        with runtime.sessions() as session:
            client = find_client(session, key, runtime.clock.now())
            assert client is not None and client.name == "old"
    finally:
        runtime.close()


def _presented_key_by_dict(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The first implementation of presented_key (a dict of every decoded header): the reference."""
    values = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in headers}
    key = values.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, value = values.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"x-api-key", b"gw_a_b")],
        [(b"X-API-Key", b"  gw_a_b  ")],
        [(b"x-api-key", b"first"), (b"X-Api-Key", b"second")],  # the last one counts
        [(b"x-api-key", b"   "), (b"authorization", b"Bearer gw_c_d")],
        [(b"authorization", b"bearer  gw_c_d ")],
        [(b"Authorization", b"Basic abc"), (b"authorization", b"Bearer x")],
        [(b"authorization", b"Bearer x"), (b"authorization", b"Basic abc")],
        [(b"authorization", b"Bearer")],
        [(b"authorization", b"Bearer    ")],
        [(b"x-api-key", b"caf\xe9"), (b"content-type", b"application/json")],
        [(b"x-api-k\xc9y", b"not a key header")],
    ],
)
def test_presented_key_reads_the_headers_as_before(headers: list[tuple[bytes, bytes]]) -> None:
    assert presented_key(headers) == _presented_key_by_dict(headers)
