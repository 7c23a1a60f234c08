"""POST /api/v1/beschikkingen over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.responses import JSONResponse
from lxml import etree
from sqlalchemy import func, select

from connectors.istandaard import Law, parse_toewijzing
from connectors.xsd import load_schema, violations
from gateway.api.beschikking_models import BerichtRef, BeschikkingOut, ToewijzingOut
from gateway.api.beschikkingen import answer_json
from gateway.app import create_app
from gateway.runtime import Runtime
from gateway.store.tables import Beschikking, Event, IdempotencyRecord, Message, Toewijzing
from tests.conftest import AUTH, BSN, REFERENCE, beschikking_body
from tests.live_server import live_server

URL = "/api/v1/beschikkingen"


@pytest.fixture
def api(runtime: Runtime) -> Iterator[httpx.Client]:
    with live_server(create_app(runtime)) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield client


def counts(runtime: Runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        return {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0
            for t in (Beschikking, Toewijzing, Message, Event, IdempotencyRecord)
        }


def test_accepts_a_beschikking_and_queues_a_valid_jw301(api: httpx.Client, runtime: Runtime) -> None:
    response = api.post(URL, json=beschikking_body(), headers=AUTH)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/beschikkingen/{body['id']}"
    assert [b["type"] for b in body["berichten"]] == ["JW301"]
    assert body["berichten"][0]["state"] == "queued"
    toewijzingnummer = body["toewijzingen"][0]["toewijzingnummer"]

    with runtime.sessions() as session:
        message = session.get(Message, body["berichten"][0]["id"])
        assert message is not None
        payload = message.payload
        assert message.wire_body.count(message.referentienummer.encode()) == 1
    bericht = parse_toewijzing(payload)
    assert bericht.header.afzender == "0637"
    assert bericht.header.ontvanger == "99990001"
    assert bericht.client.bsn == BSN
    [product] = bericht.producten
    assert product.toewijzingnummer == toewijzingnummer
    assert product.product is not None and product.product.code == "45A08"
    assert product.omvang is not None and (product.omvang.volume, product.omvang.eenheid) == (4, "04")


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"published reference not found at {REFERENCE}")
def test_rendered_jw301_validates_against_the_published_xsd(api: httpx.Client, runtime: Runtime) -> None:
    body = beschikking_body(
        producten=[
            {
                "categorie": "45",
                "code": "45A08",
                "aanbieder_agb": "99990001",
                "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
            },
            {"categorie": "43", "aanbieder_agb": "99990001", "budget": 250000},
            {
                "categorie": "54",
                "code": "54001",
                "aanbieder_agb": "99990002",
                "omvang": {"volume": 10, "eenheid": "14", "frequentie": "6"},
            },
        ]
    )
    response = api.post(URL, json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    assert len(response.json()["berichten"]) == 2  # one 301 per aanbieder (OP087)
    published = load_schema("jw301.xsd", base_dir=REFERENCE / "istandaarden" / "ijw-3.2")
    with runtime.sessions() as session:
        for message in session.scalars(select(Message)):
            assert violations(published, etree.fromstring(message.payload)) == []


def test_wmo_beschikking_becomes_a_wmo301(api: httpx.Client, runtime: Runtime) -> None:
    body = beschikking_body(
        wet="wmo",
        producten=[
            {
                "categorie": "02",
                "code": "02A01",
                "aanbieder_agb": "99990003",
                "omvang": {"volume": 3, "eenheid": "04", "frequentie": "2"},
            }
        ],
    )
    response = api.post(URL, json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    assert response.json()["berichten"][0]["type"] == "WMO301"


def test_second_beschikking_repeats_current_toewijzingen_per_op087(
    api: httpx.Client, runtime: Runtime
) -> None:
    first = api.post(URL, json=beschikking_body(), headers=AUTH).json()
    second_body = beschikking_body(
        producten=[
            {
                "categorie": "45",
                "code": "45A09",
                "aanbieder_agb": "99990001",
                "omvang": {"volume": 2, "eenheid": "04", "frequentie": "2"},
            }
        ]
    )
    second = api.post(URL, json=second_body, headers=AUTH).json()
    with runtime.sessions() as session:
        message = session.get(Message, second["berichten"][0]["id"])
        assert message is not None
        numbers = {p.toewijzingnummer for p in parse_toewijzing(message.payload).producten}
    assert numbers == {
        first["toewijzingen"][0]["toewijzingnummer"],
        second["toewijzingen"][0]["toewijzingnummer"],
    }


def test_idempotency_key_replays_the_first_answer(api: httpx.Client, runtime: Runtime) -> None:
    body = beschikking_body()
    headers = {**AUTH, "Idempotency-Key": "3f1c8a2e-key"}
    first = api.post(URL, json=body, headers=headers)
    again = api.post(URL, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert counts(runtime)["messages"] == 1

    other = api.post(URL, json=beschikking_body(), headers=headers)
    assert other.status_code == 409
    assert other.json()["type"] == "urn:gateway:problem:idempotency-key-reused"
    assert counts(runtime)["beschikkingen"] == 1


def test_same_beschikkingnummer_without_key_is_a_conflict(api: httpx.Client, runtime: Runtime) -> None:
    body = beschikking_body()
    assert api.post(URL, json=body, headers=AUTH).status_code == 201
    response = api.post(URL, json=body, headers=AUTH)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert counts(runtime)["messages"] == 1


def _client(**changes: Any) -> dict[str, Any]:
    client: dict[str, Any] = dict(beschikking_body()["client"])  # type: ignore[arg-type]
    client.update(changes)
    return client


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"client": _client(bsn="999900007")}, "client.bsn", "bsn-elfproef"),
        ({"client": _client(bsn="12345")}, "client.bsn", "string-pattern-mismatch"),
        (
            {"producten": [{"categorie": "99", "aanbieder_agb": "99990001", "budget": 100}]},
            "producten[0].categorie",
            "unknown-product-category",
        ),
        (
            {"periode": {"begindatum": "2027-01-01", "einddatum": "2026-12-31"}},
            "periode.einddatum",
            "period-end-before-start",
        ),
        (
            {
                "producten": [
                    {
                        "categorie": "45",
                        "code": "45A08",
                        "aanbieder_agb": "99990001",
                        "budget": 100,
                        "omvang": {"volume": 1, "eenheid": "04", "frequentie": "2"},
                    }
                ]
            },
            "producten[0]",
            "omvang-xor-budget",
        ),
        (
            {
                "producten": [
                    {
                        "categorie": "45",
                        "code": "45A08",
                        "omvang": {"volume": 1, "eenheid": "04", "frequentie": "2"},
                    }
                ]
            },
            "producten[0].aanbieder_agb",
            "aanbieder-required-for-zin",
        ),
        (
            {"producten": [{"categorie": "45", "code": "45A08", "leveringsvorm": "PGB", "budget": 100}]},
            "producten[0].hulpverlener",
            "pgb-hulpverlener-required",
        ),
        (
            {
                "producten": [
                    {
                        "categorie": "45",
                        "code": "45A08",
                        "aanbieder_agb": "99990001",
                        "omvang": {"volume": 1, "eenheid": "99", "frequentie": "2"},
                    }
                ]
            },
            "producten[0].omvang.eenheid",
            "code-list-WJ756",
        ),
        ({"periode": {"begindatum": "2026-12-01"}}, "producten[0].periode.einddatum", "einddatum-required"),
        (
            {
                "producten": [
                    {"categorie": "45", "code": "45A08", "aanbieder_agb": "99990001", "budget": 100},
                    {"categorie": "45", "code": "45A08", "aanbieder_agb": "99990002", "budget": 200},
                ]
            },
            "producten[1]",
            "overlapping-toewijzing-TR302",
        ),
        ({"wet": "awbz"}, "wet", "enum"),
        ({"onbekend": 1}, "onbekend", "unknown-field"),
    ],
)
def test_bad_input_is_a_specific_problem_and_nothing_is_stored(
    api: httpx.Client, runtime: Runtime, overrides: dict[str, Any], field: str, rule: str
) -> None:
    before = counts(runtime)
    response = api.post(URL, json=beschikking_body(**overrides), headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:gateway:problem:validation"
    assert {"field": field, "rule": rule} in [
        {"field": e["field"], "rule": e["rule"]} for e in problem["errors"]
    ]
    assert "999900007" not in response.text and BSN not in response.text
    assert counts(runtime) == before


def test_malformed_json_is_a_400_problem(api: httpx.Client, runtime: Runtime) -> None:
    response = api.post(
        URL, content=b'{"beschikkingnummer": ', headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:gateway:problem:malformed-json"
    assert counts(runtime)["beschikkingen"] == 0


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-API-Key": "gw_testkey1_wrong"}, 401),
        ({"Authorization": "Bearer not-a-key"}, 401),
    ],
)
def test_missing_or_wrong_key_is_401(
    api: httpx.Client, runtime: Runtime, headers: dict[str, str], status: int
) -> None:
    response = api.post(URL, json=beschikking_body(), headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert counts(runtime)["beschikkingen"] == 0


def test_bearer_token_works_like_the_header(api: httpx.Client) -> None:
    key = AUTH["X-API-Key"]
    assert (
        api.post(URL, json=beschikking_body(), headers={"Authorization": f"Bearer {key}"}).status_code == 201
    )


def test_key_without_the_scope_is_403(api: httpx.Client, runtime: Runtime) -> None:
    from gateway.api_keys import SCOPE_BERICHTEN_READ, create_client
    from gateway.store.database import transaction

    with transaction(runtime.sessions) as session:
        _client_row, key = create_client(session, "read-only", [SCOPE_BERICHTEN_READ], runtime.clock.now())
    response = api.post(URL, json=beschikking_body(), headers={"X-API-Key": key})
    assert response.status_code == 403
    assert "beschikkingen:write" in response.json()["detail"]
    assert api.get("/api/v1/berichten", headers={"X-API-Key": key}).status_code == 200


def test_health_needs_no_key_and_openapi_is_published(api: httpx.Client) -> None:
    health = api.get("/health")
    assert health.status_code == 200 and health.json()["database"] == "ok"
    spec = api.get("/openapi.json").json()
    assert "/api/v1/beschikkingen" in spec["paths"]
    assert "/api/v1/berichten/{message_id}" in spec["paths"]


def test_berichten_list_filters(api: httpx.Client) -> None:
    api.post(URL, json=beschikking_body(), headers=AUTH)
    api.post(
        URL,
        json=beschikking_body(
            wet="wmo",
            producten=[{"categorie": "02", "code": "02A01", "aanbieder_agb": "99990003", "budget": 1000}],
            periode={"begindatum": "2026-12-01", "einddatum": "2027-01-31"},
        ),
        headers=AUTH,
    )
    everything = api.get("/api/v1/berichten", headers=AUTH).json()["items"]
    assert [m["type"] for m in everything] == ["WMO405", "WMO301", "JW301"]  # WMO405: the CAK start
    wmo = api.get("/api/v1/berichten", params={"type": "WMO301"}, headers=AUTH).json()["items"]
    assert [m["aanbieder"] for m in wmo] == ["99990003"]
    queued = api.get(
        "/api/v1/berichten", params={"state": "queued", "aanbieder": "99990001"}, headers=AUTH
    ).json()
    assert [m["type"] for m in queued["items"]] == ["JW301"]
    bad = api.get("/api/v1/berichten", params={"state": "lost"}, headers=AUTH)
    assert bad.status_code == 422
    page = api.get("/api/v1/berichten", params={"limit": 1}, headers=AUTH).json()
    assert page["next_cursor"] is not None
    rest = api.get(
        "/api/v1/berichten", params={"limit": 1, "cursor": page["next_cursor"]}, headers=AUTH
    ).json()
    assert rest["items"][0]["id"] < page["items"][0]["id"]
    assert api.get("/api/v1/berichten/999999", headers=AUTH).status_code == 404


def test_location_of_a_beschikking_shows_its_toewijzingen_and_messages(api: httpx.Client) -> None:
    created = api.post(URL, json=beschikking_body(), headers=AUTH)
    shown = api.get(created.headers["location"], headers=AUTH)
    assert shown.status_code == 200
    assert shown.json() == created.json()
    assert api.get("/api/v1/beschikkingen/424242", headers=AUTH).status_code == 404


def test_berichten_filter_by_time_and_toewijzingnummer(api: httpx.Client) -> None:
    created = api.post(URL, json=beschikking_body(), headers=AUTH).json()
    number = created["toewijzingen"][0]["toewijzingnummer"]
    found = api.get("/api/v1/berichten", params={"toewijzingnummer": number}, headers=AUTH).json()["items"]
    assert [m["id"] for m in found] == [created["berichten"][0]["id"]]
    naive = api.get("/api/v1/berichten", params={"created_from": "2000-01-01T00:00:00"}, headers=AUTH)
    assert naive.status_code == 200 and len(naive.json()["items"]) == 1
    later = api.get("/api/v1/berichten", params={"created_from": "2999-01-01T00:00:00Z"}, headers=AUTH)
    assert later.json()["items"] == []


def test_data_the_rules_miss_but_the_xsd_refuses_is_a_422_not_a_500(
    api: httpx.Client, runtime: Runtime
) -> None:
    long_name = {"achternaam": "Jansen", "voornamen": "   "}  # only blanks: the standard wants a letter
    body = beschikking_body(client={**beschikking_body()["client"], "naam": long_name})  # type: ignore[dict-item]
    response = api.post(URL, json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:gateway:problem:message-schema"
    assert counts(runtime)["beschikkingen"] == 0


def test_request_id_is_echoed(api: httpx.Client) -> None:
    assert api.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert len(api.get("/health").headers["x-request-id"]) == 32


def test_answer_json_sends_the_bytes_jsonresponse_would() -> None:
    """The 201 body is serialised by pydantic directly; it must equal the JSONResponse of the dict."""
    odd = "é\x01\n\t\"\\/\u2028\x7f😀<>&'\x1f"  # escapes, non-ASCII, a line separator, an emoji
    result = BeschikkingOut(
        id=2**62,
        beschikkingnummer=odd,
        wet=Law.WMO,
        toewijzingen=[
            ToewijzingOut(
                toewijzingnummer=7,
                aanbieder_agb=odd,
                categorie=None,
                productcode=odd,
                ingangsdatum=date(2027, 1, 1),
                einddatum=date(2027, 12, 31),
            )
        ],
        berichten=[BerichtRef(id=3, type="WMO301", state="queued", aanbieder_agb="99990001", href=odd)],
    )
    assert answer_json(result) == JSONResponse(result.model_dump(mode="json")).body
