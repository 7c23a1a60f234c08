"""CORV (justice chain): VTO zaken, ebMS bookkeeping, inbound jz0100 messages, zorgmeldingen.

Outbound CORV messages are ordinary outbox rows (``messages``, party ``corv``, route
``corv:<oin>``). Their wire bytes - an ebMS multipart that may carry 4 x 21 MB of
base64 documents - do not fit the ``messages.wire_body`` column the worker claims into
memory: they live in ``corv_wire_chunks`` (1 MB each, written in the message's own
transaction), and ``messages.wire_body`` holds a small JSON descriptor naming them.
A re-send streams exactly the same chunks: same MessageId, same boundary, same bytes.

- ``corv_outbound``: per outbound message its ebMS identity (MessageId, ConversationId)
  and whether an acknowledgement arrived (synchronously or as a standalone ack).
- ``corv_vtos``: a verzoek tot onderzoek: the gemeente's zaak identificatie, its answer.
- ``corv_received``: received ebMS MessageIds with the exact answer we gave, for
  duplicate elimination; kept at least (1 + retries) x interval.
- ``corv_stuf_referenties``: received StUF (zender, referentienummer) pairs: StUF016.
- ``corv_inbound``: every jz0100 message received (notificaties, notificatiejr,
  zorgmeldingen, Bv01/Fo01/Fo03 answers), matched to a VTO or message, or not.
- ``corv_zorgmeldingen``: a police zorgmelding awaiting the gemeente's terugkoppeling.

Bodies and personal data are encrypted at rest (:mod:`gateway.store.encrypted_types`):
wire chunks, received payloads, our stored answers, the VTO summary, the inbound
``inhoud`` and free texts. Children are found by ``bsn_hashes`` (keyed hashes,
:func:`gateway.bsn.keyed_hash`), never by a plaintext BSN.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.encrypted_types import EncryptedBytes, EncryptedJSON, EncryptedText
from gateway.store.tables import Base, BigId


class CorvWireChunk(Base):
    """One piece (at most 1 MB) of an outbound CORV message's exact HTTP body."""

    __tablename__ = "corv_wire_chunks"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: Encrypted per chunk (1 MB plaintext each, bound to this column): streaming a re-send
    #: decrypts one chunk at a time and yields exactly the bytes that were stored.
    data: Mapped[bytes] = mapped_column(EncryptedBytes("corv_wire_chunks.data"))


class CorvOutbound(Base):
    """The ebMS side of an outbound CORV message (one row per ``messages`` row of party corv)."""

    __tablename__ = "corv_outbound"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    ebms_message_id: Mapped[str] = mapped_column(String(200), unique=True)
    conversation_id: Mapped[str] = mapped_column(String(200))
    #: The StUF message name, also the ebMS Action: vtoDi01, zorgmeldingTerugkoppelingDi01.
    action: Mapped[str] = mapped_column(String(40))
    to_oin: Mapped[str] = mapped_column(String(20))
    cpa_id: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(300))
    wire_size: Mapped[int] = mapped_column(BigInteger)
    wire_sha256: Mapped[str] = mapped_column(String(64))
    #: When the hub acknowledged it (sync ack, or a standalone Acknowledgment message).
    acked_at: Mapped[datetime | None]
    #: A MessageError the hub answered with (code: description): the message is parked.
    message_error: Mapped[str | None] = mapped_column(Text)


