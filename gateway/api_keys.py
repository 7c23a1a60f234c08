"""Back-office API keys: issued once in plain text, stored only as a hash.

A key looks like ``gw_<prefix>_<secret>``. The prefix is stored in clear to find the
row; the whole key is compared as a SHA-256 hash in constant time. Keys are 256-bit
random, so a fast hash is enough (no password stretching needed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.tables import ApiClient

SCOPE_BESCHIKKINGEN_WRITE = "beschikkingen:write"
SCOPE_BERICHTEN_READ = "berichten:read"
SCOPE_EVENTS_READ = "events:read"
ALL_SCOPES = (SCOPE_BESCHIKKINGEN_WRITE, SCOPE_BERICHTEN_READ, SCOPE_EVENTS_READ)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "gw" or not parts[1]:
        return None
    return parts[1][:16]


def new_key() -> str:
    return f"gw_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def create_client(
    session: Session, name: str, scopes: list[str], now: datetime, key: str | None = None
) -> tuple[ApiClient, str]:
    """Register a back-office client; returns it with the plain key (shown once)."""
    key = key or new_key()
    prefix = _prefix(key)
    if prefix is None:
        raise ValueError("an API key has the form gw_<prefix>_<secret>")
    unknown = set(scopes) - set(ALL_SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    client = ApiClient(
        name=name, key_prefix=prefix, key_hash=_hash(key), scopes=list(scopes), active=True, created_at=now
    )
    session.add(client)
    session.flush()
    return client, key


def find_client(session: Session, key: str) -> ApiClient | None:
    """The active client owning ``key``, or None."""
    prefix = _prefix(key)
    if prefix is None:
        return None
    digest = _hash(key)
    candidates = session.scalars(
        select(ApiClient).where(ApiClient.key_prefix == prefix, ApiClient.active.is_(True))
    ).all()
    for candidate in candidates:
        if hmac.compare_digest(candidate.key_hash, digest):
            return candidate
    return None
