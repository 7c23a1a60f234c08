"""The history of Start zorg (305) and Stop zorg (307) reports per toewijzing.

The standard's cross-message rules (TR063, TR069, TR071, TR074, TR326, TR413-TR415)
judge a new StartProduct or StopProduct against the ones accepted earlier, so every
accepted product is kept as one row, never overwritten: a correction (StatusAanlevering
2) or removal (3) adds a row and takes the earlier one out of the current state. That
keeps the answer to "what did the aanbieder report, when, in which message" available
for the back-office and for disputes about declaraties.

The key of both starts and stops is the standard's: law, client (BSN hash),
ToewijzingNummer and Begindatum of the delivery.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables import Base, BigId


class ZorgleveringSoort:
    START = "start"
    STOP = "stop"


class ZorgleveringMelding(Base):
    """One accepted StartProduct or StopProduct (or a correction/removal of one).

    ``actueel`` marks the rows that make up the current state of a key: at most one
    start, and the stops that have not been corrected or removed (a temporary stop,
    RedenBeeindiging 20, may be followed by a definitive one; both stay actueel).
    A removal (StatusAanlevering 3) is itself a row (never actueel); the row it removes
    gets ``verwijderd`` and, like a corrected row, ``vervangen_door_id``.
    """

    __tablename__ = "zorglevering_meldingen"
    __table_args__ = (
        Index(None, "law", "toewijzingnummer", "soort", "actueel"),
        Index(None, "law", "bsn_hash", "toewijzingnummer", "begindatum"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: ``start`` or ``stop`` (:class:`ZorgleveringSoort`).
    soort: Mapped[str] = mapped_column(String(5))
    law: Mapped[str] = mapped_column(String(20))
    bsn_hash: Mapped[str] = mapped_column(String(64))
    toewijzingnummer: Mapped[int] = mapped_column(ForeignKey("toewijzingen.id"))
    begindatum: Mapped[date]
    #: Stops only.
    einddatum: Mapped[date | None]
    #: Stops only: WJ588/WMO588 RedenBeeindiging (20 = tijdelijk beeindigd).
    reden_beeindiging: Mapped[str | None] = mapped_column(String(2))
    #: 1 eerste aanlevering, 2 gewijzigd, 3 verwijderen - as the aanbieder sent it.
    status_aanlevering: Mapped[str] = mapped_column(String(1))
    aanbieder_agb: Mapped[str] = mapped_column(String(8))
    #: The heenbericht this product came in (its BerichtIdentificatie too, for people).
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    bericht_identificatie: Mapped[str] = mapped_column(String(12))
    #: 1-based position of the product in its message (StartProduct[i] / StopProduct[i]).
    positie: Mapped[int]
    actueel: Mapped[bool] = mapped_column(Boolean)
    verwijderd: Mapped[bool] = mapped_column(Boolean, default=False)
    vervangen_door_id: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime]
