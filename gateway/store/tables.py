"""The gateway's tables.

- ``beschikkingen`` / ``toewijzingen``: the decisions as the back-office sent them and the
  current state of every toewijzing per client and aanbieder.
- ``messages``: the outbox - one row per outbound message with its rendered payload and
  the exact envelope that goes on the wire (a re-send is byte-identical).
- ``delivery_attempts``: every try with its outcome, for operators and the retry policy.
- ``inbound_messages``: everything a chain party sent us, matched or not.
- ``events``: the feed for the back-office.

Timestamps are stored as naive UTC (see :class:`UTCDateTime`) so SQLite and PostgreSQL
behave the same.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy import text as sa_text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from gateway.store.encrypted_types import EncryptedBytes, EncryptedJSON, EncryptedText

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware (UTC) datetimes out; naive UTC in the column."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index over the rows matching ``where`` only, on PostgreSQL and SQLite alike."""
    condition = sa_text(where)
    return Index(name, *columns, unique=unique, postgresql_where=condition, sqlite_where=condition)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        date: Date(),
        time: Time(),
    }


class MessageState:
    """The life of an outbound message. Terminal: answered, rejected, parked, expired."""

    ACCEPTED = "accepted"
    QUEUED = "queued"
    SENDING = "sending"
    DELIVERED = "delivered"
    ANSWERED = "answered"
    REJECTED = "rejected"
    PARKED = "parked"
    EXPIRED = "expired"

    ALL = (ACCEPTED, QUEUED, SENDING, DELIVERED, ANSWERED, REJECTED, PARKED, EXPIRED)
    #: States in which a retour or answer is still welcome.
    AWAITING_ANSWER = (QUEUED, SENDING, DELIVERED, PARKED, EXPIRED)


class ApiClient(Base):
    """A back-office system allowed to call the API, with its scopes and limits.

    Its keys (several at once, so one can be rotated without downtime) are in
    ``api_keys`` (:mod:`gateway.store.access_tables`), hashed. Limits left None use the
    settings' defaults (``GATEWAY_API_LIMITS__*``).
    """

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    #: Token bucket: sustained requests per minute and the burst above it.
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    burst: Mapped[int | None] = mapped_column(Integer)
    #: Largest request body this client may send (overrides the per-route default).
    max_body_bytes: Mapped[int | None] = mapped_column(BigInteger)


