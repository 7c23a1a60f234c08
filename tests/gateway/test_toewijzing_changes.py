"""Changes to a toewijzing through the API become the right 301 (both databases)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.istandaard import parse_toewijzing
from gateway.app import create_app
from gateway.runtime import Runtime
from gateway.store.tables import Message
from tests.conftest import AUTH, beschikking_body
from tests.live_server import live_server


@pytest.fixture
def api(runtime: Runtime) -> Iterator[httpx.Client]:
    with live_server(create_app(runtime)) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield client


def _create(api: httpx.Client, **product: Any) -> int:
    base = {
        "categorie": "45",
        "code": "45A08",
        "aanbieder_agb": "99990001",
        "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
    }
    base.update(product)
    response = api.post("/api/v1/beschikkingen", json=beschikking_body(producten=[base]), headers=AUTH)
    assert response.status_code == 201, response.text
    number: int = response.json()["toewijzingen"][0]["toewijzingnummer"]
    return number


def _change(api: httpx.Client, nummer: int, **body: Any) -> httpx.Response:
    return api.post(f"/api/v1/toewijzingen/{nummer}/wijzigingen", json=body, headers=AUTH)


def _sent(runtime: Runtime, response: httpx.Response) -> dict[int, Any]:
    message_id = response.json()["berichten"][0]["id"]
    with runtime.sessions() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return {p.toewijzingnummer: p for p in parse_toewijzing(message.payload).producten}


def test_extending_keeps_the_number_oprekken_op380(api: httpx.Client, runtime: Runtime) -> None:
    nummer = _create(api)
    response = _change(api, nummer, einddatum="2027-12-31")
    assert response.status_code == 200, response.text
    assert [t["toewijzingnummer"] for t in response.json()["gewijzigd"]] == [nummer]
    assert response.json()["nieuw"] == []
    product = _sent(runtime, response)[nummer]
    assert str(product.einddatum) == "2027-12-31" and product.reden_wijziging == "04"
    detail = api.get(f"/api/v1/toewijzingen/{nummer}", headers=AUTH).json()
    assert [(v["versie"], v["oorzaak"], v["reden_wijziging"]) for v in detail["geschiedenis"]] == [
        (1, "beschikking", None),
        (2, "wijziging", "04"),
    ]
    assert detail["geschiedenis"][0]["staat"]["einddatum"] == "2027-05-31"
    assert len(detail["berichten"]) == 2


def test_shortening_is_reden_05(api: httpx.Client, runtime: Runtime) -> None:
    nummer = _create(api)
    response = _change(api, nummer, einddatum="2027-02-28")
    assert _sent(runtime, response)[nummer].reden_wijziging == "05"


def test_volume_change_with_frequentie_6_keeps_the_number(api: httpx.Client, runtime: Runtime) -> None:
    nummer = _create(api, omvang={"volume": 40, "eenheid": "04", "frequentie": "6"})
    response = _change(
        api, nummer, omvang={"volume": 60, "eenheid": "04", "frequentie": "6"}, reden_wijziging="04"
    )
    assert response.status_code == 200, response.text
    assert response.json()["nieuw"] == []
    omvang = _sent(runtime, response)[nummer].omvang
    assert omvang is not None and omvang.volume == 60


def test_other_omvang_change_ends_the_old_and_issues_a_new_number(
    api: httpx.Client, runtime: Runtime
) -> None:
    nummer = _create(api)
    response = _change(
        api,
        nummer,
        omvang={"volume": 6, "eenheid": "04", "frequentie": "2"},
        ingangsdatum="2027-02-01",
        reden_wijziging="03",
    )
    assert response.status_code == 200, response.text
    [new] = response.json()["nieuw"]
    assert new["toewijzingnummer"] != nummer and new["vervangt"] == nummer
    assert new["ingangsdatum"] == "2027-02-01" and new["einddatum"] == "2027-05-31" and new["volume"] == 6
    [old] = response.json()["gewijzigd"]
    assert old["einddatum"] == "2027-01-31" and old["reden_wijziging"] == "03"
    sent = _sent(runtime, response)
    assert set(sent) == {nummer, new["toewijzingnummer"]}  # OP087: the ended one and the new one


def test_volume_change_without_frequentie_6_needs_a_new_number(api: httpx.Client) -> None:
    nummer = _create(api)
    response = _change(
        api,
        nummer,
        omvang={"volume": 5, "eenheid": "04", "frequentie": "2"},
        ingangsdatum="2027-03-01",
        reden_wijziging="03",
    )
    assert response.status_code == 200
    assert len(response.json()["nieuw"]) == 1


def test_delete_is_reden_13_with_einddatum_ingangsdatum(api: httpx.Client, runtime: Runtime) -> None:
    nummer = _create(api)
    response = _change(api, nummer, verwijderen=True)
    assert response.status_code == 200, response.text
    product = _sent(runtime, response)[nummer]
    assert product.reden_wijziging == "13" and product.einddatum == product.ingangsdatum
    again = _change(api, nummer, einddatum="2027-12-31")
    assert again.status_code == 422
    assert again.json()["errors"][0]["rule"] == "toewijzing-deleted"


def test_budget_change_keeps_the_number_and_needs_a_reden(api: httpx.Client, runtime: Runtime) -> None:
    nummer = _create(api, code=None, omvang=None, budget=100000)
    missing = _change(api, nummer, budget=150000)
    assert missing.status_code == 422 and missing.json()["errors"][0]["rule"] == "reden-required"
    response = _change(api, nummer, budget=150000, reden_wijziging="03")
    assert _sent(runtime, response)[nummer].budget == 150000


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({}, "nothing-to-change"),
        ({"einddatum": "2026-01-01"}, "period-end-before-start"),
        ({"budget": 100, "reden_wijziging": "03"}, "not-a-budget-toewijzing"),
        ({"verwijderen": True, "einddatum": "2027-01-01"}, "delete-alone"),
        ({"einddatum": "2027-12-31", "reden_wijziging": "99"}, "code-list-WJ/COD RedenWijziging"),
        (
            {
                "omvang": {"volume": 1, "eenheid": "04", "frequentie": "2"},
                "ingangsdatum": "2026-11-01",
                "reden_wijziging": "03",
            },
            "new-number-after-start",
        ),
    ],
)
def test_changes_the_standard_does_not_allow_are_specific_422s(
    api: httpx.Client, runtime: Runtime, body: dict[str, Any], rule: str
) -> None:
    nummer = _create(api)
    response = _change(api, nummer, **body)
    assert response.status_code == 422, response.text
    assert rule in [e["rule"] for e in response.json()["errors"]]
    detail = api.get(f"/api/v1/toewijzingen/{nummer}", headers=AUTH).json()
    assert len(detail["geschiedenis"]) == 1 and len(detail["berichten"]) == 1  # nothing half-written


def test_extending_into_another_toewijzing_of_the_same_product_is_tr302(api: httpx.Client) -> None:
    first = _create(api)
    later = beschikking_body(periode={"begindatum": "2027-06-01", "einddatum": "2027-12-31"})
    assert api.post("/api/v1/beschikkingen", json=later, headers=AUTH).status_code == 201
    response = _change(api, first, einddatum="2027-07-31")
    assert response.status_code == 422
    assert response.json()["errors"][0]["rule"] == "overlapping-toewijzing-TR302"


def test_unknown_toewijzing_is_404(api: httpx.Client) -> None:
    assert _change(api, 424242, einddatum="2027-01-01").status_code == 404
    assert api.get("/api/v1/toewijzingen/424242", headers=AUTH).status_code == 404
