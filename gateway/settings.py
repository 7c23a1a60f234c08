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
from typing import Any, Literal

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
    #: Eigen bijdrage via the CAK: what is chargeable and when it starts.
    eigen_bijdrage: EigenBijdragePolicy = Field(default_factory=lambda: EigenBijdragePolicy())
    #: PGB under trekkingsrecht via the SVB: intake rules, tariffs and percentages.
    pgb: PgbPolicy = Field(default_factory=lambda: PgbPolicy())

    @field_validator("webhooks")
    @classmethod
    def _unique_webhook_names(cls, value: list[WebhookSubscription]) -> list[WebhookSubscription]:
        names = [subscription.name for subscription in value]
        if len(names) != len(set(names)):
            raise ValueError("webhook subscription names must be unique")
        return value


class EigenBijdragePolicy(BaseModel):
    """Which Wmo provisions the CAK must know about (eigen bijdrage), per gemeente.

    Defaults follow the seed plans (GATEWAY.md section 4) on the iWmo product categories
    (WMO020): 01 hulp bij het huishouden, 02 begeleiding, 03 persoonlijke verzorging,
    04 kortdurend verblijf, 05 woondiensten, 06 overige individuele ondersteuning,
    07 dagbesteding, 08 vervoerdiensten, 09 overige groepsgerichte ondersteuning,
    10 overige maatwerkarrangementen, 11 rolstoelen, 12 vervoervoorzieningen,
    13 woonvoorzieningen and 14 overige hulpmiddelen are chargeable (WMO405);
    15 beschermd wonen has its own bijdrage (WMO407); 16 opvang, 17 spoedopvang and
    18 overige beschermd wonen en opvang are exempt. Cliëntondersteuning and algemene
    voorzieningen have no category of their own: list the gemeente's product codes for
    them in ``vrijgestelde_productcodes``. Youth care never goes to the CAK.
    """

    enabled: bool = True
    #: iWmo categories reported with a WMO405 (eigen bijdrage / abonnementstarief).
    bijdrage_categorieen: list[str] = [f"{n:02d}" for n in range(1, 15)]
    #: iWmo categories reported with a WMO407 (beschermd wonen).
    beschermd_wonen_categorieen: list[str] = ["15"]
    #: Product codes never reported, whatever their category (cliëntondersteuning, ...).
    vrijgestelde_productcodes: list[str] = []
    #: Product codes reported with a WMO405 although their category is not listed above.
    extra_bijdrage_productcodes: list[str] = []
    #: Categories whose provisions carry a kostprijs: hulpmiddelen and woonvoorzieningen.
    kostprijs_categorieen: list[str] = ["11", "12", "13", "14"]
    #: Delivery forms that are chargeable (ZIN, PGB).
    leveringsvormen: list[str] = ["ZIN", "PGB"]
    #: ``beschikking``: the bijdrage starts at the provision's start date as granted;
    #: ``start_bericht``: only once the aanbieder's 305 reports the care started (a PGB,
    #: having no aanbieder, starts at its granted date either way).
    start_trigger: Literal["beschikking", "start_bericht"] = "beschikking"
    #: Calendar months after granting within which the CAK must have the report.
    meldtermijn_maanden: int = Field(1, ge=1, le=12)
    meldtermijn_maanden_pgb: int = Field(4, ge=1, le=12)

    @field_validator(
        "bijdrage_categorieen", "beschermd_wonen_categorieen", "kostprijs_categorieen", mode="after"
    )
    @classmethod
    def _two_digit_categories(cls, value: list[str]) -> list[str]:
        for categorie in value:
            if len(categorie) != 2 or not categorie.isdigit() or not 1 <= int(categorie) <= 18:
                raise ValueError(f"{categorie!r} is not an iWmo product category 01-18")
        return value


