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

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables import Base, BigId, partial_index


class Deadline(Base):
    """Something awaited by ``due_at``: met (``met_at``), or missed (``overdue_at``, set once).

    The subject is an outbound message (``message_id``: a heenbericht awaiting its retour)
    or an inbound one (``inbound_id``: a request awaiting our answer, a late report).
    One deadline per kind and subject.
    """

    __tablename__ = "deadlines"
    __table_args__ = (
        # One per kind and subject. The subject first and only rows that have it: a lookup
        # by message cannot use the inbound key (nor the other way round), whatever the
        # planner's statistics (migration 0009). Also the foreign keys' index.
        partial_index(
            "uq_deadlines_message_id_kind", "message_id", "kind", where="message_id IS NOT NULL", unique=True
        ),
        partial_index(
            "uq_deadlines_inbound_id_kind", "inbound_id", "kind", where="inbound_id IS NOT NULL", unique=True
        ),
        # The overdue scan: open (not met, not yet overdue), in due order. In a form only that
        # scan states: the lookups by message, with ``met_at IS NULL AND overdue_at IS
        # NULL``, cannot use the index whole while it still counts as empty (migration 0009).
        partial_index("ix_deadlines_open", "due_at", "id", where="coalesce(met_at, overdue_at) IS NULL"),
        # The operators' missed deadlines (list, alerts, gauge): an entry only once missed.
        partial_index(
            "ix_deadlines_overdue", "due_at", "id", where="overdue_at IS NOT NULL AND handled_at IS NULL"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: retour | antwoord_verzoek | declaratie_antwoord | melding_start_stop
    kind: Mapped[str] = mapped_column(String(30))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    werkdagen: Mapped[int]
    #: The moment the period started (the Dutch calendar date of it counts as day 0).
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    met_at: Mapped[datetime | None]
    overdue_at: Mapped[datetime | None]
    handled_at: Mapped[datetime | None]
    handled_by: Mapped[str | None] = mapped_column(String(100))
