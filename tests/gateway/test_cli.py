"""The ``gateway`` command line, as an operator uses it.

``db`` and ``apikey`` run in-process through Typer's test runner against a real SQLite
file; ``serve --with-mocks`` runs as a real subprocess on free ports and is stopped with
SIGINT, the way Ctrl+C (or ``docker stop``'s cousin SIGTERM) ends it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import inspect
from typer.testing import CliRunner, Result

from gateway.app import create_app
from gateway.cli import app
from gateway.runtime import Runtime
from gateway.settings import DEV_API_KEY, load_settings
from gateway.store.database import create_db_engine
from gateway.store.tables import Base
from tests.conftest import PROJECT_ROOT, _empty_postgres_database, beschikking_body
from tests.live_server import free_port, live_server

COMMANDS = [
    [],
    ["serve"],
    ["worker"],
    ["mocks"],
    ["db"],
    ["db", "upgrade"],
    ["apikey"],
    ["apikey", "create"],
]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean GATEWAY_* environment pointing at a fresh SQLite file under ``tmp_path``.

    The CLI configures logging onto the runner's (temporary) stderr; the previous
    logging setup is put back afterwards so later tests do not write to a closed stream.
    """
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    directory = tmp_path / "data"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(directory))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("GATEWAY_SETTINGS_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("GATEWAY_LOG_JSON", "false")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield directory
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = handlers, level


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _tables(url: str) -> set[str]:
    engine = create_db_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "gateway")
