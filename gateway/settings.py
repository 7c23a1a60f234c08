"""One typed settings object, read from ``GATEWAY_*`` environment variables and a file.

The file is ``gateway.env`` in the working directory, or the path in
``GATEWAY_SETTINGS_FILE``; environment variables win over the file. Nested groups use
``__``: ``GATEWAY_RETRY__INITIAL_DELAY_S=5``.
"""

from __future__ import annotations

import os
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Only for development mode: a well-known key so the Quickstart's curl works.
DEV_API_KEY = "gw_dev_quickstart_key_not_for_production"
#: Only for development mode: the BSN search-hash key.
DEV_HASH_KEY = "development-only-bsn-hash-key"


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class RetrySettings(BaseModel):
    """Delivery retries towards a chain partner: exponential backoff with jitter, capped,
    given up (state ``expired``) after a horizon counted in days, as ebMS does."""

    initial_delay_s: float = Field(10.0, gt=0)
    multiplier: float = Field(2.0, ge=1)
    max_delay_s: float = Field(3600.0, gt=0)
    jitter_s: float = Field(5.0, ge=0)
    horizon_days: float = Field(5.0, gt=0)


class DeliverySettings(BaseModel):
    concurrency: int = Field(4, ge=1, le=64)
    batch_size: int = Field(20, ge=1, le=1000)
    poll_interval_s: float = Field(0.5, gt=0)
    lease_s: float = Field(120.0, gt=0)
    connect_timeout_s: float = Field(5.0, gt=0)
    #: Longer than this after the request was sent = outcome unknown, re-sent with the same ids.
    send_timeout_s: float = Field(30.0, gt=0)


class WebhookSubscription(BaseModel):
    """One receiver of events as signed HTTP POSTs (Standard Webhooks style).

    ``name`` becomes the outbox route ``webhook:<name>`` and the message's receiver;
    ``events`` lists event types (``deadline.verlopen``) or prefixes (``bericht.*``);
    empty means every event.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,19}$")
    url: str = Field(pattern=r"^https?://")
    #: HMAC-SHA256 key for the ``Webhook-Signature`` header; share it with the receiver only.
    secret: str = Field(min_length=16)
    events: list[str] = []


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_",
        env_nested_delimiter="__",
        env_file=os.environ.get("GATEWAY_SETTINGS_FILE", "gateway.env"),
        extra="ignore",
    )

    mode: Mode = Mode.DEVELOPMENT
    data_dir: Path = Path("data")
    #: Empty means SQLite at ``data_dir/gateway.db``.
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    #: Where chain parties (and the mocks) reach this gateway; default http://host:port.
    public_base_url: str = ""

    gemeentecode: str = "0637"
    gemeente_naam: str = "Zoetermeer"
    applicatie: str = "Gemeente-Gateway"

    #: The GGk's SOAP endpoint (default: the mock started by ``serve --with-mocks``).
    ggk_url: str = ""
    mock_port: int = Field(8081, ge=1, le=65535)
    mock_retour_delay_s: float = Field(0.5, ge=0)

    retry: RetrySettings = RetrySettings()
    delivery: DeliverySettings = DeliverySettings()

    #: HMAC key for BSN search hashes; required in production.
    bsn_hash_key: str = ""
    log_level: str = "INFO"
    #: JSON lines (production) or a readable console format.
    log_json: bool = True

    @field_validator("gemeentecode")
    @classmethod
    def _four_digits(cls, value: str) -> str:
        if len(value) != 4 or not value.isdigit():
            raise ValueError("gemeentecode must be the 4-digit CBS code, e.g. 0637")
        return value

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        if self.mode is Mode.PRODUCTION and not self.bsn_hash_key:
            raise ValueError("GATEWAY_BSN_HASH_KEY must be set in production mode")
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gateway.db').resolve()}"

    @property
    def effective_public_base_url(self) -> str:
        return self.public_base_url or f"http://{self.host}:{self.port}"

    @property
    def effective_ggk_url(self) -> str:
        return self.ggk_url or f"http://127.0.0.1:{self.mock_port}/ggk/soap"

    @property
    def hash_key(self) -> bytes:
        return (self.bsn_hash_key or DEV_HASH_KEY).encode()

    @property
    def inbound_ggk_url(self) -> str:
        return f"{self.effective_public_base_url}/ggk/soap"

    #: Werkdagen calendar (chain deadlines): extra days off, e.g. 5 May in a year the CAO
    #: makes it one, and national holidays (English or Dutch name as the ``holidays``
    #: package spells them) that are working days here. Good Friday is not a general day off.
    werkdagen_extra_free_days: list[date] = []
    werkdagen_excluded_holidays: list[str] = ["Good Friday"]
    #: How often open deadlines are checked for being overdue, and how many per transaction.
    deadline_scan_interval_s: float = Field(60.0, gt=0)
    deadline_scan_batch_size: int = Field(500, ge=1, le=10000)
    #: Webhook subscriptions; deliveries go through the outbox like chain messages.
    webhooks: list[WebhookSubscription] = []

    @field_validator("webhooks")
    @classmethod
    def _unique_webhook_names(cls, value: list[WebhookSubscription]) -> list[WebhookSubscription]:
        names = [subscription.name for subscription in value]
        if len(names) != len(set(names)):
            raise ValueError("webhook subscription names must be unique")
        return value


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and file, with explicit overrides on top (CLI flags, tests).

    The file's path is looked up now, not when this module was imported, so a
    ``GATEWAY_SETTINGS_FILE`` set later (a test, an embedding program) is honoured.
    """
    env_file = os.environ.get("GATEWAY_SETTINGS_FILE", "gateway.env")
    return Settings(_env_file=env_file, **overrides)