class ZinTarief(BaseModel):
    """The cost of the cheapest adequate zorg in natura for a product: a PGB's ceiling.

    ``productcode`` None covers every product of the category without an entry of its
    own. ``norm_volume``/``norm_frequentie``: the omvang a PGB given as a budget (without
    an omvang) is measured against; without them such a budget cannot be checked.
    """

    wet: Literal["wmo", "jeugdwet"]
    categorie: str = Field(pattern=r"^[0-9]{2}$")
    productcode: str | None = Field(None, min_length=1, max_length=5)
    #: WJ756 eenheid the tariff is per (04 uur, 16 dagdeel, 14 etmaal ...).
    eenheid: str = Field(pattern=r"^[0-9]{2}$")
    #: Eurocent per eenheid.
    tarief: int = Field(ge=1)
    norm_volume: int | None = Field(None, ge=1)
    norm_frequentie: str | None = Field(None, pattern=r"^[1246]$")


def _default_zin_tarieven() -> list[ZinTarief]:
    """Illustrative tariffs - replace them with the gemeente's contracted ZIN tariffs.

    Begeleiding and dagbesteding at 40 euro per uur/dagdeel follow seed 001 (the 20 euro
    of a non-professional carer being 50% of the professional tariff).
    """
    return [
        ZinTarief(wet="wmo", categorie="01", eenheid="04", tarief=3000, norm_volume=3, norm_frequentie="2"),
        ZinTarief(wet="wmo", categorie="02", eenheid="04", tarief=4000, norm_volume=4, norm_frequentie="2"),
        ZinTarief(wet="wmo", categorie="03", eenheid="04", tarief=4000, norm_volume=4, norm_frequentie="2"),
        ZinTarief(wet="wmo", categorie="07", eenheid="16", tarief=4000, norm_volume=2, norm_frequentie="2"),
        ZinTarief(
            wet="jeugdwet", categorie="43", eenheid="04", tarief=6000, norm_volume=2, norm_frequentie="2"
        ),
        ZinTarief(
            wet="jeugdwet", categorie="45", eenheid="04", tarief=6000, norm_volume=2, norm_frequentie="2"
        ),
    ]


class PgbPolicy(BaseModel):
    """The gemeente's PGB rules (trekkingsrecht via the SVB); defaults from the seed plans.

    - no PGB for a minor (younger than ``meerderjarig_vanaf`` at the PGB's start) with a
      measure in ``uitsluitende_maatregelen`` overlapping the PGB period (001:3234-3236,
      002:4029-4033, 003:959-963);
    - the budget at most the cost of the cheapest adequate ZIN (000:1445-1447,
      002:4181-4183): ``zin_tarieven`` times the percentage for the kind of carer
      (``percentages``, 001:3262-3272), capped per category by ``categorie_percentages``
      (hulp bij het huishouden, Wmo 01: 85% of the basistarief, 001:3270-3272);
    - without a tariff for the product a PGB is refused when ``tarief_vereist``.
    """

    #: False: PGB products are refused (the gemeente does not use trekkingsrecht here).
    enabled: bool = True
    meerderjarig_vanaf: int = Field(18, ge=0, le=30)
    uitsluitende_maatregelen: list[Literal["ots", "voogdij", "jeugdreclassering", "gesloten_jeugdhulp"]] = [
        "ots",
        "voogdij",
        "jeugdreclassering",
        "gesloten_jeugdhulp",
    ]
    #: Percentage of the ZIN tariff per kind of carer (API ``hulpverlener``).
    percentages: dict[Literal["professioneel", "zelfstandige", "sociaal_netwerk"], int] = {
        "professioneel": 100,
        "zelfstandige": 85,
        "sociaal_netwerk": 50,
    }
    #: Product category -> the highest percentage for that category, whoever the carer.
    categorie_percentages: dict[str, int] = {"01": 85}
    zin_tarieven: list[ZinTarief] = Field(default_factory=_default_zin_tarieven)
    tarief_vereist: bool = True


# ``Settings`` names the policies (EigenBijdragePolicy, PgbPolicy) before they are defined
# (append-only layout): resolve its annotations now that they all exist.
Settings.model_rebuild()


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and file, with explicit overrides on top (CLI flags, tests).

    The file's path is looked up now, not when this module was imported, so a
    ``GATEWAY_SETTINGS_FILE`` set later (a test, an embedding program) is honoured.
    """
    env_file = os.environ.get("GATEWAY_SETTINGS_FILE", "gateway.env")
    return Settings(_env_file=env_file, **overrides)
