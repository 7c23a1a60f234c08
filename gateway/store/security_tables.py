"""Tables of the security layer: the hash-chained audit log and the retention runs.

- ``audit_log``: append-only; each row carries the SHA-256 of the previous row's hash
  plus its own canonical JSON (see :mod:`gateway.audit`). ``seq`` is contiguous from 1,
  so a deleted row leaves a gap that :func:`gateway.audit.verify_chain` reports.
- ``audit_chain_head``: one row (id 1) holding the last ``seq`` and hash. Appends update it
  first, which serialises them on PostgreSQL (row lock) and SQLite (write lock), and it
  lets the verifier notice a row deleted from the end of the chain.
- ``retention_runs``: what each pruning run removed (see :mod:`gateway.retention`).

Neither table holds personal data: audit targets are ids (``bericht:12``), never a BSN.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables import Base, BigId

#: ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    """One fact in the tamper-evident audit log: who did what, to what, and why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: Position in the chain: 1, 2, 3 ... without gaps.
    seq: Mapped[int] = mapped_column(unique=True)
    created_at: Mapped[datetime]
    #: The API client's name, the operator's username, ``gateway`` for the system itself.
    actor: Mapped[str] = mapped_column(String(100))
    #: api_client | operator | system | cli
    actor_kind: Mapped[str] = mapped_column(String(20))
    #: Stable dotted name: ``api.write``, ``bsn.revealed``, ``config.changed``, ``retention.pruned``.
    action: Mapped[str] = mapped_column(String(60), index=True)
    #: What it was done to, as ids (``bericht:12``, ``route:ggk:99990001``); never a BSN.
    target: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The end of the chain (a single row, id 1): the lock appends queue on."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


class RetentionRun(Base):
    """One run of the pruning job and what it removed."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    #: scanner | cli
    trigger: Mapped[str] = mapped_column(String(20))
    body_cutoff: Mapped[datetime]
    metadata_cutoff: Mapped[datetime]
    #: Counts per kind: ``{"message_bodies": 3, "messages": 1, "inbound_bodies": 2, ...}``.
    removed: Mapped[dict[str, Any]]
