"""The tables of received declaraties (323) and their prestaties, as the gemeente judged them.

Every declaratie is checked against the earlier ones of the same aanbieder: a
ReferentieNummer may be used once (8021), a DeclaratieNummer once (9333), a credit
needs the approved debet it reverses (8017/9390), and the volumes and amounts granted
so far count towards a toewijzing's omvang or budget (9322/9369). So each 323 leaves a
``declaraties`` row and one ``declaratie_prestaties`` row per prestatie, approved or not.

Amounts are signed eurocent (credit negative), so a sum over approved rows is the net
amount granted; volumes are stored as declared (with their eenheid) and signed the same
way. The client is kept only as the BSN's keyed hash: the declaratie's XML (with the BSN)
stays with the inbound message.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.store.tables import Base, BigId

#: Prestatie states: granted (counts towards omvang/budget) or rejected (kept for the trail).
TOEGEKEND = "toegekend"
AFGEWEZEN = "afgewezen"


class DeclaratieRow(Base):
    """One 323 as received: who, which month, what was asked and what was granted."""

    __tablename__ = "declaraties"
    __table_args__ = (UniqueConstraint("law", "aanbieder_agb", "declaratienummer"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    law: Mapped[str] = mapped_column(String(20))
    gemeentecode: Mapped[str] = mapped_column(String(4))
    aanbieder_agb: Mapped[str] = mapped_column(String(8))
    declaratienummer: Mapped[str] = mapped_column(String(12))
    periode_begin: Mapped[date]
    periode_eind: Mapped[date]
    #: Signed eurocent (credit negative).
    totaal_ingediend: Mapped[int] = mapped_column(BigInteger)
    totaal_toegekend: Mapped[int] = mapped_column(BigInteger)
    #: The inbound_messages row that carried the 323.
    inbound_id: Mapped[int] = mapped_column(BigInteger, index=True)
    bericht_identificatie: Mapped[str] = mapped_column(String(12))
    received_at: Mapped[datetime]

    prestaties: Mapped[list[PrestatieRow]] = relationship(back_populates="declaratie")


class PrestatieRow(Base):
    """One prestatie of a 323 with the verdict on it."""

    __tablename__ = "declaratie_prestaties"
    __table_args__ = (
        # 8021 / credit look-ups: a ReferentieNummer within one aanbieder's declaraties.
        Index(None, "aanbieder_agb", "law", "referentienummer"),
        # 9322 / 9369: what was granted so far on one toewijzing.
        Index(None, "toewijzingnummer", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    declaratie_id: Mapped[int] = mapped_column(ForeignKey("declaraties.id"), index=True)
    law: Mapped[str] = mapped_column(String(20))
    aanbieder_agb: Mapped[str] = mapped_column(String(8))
    referentienummer: Mapped[str] = mapped_column(String(20))
    vorig_referentienummer: Mapped[str | None] = mapped_column(String(20))
    #: As declared; not a foreign key, because a prestatie may name an unknown toewijzing (9338).
    toewijzingnummer: Mapped[int] = mapped_column(BigInteger)
    bsn_hash: Mapped[str] = mapped_column(String(64))
    categorie: Mapped[str] = mapped_column(String(2))
    productcode: Mapped[str] = mapped_column(String(5))
    periode_begin: Mapped[date]
    periode_eind: Mapped[date]
    #: Signed like ``bedrag``: a credit's volume is negative.
    volume: Mapped[int] = mapped_column(BigInteger)
    eenheid: Mapped[str] = mapped_column(String(2))
    #: Eurocent per eenheid (per hour when minutes are declared against hours, IV081).
    tarief: Mapped[int | None] = mapped_column(BigInteger)
    #: Signed eurocent: debet positive, credit negative.
    bedrag: Mapped[int] = mapped_column(BigInteger)
    debet_credit: Mapped[str] = mapped_column(String(1))
    status: Mapped[str] = mapped_column(String(12))
    retour_codes: Mapped[list[Any]]

    declaratie: Mapped[DeclaratieRow] = relationship(back_populates="prestaties")


#: For ``Base.metadata.create_all(engine, tables=DECLARATIE_TABLES)`` until the migration has them.
DECLARATIE_TABLES: tuple[Table, ...] = (
    Base.metadata.tables[DeclaratieRow.__tablename__],
    Base.metadata.tables[PrestatieRow.__tablename__],
)