class CorvVto(Base):
    """A verzoek tot onderzoek (vtoDi01) to the Raad voor de Kinderbescherming."""

    __tablename__ = "corv_vtos"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The gemeente's own case id; notificaties refer to it.
    zaak_identificatie: Mapped[str] = mapped_column(String(40), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    urgentie: Mapped[str] = mapped_column(String(10))
    #: pending | accepted (Bv01) | rejected (Fo01 / Fo03)
    answer: Mapped[str] = mapped_column(String(10), default="pending")
    fout_code: Mapped[str | None] = mapped_column(String(20))
    #: The Raad's free text (may name the child): encrypted.
    fout_tekst: Mapped[str | None] = mapped_column(EncryptedText("corv_vtos.fout_tekst"))
    answer_inbound_id: Mapped[int | None] = mapped_column(BigInteger)
    #: What was asked, without BSNs: kinderen (count, unborn), belanghebbenden (roles), documents.
    samenvatting: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("corv_vtos.samenvatting"))
    #: Keyed hashes of the children's BSNs, for search.
    bsn_hashes: Mapped[list[Any]]
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class CorvReceived(Base):
    """A received ebMS MessageId and our exact answer: a duplicate gets it again, unprocessed."""

    __tablename__ = "corv_received"

    ebms_message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    from_oin: Mapped[str] = mapped_column(String(20))
    inbound_id: Mapped[int | None] = mapped_column(BigInteger)
    response_status: Mapped[int]
    response_content_type: Mapped[str] = mapped_column(String(300))
    response_body: Mapped[bytes] = mapped_column(EncryptedBytes("corv_received.response_body"))
    received_at: Mapped[datetime]
    #: Not before (1 + retries) x interval of the sending party.
    expires_at: Mapped[datetime] = mapped_column(index=True)


class CorvStufReferentie(Base):
    """A StUF zender + referentienummer already received: a second one is refused (StUF016)."""

    __tablename__ = "corv_stuf_referenties"

    zender: Mapped[str] = mapped_column(String(100), primary_key=True)
    referentienummer: Mapped[str] = mapped_column(String(100), primary_key=True)
    inbound_id: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime]


class CorvInbound(Base):
    """A jz0100 message the justice chain sent us, as received, with what it was linked to."""

    __tablename__ = "corv_inbound"
    __table_args__ = (Index(None, "soort", "koppeling"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ebms_message_id: Mapped[str | None] = mapped_column(String(200), index=True)
    ref_to_message_id: Mapped[str | None] = mapped_column(String(200))
    conversation_id: Mapped[str | None] = mapped_column(String(200))
    from_oin: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str | None] = mapped_column(String(40))
    #: notificatie | notificatiejr | zorgmelding | bv01 | fo01 | fo03 | ack | error | invalid
    soort: Mapped[str] = mapped_column(String(20))
    #: accepted | duplicate (StUF016) | invalid (refused: ebMS error or XSD error)
    status: Mapped[str] = mapped_column(String(12), index=True)
    #: matched | unmatched | n.v.t. - a notificatie's link to a VTO, an answer's to a message.
    koppeling: Mapped[str] = mapped_column(String(10))
    stuf_zender: Mapped[str | None] = mapped_column(String(100))
    stuf_referentienummer: Mapped[str | None] = mapped_column(String(100))
    cross_refnummer: Mapped[str | None] = mapped_column(String(100), index=True)
    zaak_identificatie: Mapped[str | None] = mapped_column(String(40), index=True)
    vto_id: Mapped[int | None] = mapped_column(ForeignKey("corv_vtos.id"), index=True)
    matched_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    #: The message's content in the API's terms (no BSN): status, resultaat, codes ...
    inhoud: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("corv_inbound.inhoud"))
    #: A refusal's reason; an XSD message quotes the offending value (maybe a BSN): encrypted.
    error: Mapped[str | None] = mapped_column(EncryptedText("corv_inbound.error"))
    #: The StUF message as received (BSNs, names, documents); None once retention removed it.
    payload: Mapped[bytes | None] = mapped_column(EncryptedBytes("corv_inbound.payload"))
    received_at: Mapped[datetime]


class CorvZorgmelding(Base):
    """A police zorgmelding about a minor, awaiting (or given) the gemeente's terugkoppeling."""

    __tablename__ = "corv_zorgmeldingen"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("corv_inbound.id"), unique=True)
    zaak_identificatie: Mapped[str | None] = mapped_column(String(40))
    #: open | teruggekoppeld
    status: Mapped[str] = mapped_column(String(16), index=True)
    #: geen_actie_nodig | vervolgactie_nodig
    terugkoppeling: Mapped[str | None] = mapped_column(String(20))
    terugkoppeling_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    received_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
