"""Back-office API keys: several per client, each hashed, each with its own life.

A client has one or more keys at a time so a key can be rotated without downtime: the
new key works at once, the old one keeps working until it is revoked or its
``expires_at`` passes. Only the SHA-256 of a key is stored; ``prefix`` (clear text, not
secret) finds the candidate rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables import Base, BigId


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    #: After this moment the key no longer works (set on the old key by a rotation).
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