class IdempotencyRecord(Base):
    """The first response to an ``Idempotency-Key``, replayed for an identical retry."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("api_client_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    api_client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response_body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Beschikking(Base):
    __tablename__ = "beschikkingen"
    __table_args__ = (UniqueConstraint("law", "beschikkingnummer"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    law: Mapped[str] = mapped_column(String(20))
    beschikkingnummer: Mapped[str] = mapped_column(String(50))
    gemeentecode: Mapped[str] = mapped_column(String(4))
    bsn: Mapped[str] = mapped_column(EncryptedText("beschikkingen.bsn"))
    bsn_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: Name, birth date, gender, contacts: what the toewijzing message carries about the client.
    client: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("beschikkingen.client"))
    verwijzer: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON("beschikkingen.verwijzer"))
    gebiedsteam: Mapped[str | None] = mapped_column(String(100))
    commentaar: Mapped[str | None] = mapped_column(EncryptedText("beschikkingen.commentaar"))
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    received_at: Mapped[datetime]

    toewijzingen: Mapped[list[Toewijzing]] = relationship(back_populates="beschikking")


class Toewijzing(Base):
    """One toewijzing; its id is the ToewijzingNummer (unique per gemeente and law)."""

    __tablename__ = "toewijzingen"
    __table_args__ = (Index(None, "bsn_hash", "aanbieder_agb", "law"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    beschikking_id: Mapped[int] = mapped_column(ForeignKey("beschikkingen.id"), index=True)
    law: Mapped[str] = mapped_column(String(20))
    bsn_hash: Mapped[str] = mapped_column(String(64))
    aanbieder_agb: Mapped[str] = mapped_column(String(8))
    leveringsvorm: Mapped[str] = mapped_column(String(3))
    categorie: Mapped[str | None] = mapped_column(String(2))
    productcode: Mapped[str | None] = mapped_column(String(5))
    ingangsdatum: Mapped[date]
    einddatum: Mapped[date | None]
    volume: Mapped[int | None]
    eenheid: Mapped[str | None] = mapped_column(String(2))
    frequentie: Mapped[str | None] = mapped_column(String(1))
    budget: Mapped[int | None] = mapped_column(BigInteger)
    toewijzingsdatum: Mapped[date]
    toewijzingstijd: Mapped[time]
    reden_wijziging: Mapped[str | None] = mapped_column(String(2))
    #: The aanbieder's reference when this toewijzing honours its request (VOT/VOW).
    referentie_aanbieder: Mapped[str | None] = mapped_column(String(36))
    #: The toewijzing this one replaces (an omvang change that needed a new number).
    vervangt_id: Mapped[int | None] = mapped_column(BigInteger)
    commentaar: Mapped[str | None] = mapped_column(EncryptedText("toewijzingen.commentaar"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    beschikking: Mapped[Beschikking] = relationship(back_populates="toewijzingen")


class ToewijzingVersie(Base):
    """The history of a toewijzing: its state after each change, and why."""

    __tablename__ = "toewijzing_versies"
    __table_args__ = (UniqueConstraint("toewijzing_id", "versie"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    toewijzing_id: Mapped[int] = mapped_column(ForeignKey("toewijzingen.id"), index=True)
    versie: Mapped[int]
    #: beschikking | wijziging | verzoek
    oorzaak: Mapped[str] = mapped_column(String(20))
    reden_wijziging: Mapped[str | None] = mapped_column(String(2))
    #: The toewijzing's fields after the change (no BSN).
    staat: Mapped[dict[str, Any]]
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    changed_at: Mapped[datetime]


class Message(Base):
    """An outbound message in the outbox, from acceptance to its final answer."""

    __tablename__ = "messages"
    __table_args__ = (
        # Partial indexes (migrations 0006, 0007) hold only the live rows, so claiming and
        # counting in-flight sends cost the same with ten thousand or a million finished
        # messages. And since ``state`` is indexed no update of a row is HOT: each of its
        # ~4 updates adds an entry to every full index but to a partial one only when the
        # new row matches, so nothing here is a full index that only some rows need (0007).
        partial_index("ix_messages_queued_due", "next_attempt_at", "id", where="state = 'queued'"),
        partial_index("ix_messages_sending_route", "route", where="state = 'sending'"),
        # The lease rescuer: expired leases of messages being sent.
        partial_index("ix_messages_sending_lease", "lease_expires_at", where="state = 'sending'"),
        # Operators' state filters (parked gauge, alerts, console, API) on the few messages
        # that stopped; queued/sending use the indexes above, and delivered/answered are
        # most of the table, read in id order anyway. Full on SQLite: its planner cannot
        # tell that ``state = 'parked'`` implies ``state IN (...)``.
        Index(
            "ix_messages_held",
            "state",
            "id",
            postgresql_where=sa_text("state IN ('accepted', 'parked', 'rejected', 'expired')"),
        ),
        # Mostly NULL; looked up only by value (``col = :id`` implies ``IS NOT NULL``).
        partial_index("ix_messages_replay_of_id", "replay_of_id", where="replay_of_id IS NOT NULL"),
        partial_index(
            "ix_messages_answers_inbound_id", "answers_inbound_id", where="answers_inbound_id IS NOT NULL"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    party: Mapped[str] = mapped_column(String(20))
    #: Party plus receiver, e.g. ``ggk:99990001``: the unit operators pause and watch.
    route: Mapped[str] = mapped_column(String(60), index=True)
    message_type: Mapped[str] = mapped_column(String(30), index=True)
    #: The transport operation: ``ggk_Di01`` (a heenbericht), ``ggk_Du01`` (our retour to
    #: an aanbieder's heenbericht), ``Fo01`` (our asynchronous refusal), ``webhook``.
    operation: Mapped[str] = mapped_column(String(20), default="ggk_Di01")
    law: Mapped[str | None] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(12))
    sender: Mapped[str] = mapped_column(String(20))
    receiver: Mapped[str] = mapped_column(String(20))
    #: The envelope's referentienummer (UUID v4); a re-send reuses it.
    referentienummer: Mapped[str] = mapped_column(String(36), unique=True)
    #: The payload's own message id (BerichtIdentificatie), unique per sender.
    bericht_identificatie: Mapped[str] = mapped_column(String(12))
    beschikking_id: Mapped[int | None] = mapped_column(ForeignKey("beschikkingen.id"), index=True)
    #: For a retour or Fo01 we send: the inbound message it answers.
    answers_inbound_id: Mapped[int | None] = mapped_column(BigInteger)
    bsn_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    payload: Mapped[bytes] = mapped_column(EncryptedBytes("messages.payload"))
    #: The exact HTTP request body sent to the partner.
    wire_body: Mapped[bytes] = mapped_column(EncryptedBytes("messages.wire_body"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(12))
    #: Set once an attempt may have reached the partner (a timeout after sending, a
    #: rescued lease) and never cleared: every later send is a possible duplicate.
    possibly_delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    retour_codes: Mapped[list[Any] | None]
    answer_inbound_id: Mapped[int | None] = mapped_column(BigInteger)
    #: An operator's replay (gateway.ops.replay): the message this one re-sends.
    replay_of_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    first_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]

    attempt_log: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="message", order_by="DeliveryAttempt.attempt_no"
    )
    toewijzing_links: Mapped[list[MessageToewijzing]] = relationship(back_populates="message")


class MessageToewijzing(Base):
    """Which toewijzingen a 301 carried, and the retour's codes for each of them."""

    __tablename__ = "message_toewijzingen"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    toewijzing_id: Mapped[int] = mapped_column(ForeignKey("toewijzingen.id"), primary_key=True, index=True)
    retour_codes: Mapped[list[Any] | None]

    message: Mapped[Message] = relationship(back_populates="toewijzing_links")


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    __table_args__ = (
        UniqueConstraint("message_id", "attempt_no"),
        # The route-failure alert reads only the last day's attempts (migration 0005).
        Index("ix_delivery_attempts_finished_at", "finished_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    attempt_no: Mapped[int]
    worker: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    duration_ms: Mapped[int]
    #: delivered | retryable | permanent | unknown
    outcome: Mapped[str] = mapped_column(String(12))
    http_status: Mapped[int | None]
    code: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    #: Whether this attempt's result changed the message (False: it had moved on, e.g. rescued).
    applied: Mapped[bool] = mapped_column(Boolean, default=True)

    message: Mapped[Message] = relationship(back_populates="attempt_log")


class InboundMessage(Base):
    """Everything a chain party posted to us, kept whether or not it matched a message."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index(None, "sender", "message_type", "bericht_identificatie"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    party: Mapped[str] = mapped_column(String(20))
    operation: Mapped[str] = mapped_column(String(20))
    message_type: Mapped[str | None] = mapped_column(String(30))
    law: Mapped[str | None] = mapped_column(String(20))
    #: The payload's BerichtIdentificatie: unique per sender and message type (TR056).
    bericht_identificatie: Mapped[str | None] = mapped_column(String(12))
    referentienummer: Mapped[str | None] = mapped_column(String(36), unique=True)
    cross_refnummer: Mapped[str | None] = mapped_column(String(36), index=True)
    sender: Mapped[str | None] = mapped_column(String(20))
    receiver: Mapped[str | None] = mapped_column(String(20))
    #: matched | unmatched | invalid | duplicate (retours and errors);
    #: accepted | refused | invalid (heenberichten of an aanbieder)
    status: Mapped[str] = mapped_column(String(12), index=True)
    bsn_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    #: Our retour (or Fo01) to this inbound heenbericht.
    answer_message_id: Mapped[int | None] = mapped_column(BigInteger)
    matched_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    retour_codes: Mapped[list[Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(EncryptedBytes("inbound_messages.body"))
    payload: Mapped[bytes | None] = mapped_column(EncryptedBytes("inbound_messages.payload"))
    received_at: Mapped[datetime]


class Event(Base):
    """A fact for the back-office's event feed (``GET /api/v1/events``)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(60), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    beschikking_id: Mapped[int | None] = mapped_column(ForeignKey("beschikkingen.id"))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Verzoek(Base):
    """An aanbieder's request (VOT 315 per AangevraagdProduct, or VOW 317) awaiting the back-office.

    The gemeente must answer within 5 werkdagen: a 301 (honoured, carrying the
    ReferentieAanbieder) or a 319 (rejected, or in onderzoek and answered later).
    """

    __tablename__ = "verzoeken"
    __table_args__ = (UniqueConstraint("law", "aanbieder_agb", "referentie_aanbieder"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    law: Mapped[str] = mapped_column(String(20))
    #: vot | vow
    soort: Mapped[str] = mapped_column(String(3))
    aanbieder_agb: Mapped[str] = mapped_column(String(8), index=True)
    referentie_aanbieder: Mapped[str] = mapped_column(String(36))
    bsn: Mapped[str] = mapped_column(EncryptedText("verzoeken.bsn"))
    bsn_hash: Mapped[str] = mapped_column(String(64), index=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))
    #: open | in_onderzoek | toegekend | afgewezen
    status: Mapped[str] = mapped_column(String(12), index=True)
    #: What was asked, in the API's terms (no BSN).
    inhoud: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("verzoeken.inhoud"))
    received_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answer_message_id: Mapped[int | None] = mapped_column(BigInteger)
    #: The beschikking that honoured a VOT.
    beschikking_id: Mapped[int | None] = mapped_column(ForeignKey("beschikkingen.id"))
