"""``gateway apikey create|rotate|revoke|list`` in-process against a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from gateway.api_keys import create_client, find_client
from gateway.cli import _prepare, seed_development_client
from gateway.runtime import Runtime
from gateway.settings import DEV_API_KEY, Mode, load_settings
from gateway.store.database import transaction
from tests.conftest import make_settings
from tests.gateway.test_cli import data_dir, invoke  # noqa: F401 - data_dir is a fixture


def _client_of(key: str) -> str | None:
    runtime = Runtime.create(load_settings())
    try:
        with runtime.sessions() as session:
            client = find_client(session, key, runtime.clock.now())
            return None if client is None else client.name
    finally:
        runtime.close()


def _last_line(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output + str(result.exception)
    return result.stdout.strip().splitlines()[-1]


def test_rotate_revoke_and_list(data_dir: Path) -> None:  # noqa: F811
    assert invoke("db", "upgrade").exit_code == 0
    old = _last_line("apikey", "create", "jeugd-bo", "--scope", "jeugdwet:write", "--rate-per-minute", "120")
    new = _last_line("apikey", "rotate", "jeugd-bo")
    assert new != old and _client_of(old) == _client_of(new) == "jeugd-bo"

    listing = invoke("apikey", "list").stdout
    assert "jeugd-bo  scopes=jeugdwet:write  rate=120/min" in listing
    assert f"gw_{old.split('_')[1]}_" in listing and f"gw_{new.split('_')[1]}_" in listing
    assert old not in listing and new not in listing  # prefixes only, never a key

    assert "revoked 1 key(s)" in _last_line("apikey", "revoke", old.split("_")[1])
    assert _client_of(old) is None and _client_of(new) == "jeugd-bo"
    assert "revoked" in invoke("apikey", "list").stdout


def test_rotate_with_a_grace_of_zero_hours_ends_the_old_key_at_once(data_dir: Path) -> None:  # noqa: F811
    assert invoke("db", "upgrade").exit_code == 0
    old = _last_line("apikey", "create", "wmo-bo", "--scope", "wmo:read")
    new = _last_line("apikey", "rotate", "wmo-bo", "--old-valid-hours", "0")
    assert _client_of(old) is None and _client_of(new) == "wmo-bo"


def test_unknown_client_and_unknown_prefix_fail_clearly(data_dir: Path) -> None:  # noqa: F811
    assert invoke("db", "upgrade").exit_code == 0
    rotate = invoke("apikey", "rotate", "nobody")
    assert rotate.exit_code != 0 and "no API client named 'nobody'" in rotate.output
    revoke = invoke("apikey", "revoke", "deadbeef")
    assert revoke.exit_code == 1 and "no active key with prefix 'deadbeef'" in revoke.output


def test_production_start_revokes_the_published_quickstart_key(runtime: Runtime, tmp_path: Path) -> None:
    """A database taken over from the Quickstart must not let the README's key in."""
    seed_development_client(runtime)
    other = _create_client_in(runtime, "jeugd-bo")
    keys = {"keys": {"k1": "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE="}}
    settings = make_settings(runtime.settings.effective_database_url, tmp_path, encryption=keys)
    production = _prepare(settings.model_copy(update={"mode": Mode.PRODUCTION}))
    try:
        with production.sessions() as session:
            assert find_client(session, DEV_API_KEY, production.clock.now()) is None
            assert find_client(session, other, production.clock.now()) is not None  # others untouched
    finally:
        production.close()


def _create_client_in(runtime: Runtime, name: str) -> str:
    with transaction(runtime.sessions) as session:
        _client, key = create_client(session, name, ["jeugdwet:write"], runtime.clock.now())
    return key
