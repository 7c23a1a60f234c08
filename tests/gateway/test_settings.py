"""Settings: file, environment and their precedence; the refusals an operator must see.

Every test starts from a clean environment (no ``GATEWAY_*`` variables, an empty
working directory) so a developer's own ``gateway.env`` cannot change the outcome.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import Mode, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _settings_file(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "elsewhere" / "production.env"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("GATEWAY_SETTINGS_FILE", str(path))
    return path


def test_the_file_named_by_gateway_settings_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settings_file(tmp_path, "GATEWAY_PORT=9100\nGATEWAY_GEMEENTE_NAAM=Delft\n", monkeypatch)
    settings = load_settings()
    assert settings.port == 9100
    assert settings.gemeente_naam == "Delft"


def test_environment_variables_win_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _settings_file(tmp_path, "GATEWAY_PORT=9100\nGATEWAY_GEMEENTE_NAAM=Delft\n", monkeypatch)
    monkeypatch.setenv("GATEWAY_PORT", "9200")
    settings = load_settings()
    assert settings.port == 9200
    assert settings.gemeente_naam == "Delft"  # not overridden: still from the file


def test_explicit_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "9200")
    assert load_settings(port=9300).port == 9300


def test_gateway_env_in_the_working_directory_is_the_default_file(tmp_path: Path) -> None:
    (tmp_path / "gateway.env").write_text("GATEWAY_HOST=10.1.2.3\n", encoding="utf-8")
    assert load_settings().host == "10.1.2.3"


def test_nested_settings_use_a_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_RETRY__INITIAL_DELAY_S", "5")
    monkeypatch.setenv("GATEWAY_DELIVERY__CONCURRENCY", "8")
    settings = load_settings()
    assert settings.retry.initial_delay_s == 5.0
    assert settings.retry.multiplier == 2.0  # the rest of the group keeps its defaults
    assert settings.delivery.concurrency == 8


def test_nested_setting_from_the_file_is_overridden_per_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settings_file(tmp_path, "GATEWAY_RETRY__INITIAL_DELAY_S=7\nGATEWAY_RETRY__HORIZON_DAYS=2\n", monkeypatch)
    monkeypatch.setenv("GATEWAY_RETRY__INITIAL_DELAY_S", "3")
    settings = load_settings()
    assert (settings.retry.initial_delay_s, settings.retry.horizon_days) == (3.0, 2.0)


@pytest.mark.parametrize("code", ["637", "06370", "ZTM1", ""])
def test_an_invalid_gemeentecode_is_refused_with_a_clear_message(
    code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_GEMEENTECODE", code)
    with pytest.raises(ValidationError) as raised:
        load_settings()
    assert "gemeentecode must be the 4-digit CBS code" in str(raised.value)


def test_a_valid_gemeentecode_keeps_its_leading_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_GEMEENTECODE", "0363")
    assert load_settings().gemeentecode == "0363"


def test_production_mode_without_a_bsn_hash_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_MODE", "production")
    with pytest.raises(ValidationError) as raised:
        load_settings()
    assert "GATEWAY_BSN_HASH_KEY must be set in production mode" in str(raised.value)


def test_production_mode_with_a_bsn_hash_key_uses_that_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_MODE", "production")
    monkeypatch.setenv("GATEWAY_BSN_HASH_KEY", "a-real-secret-of-at-least-32-characters")
    monkeypatch.setenv("GATEWAY_ENCRYPTION__KEYS", '{"k1": "' + "A" * 43 + '="}')
    settings = load_settings()
    assert settings.mode is Mode.PRODUCTION
    assert settings.hash_key == b"a-real-secret-of-at-least-32-characters"


def test_production_mode_refuses_a_short_bsn_hash_key_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A short HMAC key makes the BSN search hashes brute-forceable (10^9 candidates)."""
    monkeypatch.setenv("GATEWAY_MODE", "production")
    monkeypatch.setenv("GATEWAY_BSN_HASH_KEY", "x" * 31 + "!")
    monkeypatch.setenv("GATEWAY_ENCRYPTION__KEYS", '{"k1": "' + "A" * 43 + '="}')
    assert load_settings().mode is Mode.PRODUCTION  # exactly 32 characters: accepted
    monkeypatch.setenv("GATEWAY_BSN_HASH_KEY", "short-secret-31-characters-long")
    with pytest.raises(ValidationError) as raised:
        load_settings()
    errors = raised.value.errors(include_input=False)
    assert [error["msg"] for error in errors] == [
        "Value error, GATEWAY_BSN_HASH_KEY must have at least 32 characters in production mode"
        " (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    ]


def test_development_mode_falls_back_to_the_development_hash_key() -> None:
    settings = load_settings()
    assert settings.mode is Mode.DEVELOPMENT
    assert settings.hash_key  # never empty: an empty HMAC key would still "work", silently


def test_default_sqlite_database_lives_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "var" / "gateway"
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(data_dir))
    settings = load_settings()
    assert settings.effective_database_url == f"sqlite:///{data_dir.resolve() / 'gateway.db'}"


def test_relative_default_data_dir_is_resolved_against_the_working_directory(tmp_path: Path) -> None:
    url = load_settings().effective_database_url
    assert url == f"sqlite:///{(tmp_path / 'data' / 'gateway.db').resolve()}"


def test_an_explicit_database_url_is_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://gateway@db.example:5432/gateway"
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    assert load_settings().effective_database_url == url


def test_derived_urls_follow_host_and_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "9400")
    monkeypatch.setenv("GATEWAY_MOCK_PORT", "9401")
    settings = load_settings()
    assert settings.inbound_ggk_url == "http://127.0.0.1:9400/ggk/soap"
    assert settings.effective_ggk_url == "http://127.0.0.1:9401/ggk/soap"
