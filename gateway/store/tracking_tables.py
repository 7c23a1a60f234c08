"""Tables for watching the chain's deadlines.

- ``deadlines``: one row per thing the gemeente or a chain party still owes within a
  number of werkdagen - a retour to our heenbericht, our answer to a VOT/VOW or a
  declaratie, a start/stop report that should have come earlier. The overdue scanner
  marks a missed one once (``overdue_at``) and records one event for it; an operator
  marks it handled.

Same metadata as :mod:`gateway.store.tables`, so the Alembic migration covers it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables import Base, BigId


class Deadline(Base):
    """Something awaited by ``due_at``: met (``met_at``), or missed (``overdue_at``, set once).

    The subject is an outbound message (``message_id``: a heenbericht awaiting its retour)
    or an inbound one (``inbound_id``: a request awaiting our answer, a late report).
    One deadline per kind and subject.
    """

    __tablename__ = "deadlines"
    __table_args__ = (
        UniqueConstraint("kind", "message_id"),
        UniqueConstraint("kind", "inbound_id"),
        # The overdue scan: open (not met, not yet overdue) and past due.
        Index("ix_deadlines_open", "met_at", "overdue_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: retour | antwoord_verzoek | declaratie_antwoord | melding_start_stop
    kind: Mapped[str] = mapped_column(String(30))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    werkdagen: Mapped[int]
    #: The moment the period started (the Dutch calendar date of it counts as day 0).
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    met_at: Mapped[datetime | None]
    overdue_at: Mapped[datetime | None]
    handled_at: Mapped[datetime | None]
    handled_by: Mapped[str | None] = mapped_column(String(100))