def test_every_command_has_help(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert "--help" in result.output


def test_serve_help_names_its_options() -> None:
    output = invoke("serve", "--help").output
    for option in ("--with-mocks", "--host", "--port"):
        assert option in output


def test_the_cli_module_leaves_the_api_and_the_intake_to_the_commands_that_use_them() -> None:
    """Every command (and each ``gateway import --jobs N`` job) pays for ``gateway.cli``'s imports.

    In a fresh interpreter: importing it must not pull in the FastAPI application, uvicorn,
    alembic or the intake (~1 s CPU together), and ``--help`` lists every command.
    """
    heavy = ["gateway.app", "fastapi", "uvicorn", "alembic", "gateway.bulk_intake", "gateway.tls.startup"]
    code = f"import sys, gateway.cli; print(sorted(name for name in {heavy!r} if name in sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    assert loaded.stdout.strip() == "[]", loaded.stderr
    output = invoke("--help").output
    commands = ("serve", "worker", "mocks", "db", "import", "apikey", "operator", "audit", "keys", "prune")
    for command in commands:
        assert command in output


def test_db_upgrade_creates_the_tables(data_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output + str(result.exception)
    assert "database at head" in result.stdout
    assert {t.name for t in Base.metadata.sorted_tables} <= _tables(url)
    assert invoke("db", "upgrade").exit_code == 0  # again: nothing to do, no error


def test_db_upgrade_without_a_database_url_uses_the_data_dir(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GATEWAY_DATABASE_URL")
    data_dir.mkdir()
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output + str(result.exception)
    assert (data_dir / "gateway.db").is_file()
    assert "api_clients" in _tables(f"sqlite:///{data_dir / 'gateway.db'}")


def _create_key(*args: str) -> str:
    assert invoke("db", "upgrade").exit_code == 0
    result = invoke("apikey", "create", *args)
    assert result.exit_code == 0, result.output + str(result.exception)
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("gw_")
    return key


def test_apikey_create_prints_a_key_that_authenticates(data_dir: Path) -> None:
    key = _create_key("jeugd-backoffice")
    runtime = Runtime.create(load_settings())
    try:
        with (
            live_server(create_app(runtime)) as base,
            httpx.Client(base_url=base, timeout=10) as client,
        ):
            assert client.get("/api/v1/events", headers={"X-API-Key": key}).status_code == 200
            wrong = key[:-1] + ("x" if key[-1] != "x" else "y")
            assert client.get("/api/v1/events", headers={"X-API-Key": wrong}).status_code == 401
            # all scopes by default: the write scope is there too (422 = past authentication)
            assert (
                client.post("/api/v1/beschikkingen", json={}, headers={"X-API-Key": key}).status_code == 422
            )
    finally:
        runtime.close()


def test_apikey_create_with_a_scope_grants_only_that_scope(data_dir: Path) -> None:
    key = _create_key("rapportage", "--scope", "events:read")
    runtime = Runtime.create(load_settings())
    try:
        with (
            live_server(create_app(runtime)) as base,
            httpx.Client(base_url=base, timeout=10) as client,
        ):
            assert client.get("/api/v1/events", headers={"X-API-Key": key}).status_code == 200
            refused = client.post("/api/v1/beschikkingen", json={}, headers={"X-API-Key": key})
            assert refused.status_code == 403
    finally:
        runtime.close()


def test_apikey_create_with_an_unknown_scope_fails_clearly(data_dir: Path, tmp_path: Path) -> None:
    assert invoke("db", "upgrade").exit_code == 0
    result = invoke("apikey", "create", "jeugd", "--scope", "beschikkingen:delete")
    assert result.exit_code == 2
    assert "unknown scopes: beschikkingen:delete" in result.output
    assert "gw_" not in result.stdout  # no key printed for a client that was not created
    engine = create_db_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT count(*) FROM api_clients").scalar()
    finally:
        engine.dispose()
    assert rows == 0


def test_invalid_settings_are_reported_in_one_line_without_secrets(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_GEMEENTECODE", "637")
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "postgresql+psycopg://gw:s3cret-pw@db.example/gw")
    result = invoke("db", "upgrade")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "invalid setting gemeentecode: Value error, gemeentecode must be the 4-digit CBS code, e.g. 0637"
    )
    assert "s3cret-pw" not in result.output
    assert "Traceback" not in result.output


def test_production_mode_without_a_hash_key_refuses_to_start(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_MODE", "production")
    result = invoke("serve")
    assert result.exit_code == 2
    assert "GATEWAY_BSN_HASH_KEY must be set in production mode" in result.stderr


def test_production_mode_with_a_short_hash_key_refuses_to_start_in_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_MODE", "production")
    monkeypatch.setenv("GATEWAY_BSN_HASH_KEY", "too-short-hash-secret")
    monkeypatch.setenv("GATEWAY_ENCRYPTION__KEYS", '{"k1": "' + "A" * 43 + '="}')
    result = invoke("serve")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(
        "invalid setting settings: Value error, GATEWAY_BSN_HASH_KEY must have at least 32 characters"
    )
    assert len(result.stderr.strip().splitlines()) == 1
    assert "too-short-hash-secret" not in result.output


# --- gateway serve --with-mocks, as a real process ------------------------------------------------


def _wait_for_health(base: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gateway exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"no /health within {timeout_s} s:\n{log.read_text()[-3000:]}")


def _poll_answered(client: httpx.Client, message_id: int, timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        detail: dict[str, Any] = client.get(
            f"/api/v1/berichten/{message_id}", headers={"X-API-Key": DEV_API_KEY}
        ).json()
        if detail["state"] == "answered":
            return detail
        assert detail["state"] in ("queued", "sending", "delivered"), detail
        assert time.monotonic() < deadline, f"not answered within {timeout_s} s: {detail}"
        time.sleep(0.02)


def test_serve_with_mocks_answers_a_decision_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    port, mock_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_PORT=str(port),
        GATEWAY_MOCK_PORT=str(mock_port),
        GATEWAY_DATA_DIR=str(tmp_path / "data"),
        GATEWAY_LOG_JSON="false",
        GATEWAY_SETTINGS_FILE=str(tmp_path / "absent.env"),
        PYTHONPATH=str(PROJECT_ROOT),
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", "from gateway.cli import main; main()", "serve", "--with-mocks"],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for_health(base, process, log)
            with httpx.Client(base_url=base, timeout=10) as client:
                started = time.monotonic()
                response = client.post(
                    "/api/v1/beschikkingen", json=beschikking_body(), headers={"X-API-Key": DEV_API_KEY}
                )
                assert response.status_code == 201, response.text
                message_id = response.json()["berichten"][0]["id"]
                detail = _poll_answered(client, message_id)
                elapsed = time.monotonic() - started
                retour = client.get(
                    f"/api/v1/berichten/{message_id}/retour", headers={"X-API-Key": DEV_API_KEY}
                )
            print(f"\nserve --with-mocks: POST -> answered in {elapsed:.3f} s")
            assert detail["answer"]["type"] == "JW302"
            assert detail["retour_codes"] == []
            assert retour.status_code == 200 and b"jw302" in retour.content.lower()

            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pytest.fail(f"gateway still running 10 s after SIGINT:\n{log.read_text()[-3000:]}")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    output = log.read_text()
    assert code == 0, f"exit code {code}:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    assert "delivery_worker_stopped" in output  # the worker was stopped, not abandoned
    assert DEV_API_KEY in output  # the development banner told the developer the key


# --- gateway serve --processes N, as real processes ------------------------------------------------


#: Six valid test BSNs: one client per decision, so no two overlap (TR302).
PROCESS_BSNS = ["999900006", "999900018", "999900031", "999900043", "999900055", "999900067"]


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child waits as a zombie until init reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.postgres
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc (Linux)")
def test_serve_processes_share_the_port_deliver_and_stop_together_on_sigterm(
    tmp_path: Path, postgres_database: str
) -> None:
    """Two forked processes answer on one port, each with its worker; SIGTERM stops both cleanly."""
    engine = create_db_engine(postgres_database)
    with engine.begin() as connection:
        _empty_postgres_database(connection)  # the fixed BSNs below: no earlier test's toewijzingen
    engine.dispose()
    port, mock_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_DATABASE_URL=postgres_database,
        GATEWAY_PORT=str(port),
        GATEWAY_MOCK_PORT=str(mock_port),
        GATEWAY_MOCK_RETOUR_DELAY_S="0",
        GATEWAY_DATA_DIR=str(tmp_path / "data"),
        GATEWAY_LOG_JSON="false",
        GATEWAY_SETTINGS_FILE=str(tmp_path / "absent.env"),
        PYTHONPATH=str(PROJECT_ROOT),
    )
    log, mock_log = tmp_path / "serve.log", tmp_path / "mock.log"
    with log.open("wb") as sink, mock_log.open("wb") as mock_sink:
        mock = subprocess.Popen(
            [sys.executable, "-c", "from gateway.cli import main; main()", "mocks"],
            cwd=tmp_path,
            env=env,
            stdout=mock_sink,
            stderr=subprocess.STDOUT,
        )
        process = subprocess.Popen(
            [sys.executable, "-c", "from gateway.cli import main; main()", "serve", "--processes", "2"],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for_health(base, process, log, timeout_s=120)  # forks after start-up, on a loaded CI box
            children = _children(process.pid)
            assert len(children) == 2, children
            ids = []
            for n in range(6):  # a new connection each: the kernel spreads them over both
                with httpx.Client(base_url=base, timeout=10) as client:
                    body = beschikking_body(beschikkingnummer=f"PROC-{n}")
                    body["client"] = {**body["client"], "bsn": PROCESS_BSNS[n]}  # type: ignore[dict-item]
                    response = client.post(
                        "/api/v1/beschikkingen", json=body, headers={"X-API-Key": DEV_API_KEY}
                    )
                    assert response.status_code == 201, response.text
                    ids.append(response.json()["berichten"][0]["id"])
            with httpx.Client(base_url=base, timeout=10) as client:
                for message_id in ids:
                    assert _poll_answered(client, message_id, timeout_s=60)["answer"]["type"] == "JW302"

            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pytest.fail(f"gateway still running 20 s after SIGTERM:\n{log.read_text()[-3000:]}")
        finally:
            if process.poll() is None:  # a failed test: the forked children (own groups) too
                for child in _children(process.pid):
                    os.kill(child, signal.SIGKILL)
            for running in (process, mock):
                if running.poll() is None:
                    running.kill()
                    running.wait()
    output = log.read_text()
    assert code == 0, f"exit code {code}:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    assert output.count("delivery_worker_stopped") == 2, output[-3000:]  # each child's worker
    for child in children:  # gone (or at most a zombie about to be reaped), not left running
        assert not _running(child)


def test_serve_processes_refuses_sqlite_in_one_line(data_dir: Path) -> None:
    result = invoke("serve", "--processes", "2")
    assert result.exit_code == 2
    assert "refusing to start: --processes needs PostgreSQL" in result.output


@pytest.mark.postgres
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc (Linux)")
def test_serve_processes_children_stop_when_the_parent_is_killed(
    tmp_path: Path, postgres_database: str
) -> None:
    """kill -9 of the parent (OOM killer, a careless operator) must not leave children holding the port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        GATEWAY_DATABASE_URL=postgres_database,
        GATEWAY_PORT=str(port),
        GATEWAY_DATA_DIR=str(tmp_path / "data"),
        GATEWAY_SETTINGS_FILE=str(tmp_path / "absent.env"),
        PYTHONPATH=str(PROJECT_ROOT),
    )
    log = tmp_path / "serve.log"
    children: list[int] = []
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from gateway.cli import main; main()",
                "serve",
                "--processes",
                "2",
                "--no-worker",
            ],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_health(f"http://127.0.0.1:{port}", process, log, timeout_s=120)
            children = _children(process.pid)
            assert len(children) == 2, children
            process.kill()
            process.wait()
            deadline = time.monotonic() + 20
            while any(_running(child) for child in children):
                assert time.monotonic() < deadline, f"children {children} outlived their parent"
                time.sleep(0.1)
        finally:
            for child in children:
                if _running(child):
                    os.kill(child, signal.SIGKILL)
            if process.poll() is None:
                process.kill()
                process.wait()
