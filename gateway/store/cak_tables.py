"""What the gateway told the CAK, per person, and what the CAK asked to correct.

- ``cak_personen``: per client (BSN hash) and regeling (eigen bijdrage / beschermd wonen)
  the picture the CAK has: running since ``begindatum`` or stopped at ``einddatum``, and
  the person's planned end as last computed (a later change that ends the provisions
  earlier - or sets an end where none was - is what causes a stop).
- ``cak_meldingen``: every WMO405/407 we sent, with its content (no BSN) and the links of
  a correction: ``corrects_message_id`` on the new one, ``corrected_by_message_id`` on
  the old one.
- ``cak_herstel_taken``: an *uitnodiging tot herstel* (a retour with error codes) as a
  task for the back-office; closed by the corrected message.
- ``cak_kostprijzen``: the kostprijs (eurocent) of a hulpmiddel or woonvoorziening per
  toewijzing, as the back-office gave it; the toewijzing rows do not carry it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables import Base, BigId


class CakPersoon(Base):
    __tablename__ = "cak_personen"
    __table_args__ = (UniqueConstraint("bsn_hash", "regeling"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bsn_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: eigen_bijdrage | beschermd_wonen
    regeling: Mapped[str] = mapped_column(String(20))
    #: lopend (a start was reported) | gestopt (the latest report was a stop)
    status: Mapped[str] = mapped_column(String(10))
    begindatum: Mapped[date]
    einddatum: Mapped[date | None]
    #: The end of the person's chargeable provisions at the last evaluation (None: open-ended).
    geplande_einddatum: Mapped[date | None]
    #: The ToewijzingNummers behind the current picture.
    voorzieningen: Mapped[list[Any]]
    laatste_message_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class CakMelding(Base):
    __tablename__ = "cak_meldingen"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    bsn_hash: Mapped[str] = mapped_column(String(64), index=True)
    regeling: Mapped[str] = mapped_column(String(20))
    #: start | stop
    soort: Mapped[str] = mapped_column(String(5))
    datum: Mapped[date]
    #: The Voorziening summaries as sent (no BSN): toewijzingnummer, product, dates, kostprijs ...
    voorzieningen: Mapped[list[Any]]
    #: What caused it: beschikking | wijziging | start | stop | herstel
    oorzaak: Mapped[str] = mapped_column(String(12))
    #: sent | answered | herstel (the CAK invited a correction) | corrected
    status: Mapped[str] = mapped_column(String(10), index=True)
    corrects_message_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    corrected_by_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class CakHerstelTaak(Base):
    __tablename__ = "cak_herstel_taken"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The message the CAK asked to correct, and the retour that asked.
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))
    bsn_hash: Mapped[str] = mapped_column(String(64), index=True)
    codes: Mapped[list[Any]]
    #: open | gecorrigeerd
    status: Mapped[str] = mapped_column(String(12), index=True)
    correctie_message_id: Mapped[int | None] = mapped_column(BigInteger)
    toelichting: Mapped[str | None] = mapped_column(String(1000))
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class CakKostprijs(Base):
    __tablename__ = "cak_kostprijzen"

    toewijzing_id: Mapped[int] = mapped_column(ForeignKey("toewijzingen.id"), primary_key=True)
    kostprijs: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]
