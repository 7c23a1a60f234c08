"""Tables of the operations side (issue 6): who operates, and what they did to the flows.

- ``operators`` / ``operator_sessions``: local accounts (Argon2id password hashes) with a
  role, and server-side sessions; only a SHA-256 of a session token is stored, so a copy
  of the database does not let anyone log in.
- ``route_controls``: routes an operator paused; the delivery worker skips them.
- ``replay_jobs`` / ``replay_job_items``: a replay of one or many messages as a tracked,
  restartable job; each item remembers the new message it created.
- ``ops_alerts``: alerts raised once per (kind, subject, state version) - the unique
  ``alert_key`` is what keeps a flapping subject from flooding anyone.

Same metadata as :mod:`gateway.store.tables`, so the Alembic migration covers it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables import Base, BigId


class Operator(Base):
    """A person who runs the gateway. ``role``: viewer | operator | privacy_officer."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: Argon2id, in the library's self-describing string format (parameters included).
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class OperatorSession(Base):
    """A login: valid until ``expires_at`` (absolute) and while used within the idle limit."""

    __tablename__ = "operator_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: SHA-256 (hex) of the random token the browser or API client holds.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class RouteControl(Base):
    """An operator's hold on a route (``ggk:99990001``): while paused nothing is claimed."""

    __tablename__ = "route_controls"

    route: Mapped[str] = mapped_column(String(60), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime]


class ReplayJob(Base):
    """A replay of a set of messages: previewed, confirmed, then processed in batches.

    ``status``: preview (awaiting confirmation) | running | done | cancelled.
    Counts are updated with every batch, so progress is visible while it runs; after
    a crash the remaining ``pending`` items are picked up again.
    """

    __tablename__ = "replay_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    #: The search filter that chose the messages (or ``{"message_id": n}``), for people.
    selection: Mapped[dict[str, Any]]
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    #: SHA-256 of the one-time token the confirmation must present.
    confirmation_hash: Mapped[str] = mapped_column(String(64))
    confirm_before: Mapped[datetime]
    confirmed_by: Mapped[str | None] = mapped_column(String(100))
    confirmed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    total: Mapped[int] = mapped_column(default=0)
    processed: Mapped[int] = mapped_column(default=0)
    succeeded: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)


class ReplayJobItem(Base):
    """One message of a replay job. ``state``: pending | replayed | failed."""

    __tablename__ = "replay_job_items"
    __table_args__ = (Index("ix_replay_job_items_pending", "job_id", "state"),)

    job_id: Mapped[int] = mapped_column(ForeignKey("replay_jobs.id"), primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(10))
    new_message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)


class OpsAlert(Base):
    """Something an operator should look at; raised once per ``alert_key``.

    ``kind``: overdue | parked | route_failing | corv_unmatched. ``status``: open | acknowledged.
    """

    __tablename__ = "ops_alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: ``<kind>:<subject>:<state version>``: a second evaluation finds it taken.
    alert_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    route: Mapped[str | None] = mapped_column(String(60))
    message_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    deadline_id: Mapped[int | None] = mapped_column(BigInteger)
    summary: Mapped[str] = mapped_column(Text)
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    count: Mapped[int] = mapped_column(default=1)
    raised_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
