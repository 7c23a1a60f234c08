"""PGB under trekkingsrecht: what the gateway knows of each budget and of its closing.

- ``pgb_budgetten``: one row per PGB toewijzing - what the policy decided at intake
  (kind of carer, percentage, the ZIN-based maximum, the budget sent to the SVB) and
  whether it goes through the SVB at all (a one-off PGB does not). The toewijzing row
  keeps what the back-office asked; this row keeps what the SVB was told.
- ``pgb_budgetafsluitingen``: every budget period the SVB closed (BAB): granted,
  spent, remaining. Kept per client (BSN hash), linked to the toewijzing when known.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables import Base, BigId


class PgbBudget(Base):
    __tablename__ = "pgb_budgetten"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    toewijzing_id: Mapped[int] = mapped_column(ForeignKey("toewijzingen.id"), unique=True)
    beschikking_id: Mapped[int] = mapped_column(ForeignKey("beschikkingen.id"), index=True)
    law: Mapped[str] = mapped_column(String(20))
    bsn_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: professioneel | zelfstandige | sociaal_netwerk (None for a one-off PGB without one).
    hulpverlener: Mapped[str | None] = mapped_column(String(20))
    #: A one-off PGB (woningaanpassing, vehicle): stored, never sent to the SVB.
    eenmalig: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The percentage of the ZIN tariff that applied (None: no tariff was involved).
    percentage: Mapped[int | None]
    #: Eurocent: the cost of the cheapest adequate ZIN at that percentage (None: not computed).
    maximum: Mapped[int | None] = mapped_column(BigInteger)
    #: Eurocent: the budget the SVB was (or, one-off, would be) told - given or computed from the omvang.
    budget: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PgbBudgetafsluiting(Base):
    __tablename__ = "pgb_budgetafsluitingen"
    __table_args__ = (Index(None, "toewijzing_id", "begindatum"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    law: Mapped[str] = mapped_column(String(20))
    bsn_hash: Mapped[str] = mapped_column(String(64), index=True)
    toewijzing_id: Mapped[int] = mapped_column(BigInteger)
    beschikking_id: Mapped[int | None] = mapped_column(BigInteger)
    categorie: Mapped[str] = mapped_column(String(2))
    productcode: Mapped[str | None] = mapped_column(String(5))
    begindatum: Mapped[date]
    einddatum: Mapped[date]
    #: Eurocent.
    toegekend: Mapped[int] = mapped_column(BigInteger)
    besteed: Mapped[int] = mapped_column(BigInteger)
    resterend: Mapped[int] = mapped_column(BigInteger)
    afsluitdatum: Mapped[date]
    received_at: Mapped[datetime]
