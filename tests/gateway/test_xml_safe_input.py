"""Characters XML cannot carry are refused at the API with a 422 naming the field and the
code point - not a 500 from the renderer later - and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from gateway.api.xml_safe import check_xml_text
from gateway.app import create_app
from gateway.runtime import Runtime
from gateway.store.tables import Beschikking, Message
from tests.conftest import AUTH, beschikking_body
from tests.live_server import live_server


@pytest.fixture
def api(runtime: Runtime) -> Iterator[httpx.Client]:
    with live_server(create_app(runtime)) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield client


@pytest.mark.parametrize(
    ("escaped", "says"),
    [
        ("\\u0001", "U+0001"),
        ("\\u001b", "U+001B"),
        ("\\ufffe", "U+FFFE"),
        ("\\ud800", "valid string"),  # a lone surrogate: pydantic's own refusal
    ],
)
def test_a_character_xml_cannot_carry_is_a_422_naming_the_field(
    api: httpx.Client, runtime: Runtime, escaped: str, says: str
) -> None:
    raw = json.dumps(beschikking_body()).replace('"Jansen"', f'"Jan{escaped}sen"', 1)
    response = api.post(
        "/api/v1/beschikkingen", content=raw, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "client.naam.achternaam"
    assert says in error["message"] and "Jan" not in response.text
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Beschikking)) == 0
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_the_same_line_in_a_bulk_file_is_rejected_on_its_own(api: httpx.Client) -> None:
    good = json.dumps(beschikking_body())
    bad = json.dumps(beschikking_body()).replace('"Jansen"', '"Jan\\u0007sen"', 1)
    response = api.post(
        "/api/v1/beschikkingen/bulk",
        content=f"{good}\n{bad}\n",
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line.get("status") for line in lines[:2]] == ["accepted", "rejected"]
    assert "U+0007" in json.dumps(lines[1]["problem"])


def test_tab_newline_and_every_plane_are_fine() -> None:
    text = "regel 1\n\tregel 2\r\n é € 𝄞 \ud7ff \ue000 \ufffd"
    assert check_xml_text(text) == text
