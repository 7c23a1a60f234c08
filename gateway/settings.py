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
#: Only for development mode: an operations console login (role privacy_officer), seeded at start.
DEV_OPERATOR_NAME = "dev-operator"
#: Published in the README on purpose; a production start disables this account.
DEV_OPERATOR_PASSWORD = "dev-operator-password-not-for-production"  # noqa: S105 - documented dev-only login
#: Production: the BSN search-hash (HMAC) key has at least this many characters.
MIN_BSN_HASH_KEY_LENGTH = 32


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
    #: At most this many messages of one route in flight (``sending``) at once, counted in
    #: the database, so across all workers sharing it.
    route_concurrency: int = Field(8, ge=1, le=1000)
    #: Consecutive failed tries on a route that open its circuit (no claims for the route).
    circuit_failure_threshold: int = Field(5, ge=1)
    #: How long an open circuit waits before one probe message is let through.
    circuit_cool_down_s: float = Field(30.0, gt=0)
    #: PostgreSQL: wake the workers of every process (LISTEN/NOTIFY) when work is queued,
    #: not only the process's own (gateway.delivery.wakeups). Off behind a
    #: transaction-pooling PgBouncer, which cannot LISTEN.
    notify_workers: bool = True


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


#: The defaults of ``Settings.database_pool_size`` / ``database_max_overflow`` (why: there),
#: also :func:`gateway.store.database.create_db_engine`'s for engines built without settings.
DATABASE_POOL_SIZE = 24
DATABASE_MAX_OVERFLOW = 16


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
    #: PostgreSQL connections a process keeps open for reuse, and how many more it may open
    #: for a moment. The pool must cover the threads that use the database at once - ``serve``
    #: runs the inbound GGk pool (10), a delivery worker (``delivery.concurrency`` + 1) and
    #: the API's request threads - or every connection above it is opened for one
    #: transaction and closed again: a new PostgreSQL backend each time (a fork and cold
    #: catalog caches), which was a third of PostgreSQL's CPU in the round-trip benchmark.
    #: Connections open only when needed; SQLite ignores both.
    database_pool_size: int = Field(DATABASE_POOL_SIZE, ge=1, le=500)
    database_max_overflow: int = Field(DATABASE_MAX_OVERFLOW, ge=0, le=500)
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
        if self.mode is Mode.PRODUCTION and len(self.bsn_hash_key) < MIN_BSN_HASH_KEY_LENGTH:
            # A short HMAC key makes every BSN hash brute-forceable; the value is never echoed.
            raise ValueError(
                f"GATEWAY_BSN_HASH_KEY must have at least {MIN_BSN_HASH_KEY_LENGTH} characters in"
                " production mode (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if self.mode is Mode.PRODUCTION and not (self.encryption.keys or self.encryption.key_file):
            raise ValueError(
                "encryption keys must be set in production mode (GATEWAY_ENCRYPTION__KEYS or __KEY_FILE)"
            )
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
    #: CORV (justice chain, StUF jz0100 over ebMS2): own OIN, the hub(s), retries, sizes.
    corv: CorvSettings = Field(default_factory=lambda: CorvSettings())
    #: Operations: operator sessions, alerts, replay jobs, report categories (gateway.ops).
    ops: OpsSettings = Field(default_factory=lambda: OpsSettings())
    #: Mutual TLS towards the GGk (client certificate, CA bundle, the GGk's OIN).
    ggk_tls: OutboundTls = Field(default_factory=lambda: OutboundTls())
    #: The mutual-TLS listener for the chain endpoints; required in production mode.
    chain_tls: ChainTls = Field(default_factory=lambda: ChainTls())
    #: TLS for the back-office API listener (else plain HTTP: put a TLS proxy in front).
    api_tls: ApiTls = Field(default_factory=lambda: ApiTls())
    #: Back-office API: rate limit per client and request size limits per route.
    api_limits: ApiLimits = Field(default_factory=lambda: ApiLimits())
    #: Encryption at rest of bodies and personal fields (AES-256-GCM key ring).
    encryption: EncryptionSettings = Field(default_factory=lambda: EncryptionSettings())
    #: How long message bodies and message metadata are kept (the pruning job).
    retention: RetentionSettings = Field(default_factory=lambda: RetentionSettings())
    #: Optional OpenTelemetry traces (gateway.tracing); off by default.
    otel: OtelSettings = Field(default_factory=lambda: OtelSettings())

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


class OpsSettings(BaseModel):
    """The operations side (gateway.ops): operator sessions, alerts, replays, reports."""

    #: A session ends after this long unused, and in any case this long after login.
    session_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(12, ge=1, le=7 * 24)
    #: A route whose attempts have all failed for this long raises a ``route_failing`` alert.
    route_failing_minutes: int = Field(15, ge=1, le=24 * 60)
    #: Messages a replay job processes per transaction.
    replay_batch_size: int = Field(200, ge=1, le=5000)
    #: The most messages one replay job may take.
    replay_max_messages: int = Field(10000, ge=1, le=1_000_000)
    #: Product categories counted as residential (verblijf) in reports; the rest is ambulant.
    #: iWmo: 04 kortdurend verblijf, 15 beschermd wonen, 16 opvang, 17 spoedopvang,
    #: 18 overige beschermd wonen en opvang; iJw: 41 verblijf (excl. behandeling),
    #: 42 verblijf inclusief behandeling, 43 verblijf (combinatie), 54 pleegzorg (adjust).
    residential_categories: list[str] = ["04", "15", "16", "17", "18", "41", "42", "43", "54"]
    #: Argon2id cost of operator passwords (RFC 9106's second recommendation); lower only in tests.
    password_time_cost: int = Field(3, ge=1, le=20)
    password_memory_kib: int = Field(65536, ge=1024, le=4 * 1024 * 1024)
    #: Log-in throttle (gateway.ops.login_throttle, in memory, per process): after this many
    #: failures for one typed name, or from one client address, within the window, log-ins
    #: are refused (429) for ``login_lockout_initial_s``, doubling per lock-out up to the max.
    login_max_failures_per_name: int = Field(5, ge=1, le=1000)
    login_max_failures_per_address: int = Field(20, ge=1, le=100_000)
    login_failure_window_minutes: int = Field(15, ge=1, le=24 * 60)
    login_lockout_initial_s: int = Field(60, ge=1, le=24 * 3600)
    login_lockout_max_s: int = Field(3600, ge=1, le=7 * 24 * 3600)
    #: Names and addresses remembered at most (least recently used forgotten first).
    login_throttle_max_entries: int = Field(10_000, ge=100, le=1_000_000)


class CorvParty(BaseModel):
    """A CORV chain party (the hub) we exchange ebMS messages with, addressed by its OIN.

    Retries follow the CORV contract by default: 16 re-sends every 3 hours (a fixed
    interval, the same MessageId and bytes), after which the message expires.
    """

    oin: str = Field(pattern=r"^[0-9]{20}$")
    #: Its ebMS endpoint; empty means the mock started by ``serve --with-mocks``.
    url: str = Field("", pattern=r"^(https?://.*)?$")
    cpa_id: str = Field("CPA-CORV-0637", min_length=1, max_length=200)
    retries: int = Field(16, ge=0, le=1000)
    retry_interval_s: float = Field(3 * 3600.0, gt=0)
    #: Mutual TLS towards this party (its server certificate must carry ``oin``); empty:
    #: plain HTTP(S) without client certificate (development, the mock hub only).
    tls: OutboundTls = Field(default_factory=lambda: OutboundTls())


class CorvSettings(BaseModel):
    """CORV: the gemeente's own OIN, the parties, and the size limits of the contract."""

    #: The gemeente's 20-digit OIN (From of what we send, To of what we accept).
    oin: str = Field("00000099000000000637", pattern=r"^[0-9]{20}$")
    #: The first party is where VTOs go; inbound messages are accepted from any of them.
    parties: list[CorvParty] = Field(
        default_factory=lambda: [CorvParty(oin="00000099000000001000")], min_length=1
    )
    #: One document, decoded (the VTO documents: at most 21 MB each).
    max_document_bytes: int = Field(21 * 1024 * 1024, ge=1024)
    #: One HTTP body (ebMS multipart with base64 documents), in and out.
    max_message_bytes: int = Field(120 * 1024 * 1024, ge=64 * 1024)

    @field_validator("parties")
    @classmethod
    def _unique_oins(cls, value: list[CorvParty]) -> list[CorvParty]:
        oins = [party.oin for party in value]
        if len(oins) != len(set(oins)):
            raise ValueError("CORV party OINs must be unique")
        return value


class ApiLimits(BaseModel):
    """Limits per back-office client (a client's own values in ``gateway apikey`` win).

    Rate: a token bucket per client and gateway process - ``rate_per_minute`` sustained,
    ``burst`` at once; over it: 429 with Retry-After. None = no default limit (bulk
    loads and tests poll hard); set it per client, or here for all. Size: the largest
    request body, ``max_body_bytes`` unless a ``route_max_body_bytes`` path prefix matches
    (longest wins); over it: 413. CORV uploads (VTOs with documents of up to 21 MB) are big.
    """

    rate_per_minute: int | None = Field(None, ge=1)
    burst: int = Field(60, ge=1)
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    route_max_body_bytes: dict[str, int] = {
        "/api/v1/corv": 130 * 1024 * 1024,
        # NDJSON bulk intake (H7): a year-change file of ~100,000 decisions.
        "/api/v1/beschikkingen/bulk": 512 * 1024 * 1024,
    }


class OutboundTls(BaseModel):
    """Mutual TLS towards one chain party (Digikoppeling with PKIoverheid certificates).

    Our client certificate and key, the CA bundle the party's server certificate must
    chain to (only this bundle: not the system's CAs), and the party's OIN, which must be
    its server certificate's subject serialNumber. Empty ``cert_file`` = plain HTTP(S)
    without these checks (development and the mocks only). See docs/security-transport.md.
    """

    cert_file: Path | None = None
    key_file: Path | None = None
    key_password: str = ""
    ca_file: Path | None = None
    #: The party's 20-digit OIN in its server certificate (empty: the party's own setting).
    server_oin: str = Field("", pattern=r"^([0-9]{20})?$")

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None

    @model_validator(mode="after")
    def _complete(self) -> OutboundTls:
        if self.enabled and (self.key_file is None or self.ca_file is None):
            raise ValueError("mutual TLS needs cert_file, key_file and ca_file together")
        return self


class ApiTls(BaseModel):
    """TLS (server side only: clients authenticate with API keys) for the back-office API."""

    cert_file: Path | None = None
    key_file: Path | None = None
    key_password: str = ""

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None


class ChainPartyAccess(BaseModel):
    """A chain party allowed to post to our chain endpoints, known by its certificate's OIN.

    ``allowed`` lists ``<endpoint>:<message type>``: ``ggk:JW302``, ``ggk:Fo01``,
    ``corv:notificatieDi01``; ``ggk:*`` allows every message type on that endpoint.
    """

    name: str = Field(min_length=1, max_length=50)
    oin: str = Field(pattern=r"^[0-9]{20}$")
    allowed: list[str] = Field(min_length=1)

    @field_validator("allowed")
    @classmethod
    def _endpoint_prefixed(cls, value: list[str]) -> list[str]:
        for entry in value:
            endpoint, _, message_type = entry.partition(":")
            if endpoint not in ("ggk", "corv") or not message_type:
                raise ValueError(f"{entry!r}: use ggk:<functie> or corv:<action> (or ggk:* / corv:*)")
        return value


class ChainTls(BaseModel):
    """The listener for the chain endpoints (``/ggk/soap``, ``/corv/ebms``): mutual TLS.

    Configured (``cert_file`` set), the chain endpoints are served only here, on their
    own port, to clients whose certificate chains to ``ca_file`` and whose OIN is one of
    ``parties``; the back-office API listener no longer serves them. Required in
    production mode.
    """

    port: int = Field(8443, ge=1, le=65535)
    cert_file: Path | None = None
    key_file: Path | None = None
    key_password: str = ""
    ca_file: Path | None = None
    parties: list[ChainPartyAccess] = []

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None

    @model_validator(mode="after")
    def _complete(self) -> ChainTls:
        if self.enabled and (self.key_file is None or self.ca_file is None or not self.parties):
            raise ValueError("the chain listener needs cert_file, key_file, ca_file and at least one party")
        oins = [party.oin for party in self.parties]
        if len(oins) != len(set(oins)):
            raise ValueError("chain party OINs must be unique")
        return self


class EncryptionSettings(BaseModel):
    """Keys for encryption at rest (gateway.encryption): key id -> base64 of 32 random bytes.

    ``keys`` (``GATEWAY_ENCRYPTION__KEYS='{"2026-11": "..."}'``) and/or ``key_file`` (JSON
    ``{"active": id, "keys": {...}}``, readable only by the gateway). ``active_key`` encrypts
    (default: the last key listed); all keys decrypt. Production mode requires keys;
    development mode without keys uses a published development key.
    """

    keys: dict[str, str] = {}
    active_key: str = ""
    key_file: Path | None = None

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        # Never print key material (a settings dump in a log or traceback).
        return [("key_ids", sorted(self.keys)), ("active_key", self.active_key), ("key_file", self.key_file)]


class RetentionSettings(BaseModel):
    """Retention (gateway.retention): bodies go first, metadata later; 0 days = keep forever.

    Only finished messages are pruned (answered, rejected; our retours, Fo01s and webhooks
    once delivered): never one in flight, parked, expired or awaiting an answer.
    """

    #: Days after a message finished that its payload and wire body (personal data) are kept.
    body_days: int = Field(90, ge=0)
    #: Days after a message finished that its row (ids, states, attempts) is kept.
    metadata_days: int = Field(730, ge=0)
    #: Rows per transaction; the scanner prunes at most ``max_batches_per_run`` batches a beat.
    batch_size: int = Field(500, ge=1, le=10000)
    max_batches_per_run: int = Field(20, ge=1)
    #: The overdue scanner prunes at most this often (every process checks the last run).
    interval_minutes: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _metadata_outlives_bodies(self) -> RetentionSettings:
        if self.metadata_days and (self.body_days == 0 or self.metadata_days < self.body_days):
            raise ValueError("retention.metadata_days must be 0 or at least retention.body_days")
        return self


class OtelSettings(BaseModel):
    """OpenTelemetry traces (gateway.tracing), sent over OTLP/HTTP; needs the ``otel`` extra."""

    enabled: bool = False
    #: The collector's OTLP/HTTP traces endpoint.
    endpoint: str = Field("http://127.0.0.1:4318/v1/traces", pattern=r"^https?://")
    service_name: str = Field("gemeente-gateway", min_length=1, max_length=100)


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
