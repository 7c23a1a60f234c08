"""Shared fixtures: a real database (SQLite and PostgreSQL), a runtime, live servers.

PostgreSQL: ``GATEWAY_TEST_POSTGRES_URL`` (default: the local server's ``test``
database). Without a reachable server the PostgreSQL variants are skipped with the
reason - unless ``GATEWAY_REQUIRE_POSTGRES=1`` (CI), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from gateway.api_keys import ALL_SCOPES, create_client
from gateway.clock import SystemClock
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store.database import transaction
from gateway.store.migrate import upgrade
from gateway.store.tables import Base

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REFERENCE = PROJECT_ROOT / ".." / "shared" / "reference"
POSTGRES_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("GATEWAY_REQUIRE_POSTGRES") == "1"
TEST_API_KEY = "gw_testkey1_" + "s" * 40
BSN = "999900006"


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(
            POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
            connect_args={"connect_timeout": 3},
        )
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return None


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database for this test session on the PostgreSQL server, migrated."""
    problem = _postgres_problem()
    if problem is not None:
        where = make_url(POSTGRES_URL).render_as_string(hide_password=True)
        message = f"PostgreSQL not reachable at {where}: {problem}"
        if REQUIRE_POSTGRES:
            pytest.fail(f"GATEWAY_REQUIRE_POSTGRES=1 but {message}")
        pytest.skip(
            message + " (set GATEWAY_TEST_POSTGRES_URL, or GATEWAY_REQUIRE_POSTGRES=1 to fail instead)"
        )
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"gw_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "gateway.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "gateway.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_database")
    engine = create_engine(url)
    with engine.begin() as connection:
        _empty_postgres_database(connection)
    engine.dispose()
    return url


def _empty_postgres_database(connection: Connection) -> None:
    """Empty every table and restart every identity, as ``TRUNCATE … RESTART IDENTITY`` would.

    Truncating all ~40 tables costs most of a second per test (a new file per table),
    while most tests leave most tables empty: find the non-empty ones in one query and
    truncate only those; reset every sequence in the same transaction.
    """
    probe = " UNION ALL ".join(
        f"SELECT '{table.name}' WHERE EXISTS (SELECT 1 FROM \"{table.name}\")"  # noqa: S608 - our own table names
        for table in Base.metadata.sorted_tables
    )
    filled = [row[0] for row in connection.execute(text(probe))]
    if filled:
        names = ", ".join(f'"{name}"' for name in filled)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    connection.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'"))


def make_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "data_dir": tmp_path,
        "retry": {
            "initial_delay_s": 0.05,
            "multiplier": 2,
            "max_delay_s": 0.5,
            "jitter_s": 0.0,
            "horizon_days": 1,
        },
        "delivery": {
            "poll_interval_s": 0.05,
            "send_timeout_s": 2.0,
            "connect_timeout_s": 1.0,
            "lease_s": 30,
            # Tests retry within fractions of a second: a route's circuit rests as briefly.
            "circuit_cool_down_s": 0.5,
        },
        "mock_retour_delay_s": 0.05,
        "log_json": True,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime.create(make_settings(database_url, tmp_path), SystemClock())
    with transaction(rt.sessions) as session:
        create_client(session, "test-backoffice", list(ALL_SCOPES), rt.clock.now(), key=TEST_API_KEY)
    yield rt
    rt.close()


def beschikking_body(**overrides: object) -> dict[str, object]:
    """A valid jeugdhulp beschikking as the back-office posts it."""
    body: dict[str, object] = {
        "beschikkingnummer": f"JW-{uuid.uuid4().hex[:8]}",
        "wet": "jeugdwet",
        "client": {
            "bsn": BSN,
            "geboortedatum": "2014-03-21",
            "geslacht": "2",
            "naam": {"achternaam": "Jansen", "voornamen": "Sanne", "voorletters": "S"},
            "adres": {
                "straatnaam": "Markt",
                "huisnummer": 1,
                "postcode": "2711AA",
                "plaatsnaam": "Zoetermeer",
            },
        },
        "periode": {"begindatum": "2026-12-01", "einddatum": "2027-05-31"},
        "verwijzer": {"type": "01", "naam": "Jeugdteam Zoetermeer"},
        "producten": [
            {
                "categorie": "45",
                "code": "45A08",
                "aanbieder_agb": "99990001",
                "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
            },
        ],
    }
    body.update(overrides)
    return body


AUTH = {"X-API-Key": TEST_API_KEY}
