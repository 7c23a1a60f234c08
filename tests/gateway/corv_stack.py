"""The gateway and the mock CORV hub running together over real loopback HTTP.

Starting a stack (two uvicorn servers, a runtime, a worker) and cleaning a PostgreSQL
database cost about a second each, so tests that can share one do: ``corv_stack`` is
one stack per test module and database (``shared_corv_stack``), handed to each test with
the mock hub reset and its marks moved on, so that ``events()``, ``new_items()`` and
``mark`` show only what this test caused. Tests that need other settings, a restart
or a hub of their own start their own with ``running_corv_stack`` / ``gateway_only``.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from gateway.api_keys import ALL_SCOPES, create_client
from gateway.app import create_app
from gateway.delivery.assembly import build_worker
from gateway.delivery.circuit import CircuitBreakers
from gateway.delivery.worker import DeliveryWorker
from gateway.runtime import Runtime
from gateway.store.corv_tables import CorvInbound, CorvZorgmelding
from gateway.store.database import transaction
from gateway.store.migrate import upgrade
from gateway.store.tables import ApiClient, Base, Event
from tests.conftest import AUTH, POSTGRES_URL, REFERENCE, TEST_API_KEY, make_settings
from tests.live_server import free_port, live_server

#: The test clients talk plain HTTP over loopback: one TLS context for all of them
#: (httpx would otherwise load the CA bundle for every client, ~0.1 s each).
_CLIENT_TLS = ssl.create_default_context()

GEMEENTE_OIN = "00000099000000000637"
CORV_OIN = "00000099000000001000"
PDF = b"%PDF-1.4\n% test document\n" + b"x" * 2000 + b"\n%%EOF\n"


def vto_body(zaak: str = "ZAAK-2026-0001", **overrides: Any) -> dict[str, Any]:
    """A valid VTO as the back-office posts it (documents as multipart parts)."""
    body: dict[str, Any] = {
        "zaak_identificatie": zaak,
        "omschrijving": "Zorgen over de veiligheid",
        "startdatum": "2026-11-01",
        "urgentie": "laag",
        "kinderen": [
            {
                "persoon": {
                    "bsn": "999900006",
                    "geslachtsnaam": "Jansen",
                    "voornamen": "Sam",
                    "geboortedatum": "2015-03-01",
                }
            }
        ],
        "belanghebbenden": [
            {
                "rol": "ouder met gezag",
                "persoon": {
                    "bsn": "999900031",
                    "anp_identificatie": "12345678901234567",
                    "geslachtsnaam": "Jansen",
                    "voorletters": "A.",
                },
            }
        ],
        "uitvoerende": {"achternaam": "de Vries", "organisatie": "Gemeente Zoetermeer", "voorletters": "P."},
        "documenten": [
            {"soort": "Verzoek tot onderzoek RvdK", "bestandsnaam": "verzoek.pdf", "part": "doc1"}
        ],
    }
    body.update(overrides)
    return body


def corv_settings(mock_url: str, **overrides: Any) -> dict[str, Any]:
    corv: dict[str, Any] = {
        "parties": [
            {"oin": CORV_OIN, "url": f"{mock_url}/corv/ebms", "retries": 3, "retry_interval_s": 0.2},
        ]
    }
    corv.update(overrides)
    return corv


@dataclass
class CorvStack:
    runtime: Runtime
    worker: DeliveryWorker
    api: httpx.Client
    mock: httpx.Client | None
    gateway_url: str
    #: The highest event / corv_inbound / corv_zorgmeldingen id before this test began.
    mark: dict[str, int] = field(default_factory=lambda: {"event": 0, "inbound": 0, "zorgmelding": 0})

    def begin_test(self) -> None:
        """A shared stack's next test: the hub forgets everything, marks move to now."""
        if self.mock is not None:
            self.mock.post("/_mock/corv/reset").raise_for_status()
        # closed circuits, as a new stack has (an earlier test's failures do not count here)
        old = self.worker.circuits
        self.worker.circuits = CircuitBreakers(
            old.threshold, old.cool_down.total_seconds(), self.runtime.clock.now, owner=old.owner
        )
        with self.runtime.sessions() as session:
            self.mark = {
                "event": session.scalar(select(func.max(Event.id))) or 0,
                "inbound": session.scalar(select(func.max(CorvInbound.id))) or 0,
                "zorgmelding": session.scalar(select(func.max(CorvZorgmelding.id))) or 0,
            }

    def new_items(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """A CORV list (notificaties, zorgmeldingen) without the rows of earlier tests."""
        mark = self.mark["zorgmelding" if "zorgmeldingen" in path else "inbound"]
        return [item for item in self.get(path, limit=500, **params)["items"] if item["id"] > mark]

    def post_vto(self, body: dict[str, Any], documents: dict[str, bytes] | None = None) -> httpx.Response:
        files: dict[str, Any] = {"vto": (None, json.dumps(body), "application/json")}
        for name, data in (documents if documents is not None else {"doc1": PDF}).items():
            files[name] = (f"{name}.pdf", data, "application/pdf")
        return self.api.post("/api/v1/corv/vto", files=files, headers=AUTH)

    def accepted_vto(self, body: dict[str, Any], documents: dict[str, bytes] | None = None) -> dict[str, Any]:
        response = self.post_vto(body, documents)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def vto(self, vto_id: int) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/corv/vto/{vto_id}", headers=AUTH)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def wait_vto(self, vto_id: int, *states: str, timeout_s: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            detail = self.vto(vto_id)
            if detail["state"] in states:
                return detail
            if time.monotonic() > deadline:
                raise AssertionError(f"VTO {vto_id} stayed {detail['state']}, wanted {states}: {detail}")
            time.sleep(0.05)

    def get(self, path: str, **params: Any) -> Any:
        response = self.api.get(path, params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        return response.json()

    def hub_send(self, what: str, body: dict[str, Any] | None = None) -> Any:
        """Have the mock hub send a message (``/_mock/corv/send/{what}``); its send record."""
        assert self.mock is not None
        response = self.mock.post(f"/_mock/corv/send/{what}", json=body or {})
        assert response.status_code == 200, response.text
        return response.json()

    def events(self, prefix: str = "corv.") -> list[dict[str, Any]]:
        """This test's events (after ``mark["event"]``) whose type starts with ``prefix``."""
        items: list[dict[str, Any]] = self.get("/api/v1/events", after=self.mark["event"], limit=1000)[
            "items"
        ]
        return [e for e in items if e["type"].startswith(prefix)]

    def wait_events(self, type_: str, count: int = 1, timeout_s: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            found = [e for e in self.events() if e["type"] == type_]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} events {type_}, wanted {count}: {self.events()}")
            time.sleep(0.05)


def open_spool_files(stack: CorvStack) -> list[str]:
    """Files under the spool dir this process still holds open (deleted ones included).

    The spool files are anonymous (unlinked at creation), so an empty directory proves
    nothing: a file left open shows up only among the process's descriptors (Linux).
    """
    spool = str(stack.runtime.settings.data_dir / "spool")
    left = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(spool + "/"):
            left.append(target)
    return left


def _ensure_client(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        if session.query(ApiClient).filter_by(name="test-backoffice").first() is None:
            create_client(session, "test-backoffice", list(ALL_SCOPES), runtime.clock.now(), key=TEST_API_KEY)


@contextmanager
def gateway_only(
    database_url: str, tmp_path: Path, *, port: int | None = None, mock_url: str = "", **settings: Any
) -> Iterator[CorvStack]:
    """The gateway (API + worker) on a loopback port, configured to reach a CORV hub at ``mock_url``."""
    gateway_port = port or free_port()
    corv = settings.pop("corv", None) or corv_settings(mock_url or "http://127.0.0.1:9")
    config = make_settings(database_url, tmp_path, port=gateway_port, corv=corv, **settings)
    runtime = Runtime.create(config)
    _ensure_client(runtime)
    worker = build_worker(runtime)
    try:
        with (
            live_server(create_app(runtime, worker), gateway_port) as gateway_url,
            httpx.Client(base_url=gateway_url, timeout=30, verify=_CLIENT_TLS) as api,
        ):
            yield CorvStack(runtime, worker, api, None, gateway_url)
    finally:
        runtime.close()


#: The published jz0100 1.0.9 schema: the mock checks every VTO against it, as the
#: compliance platform does (None when the reference files are absent).
_PUBLISHED = REFERENCE / "corv" / "jz0100-1.0.9" / "jz0100_msg_jzberichten_resolved2025.xsd"


@contextmanager
def mock_hub(gateway_port: int, **config: Any) -> Iterator[httpx.Client]:
    """The mock CORV hub on a free loopback port, delivering to the gateway at ``gateway_port``."""
    from mocks.corv import MockCorvConfig
    from mocks.corv import create_app as create_mock_app

    values: dict[str, Any] = {
        "callback_url": f"http://127.0.0.1:{gateway_port}/corv/ebms",
        "answer_delay_s": 0.05,
        "callback_backoff_s": 0.05,
        "callback_backoff_max_s": 0.5,
        "published_schema": str(_PUBLISHED) if _PUBLISHED.exists() else None,
    }
    values.update(config)
    with (
        live_server(create_mock_app(MockCorvConfig(**values))) as mock_url,
        httpx.Client(base_url=mock_url, timeout=60, verify=_CLIENT_TLS) as mock,
    ):
        yield mock


@contextmanager
def running_corv_stack(database_url: str, tmp_path: Path, **settings: Any) -> Iterator[CorvStack]:
    """Gateway and mock CORV hub on free loopback ports, each calling the other."""
    gateway_port = free_port()
    with (
        mock_hub(gateway_port) as mock,
        gateway_only(
            database_url, tmp_path, port=gateway_port, mock_url=str(mock.base_url).rstrip("/"), **settings
        ) as stack,
    ):
        stack.mock = mock
        yield stack


_SHARED_POSTGRES: list[str] = []


def _shared_postgres(request: pytest.FixtureRequest) -> str:
    """A second PostgreSQL database of this session, for the shared stacks alone.

    A shared stack outlives the tests of its module that start their own stack: those
    clean and use the session's database (``database_url``), which a worker of the
    shared stack must not see. Created and migrated once, dropped when the session ends.
    """
    base = make_url(request.getfixturevalue("postgres_database"))  # skips or fails like any PG test
    if not _SHARED_POSTGRES:
        admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
        name = f"{base.database}_corv"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))

        def drop() -> None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        request.config.add_cleanup(drop)
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        _SHARED_POSTGRES.append(url)
    return _SHARED_POSTGRES[0]


def _fresh_database(request: pytest.FixtureRequest, kind: str, directory: Path) -> str:
    """A migrated, empty database of ``kind`` for one module (as ``database_url`` does per test)."""
    if kind == "sqlite":
        target = directory / "gateway.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = _shared_postgres(request)
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_corv_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CorvStack]:
    """Gateway + mock hub with the default test settings, once per module and database."""
    directory = tmp_path_factory.mktemp("corv-shared")
    with running_corv_stack(_fresh_database(request, request.param, directory), directory) as stack:
        yield stack


@pytest.fixture
def corv_stack(shared_corv_stack: CorvStack) -> CorvStack:
    """The module's shared stack, reset for this test (see :meth:`CorvStack.begin_test`)."""
    shared_corv_stack.begin_test()
    return shared_corv_stack


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CorvStack]:
    """The gateway alone (no hub), once per module and database: for input it must refuse."""
    directory = tmp_path_factory.mktemp("corv-gateway")
    with gateway_only(_fresh_database(request, request.param, directory), directory) as stack:
        yield stack
