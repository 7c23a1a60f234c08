"""Bad input at scale: schemathesis against the published OpenAPI of the whole API.

Every operation in ``/openapi.json`` gets generated requests - valid, edge-case and
schema-violating - with a valid API key. Whatever comes in, the gateway must not answer
5xx, and every error it answers must be ``application/problem+json`` naming a status.
The chain endpoints (``/ggk/soap``, ``/corv/ebms``) answer in the chain's terms (SOAP
faults, ebMS errors), not problem+json; their bad input is fed by the hypothesis tests
of ``tests/faults/test_inbound_fuzz.py``. Example counts are bounded, so this runs in
well under a minute; the app runs in-process (ASGI) on a fresh SQLite database.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from gateway.api_keys import ALL_SCOPES, create_client
from gateway.app import create_app
from gateway.runtime import Runtime
from gateway.store.database import transaction
from tests.conftest import AUTH, TEST_API_KEY, make_settings
from tests.live_server import live_server

#: Chain-side endpoints: SOAP/ebMS in and out, refusals as SOAP faults with HTTP 500 by design.
CHAIN_PATHS = ("/ggk/soap", "/corv/ebms")
PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def gateway_app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[FastAPI]:
    """One app and database for every generated request (whatever they store stays)."""
    folder = tmp_path_factory.mktemp("schemathesis")
    database = folder / "gateway.db"
    shutil.copy(sqlite_template, database)
    runtime = Runtime.create(make_settings(f"sqlite:///{database}", folder))
    with transaction(runtime.sessions) as session:
        create_client(session, "schemathesis", list(ALL_SCOPES), runtime.clock.now(), key=TEST_API_KEY)
    yield create_app(runtime)
    runtime.close()


def _published_openapi() -> dict[str, object]:
    """The OpenAPI document as the app publishes it (building it touches no database)."""
    runtime = Runtime.create(make_settings("sqlite://", Path(tempfile.gettempdir())))
    try:
        return create_app(runtime).openapi()
    finally:
        runtime.close()


#: Examples from the schema and random (valid and invalid) requests, with a fixed seed; the
#: exhaustive "coverage" phase and stateful sequences would take minutes.
CONFIG = schemathesis.Config.from_dict(
    {"seed": 20261129, "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}}}
)
# Loaded at import: schemathesis' lazy (fixture-based) loader does not run under this pytest.
schema = schemathesis.openapi.from_dict(_published_openapi(), config=CONFIG).exclude(path=list(CHAIN_PATHS))


@schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_every_error_is_problem_json(case: schemathesis.Case[Any], gateway_app: FastAPI) -> None:
    response = case.call(app=gateway_app, headers=AUTH)
    where = f"{case.method} {case.formatted_path} -> {response.status_code}"
    assert response.status_code < 500, f"{where}: {response.text[:500]}"
    if response.status_code >= 400:
        media_type = response.headers.get("content-type", [""])[0].split(";")[0].strip()
        assert media_type == PROBLEM_JSON, f"{where}: content-type {media_type!r}: {response.text[:300]}"
        problem = json.loads(response.content)
        assert problem.get("status") == response.status_code, f"{where}: {problem}"
        assert problem.get("title"), f"{where}: a problem without a title: {problem}"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/toewijzingen/99999999999999999999999/pgb",
        "/api/v1/berichten/99999999999999999999999",
        "/api/v1/beschikkingen/99999999999999999999999",
    ],
)
def test_an_id_beyond_64_bits_is_a_422_problem_not_a_500(gateway_app: FastAPI, path: str) -> None:
    # Found by the test above: SQLite cannot bind such a number (OverflowError -> 500).
    with live_server(gateway_app) as base_url:
        response = httpx.get(f"{base_url}{path}", headers=AUTH, timeout=30)
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
