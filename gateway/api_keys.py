"""Back-office API keys: scoped per law and capability, several per client, stored hashed.

A key looks like ``gw_<prefix>_<secret>``. The prefix is stored in clear to find the
row; the whole key is compared as a SHA-256 hash in constant time. Keys are 256-bit
random, so a fast hash is enough (no password stretching needed).

Scopes are ``<area>:<capability>``: ``jeugdwet:write``, ``wmo:read``, ``corv:write``,
``events:read``. Read and write are separate grants. The first scopes,
``beschikkingen:write`` and ``berichten:read``, keep working and mean both laws. A route
states the broad scope it needs (``beschikkingen:write``: "may write for some law"); the
handler then checks the law of the data itself with :func:`has_law_scope`.

A client may hold several keys at once: :func:`rotate_key` issues a new key while the
old one keeps working until revoked (or until the grace period given to the rotation
ends), so a back-office can switch over without downtime.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.access_tables import ApiKey
from gateway.store.tables import ApiClient

SCOPE_BESCHIKKINGEN_WRITE = "beschikkingen:write"
SCOPE_BERICHTEN_READ = "berichten:read"
SCOPE_EVENTS_READ = "events:read"
SCOPE_CORV_WRITE = "corv:write"
SCOPE_CORV_READ = "corv:read"
LAWS = ("jeugdwet", "wmo")
SCOPE_JEUGDWET_READ = "jeugdwet:read"
SCOPE_JEUGDWET_WRITE = "jeugdwet:write"
SCOPE_WMO_READ = "wmo:read"
SCOPE_WMO_WRITE = "wmo:write"
LAW_SCOPES = tuple(f"{law}:{capability}" for law in LAWS for capability in ("read", "write"))
ALL_SCOPES = (
    SCOPE_BESCHIKKINGEN_WRITE,
    SCOPE_BERICHTEN_READ,
    SCOPE_EVENTS_READ,
    SCOPE_CORV_WRITE,
    SCOPE_CORV_READ,
    *LAW_SCOPES,
)
#: The first, law-less scopes and the law scopes they stand for.
_LEGACY: dict[str, tuple[str, ...]] = {
    SCOPE_BESCHIKKINGEN_WRITE: tuple(f"{law}:write" for law in LAWS),
    SCOPE_BERICHTEN_READ: tuple(f"{law}:read" for law in LAWS),
}


def effective_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """What a list of granted scopes allows, with the legacy scopes expanded both ways."""
    granted = set(scopes)
    for legacy, law_scopes in _LEGACY.items():
        if legacy in granted:
            granted.update(law_scopes)
        if granted.intersection(law_scopes):
            granted.add(legacy)  # the route-level gate: "for some law"
    return frozenset(granted)


def has_scope(client: ApiClient, scope: str) -> bool:
    return scope in effective_scopes(client.scopes)


def has_law_scope(client: ApiClient, law: str, capability: str) -> bool:
    """Whether ``client`` may ``capability`` (read/write) data of ``law`` (jeugdwet/wmo)."""
    return f"{law}:{capability}" in effective_scopes(client.scopes)


def readable_laws(client: ApiClient) -> tuple[str, ...]:
    return tuple(law for law in LAWS if has_law_scope(client, law, "read"))


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "gw" or not parts[1]:
        return None
    return parts[1][:16]


def new_key() -> str:
    return f"gw_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def _check_scopes(scopes: Iterable[str]) -> None:
    unknown = set(scopes) - set(ALL_SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")


def create_client(
    session: Session,
    name: str,
    scopes: list[str],
    now: datetime,
    key: str | None = None,
    *,
    rate_per_minute: int | None = None,
    burst: int | None = None,
    max_body_bytes: int | None = None,
) -> tuple[ApiClient, str]:
    """Register a back-office client with its first key; returns it with the plain key (shown once)."""
    _check_scopes(scopes)
    for label, value in (
        ("rate_per_minute", rate_per_minute),
        ("burst", burst),
        ("max_body_bytes", max_body_bytes),
    ):
        if value is not None and value < 1:
            raise ValueError(f"{label} must be at least 1")
    client = ApiClient(
        name=name,
        scopes=list(scopes),
        active=True,
        created_at=now,
        rate_per_minute=rate_per_minute,
        burst=burst,
        max_body_bytes=max_body_bytes,
    )
    session.add(client)
    session.flush()
    _row, plain = add_key(session, client, now, key)
    return client, plain


def add_key(
    session: Session,
    client: ApiClient,
    now: datetime,
    key: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Give ``client`` another key (its other keys keep working)."""
    key = key or new_key()
    prefix = _prefix(key)
    if prefix is None:
        raise ValueError("an API key has the form gw_<prefix>_<secret>")
    row = ApiKey(
        client_id=client.id, prefix=prefix, key_hash=_hash(key), created_at=now, expires_at=expires_at
    )
    session.add(row)
    session.flush()
    return row, key


def _usable(key: ApiKey, now: datetime) -> bool:
    return key.revoked_at is None and (key.expires_at is None or key.expires_at > now)


def rotate_key(
    session: Session, name: str, now: datetime, old_valid_for: timedelta | None = None
) -> tuple[ApiKey, str]:
    """A new key for client ``name``. The old keys stay valid until revoked or, with
    ``old_valid_for``, until that much time has passed."""
    client = session.scalar(select(ApiClient).where(ApiClient.name == name))
    if client is None:
        raise ValueError(f"no API client named {name!r}")
    if old_valid_for is not None:
        deadline = now + old_valid_for
        for old in session.scalars(select(ApiKey).where(ApiKey.client_id == client.id)):
            if _usable(old, now) and (old.expires_at is None or old.expires_at > deadline):
                old.expires_at = deadline
    return add_key(session, client, now)


def revoke_key(session: Session, prefix: str, now: datetime) -> int:
    """Revoke the key(s) with this prefix at once; returns how many were revoked."""
    count = 0
    for key in session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))):
        key.revoked_at = now
        count += 1
    return count


def revoke_exact_key(session: Session, key: str, now: datetime) -> int:
    """Revoke ``key`` itself wherever it is stored (not its prefix-mates); how many rows."""
    prefix = _prefix(key)
    if prefix is None:
        return 0
    digest = _hash(key)
    rows = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))).all()
    revoked = [row for row in rows if hmac.compare_digest(row.key_hash, digest)]
    for row in revoked:
        row.revoked_at = now
    return len(revoked)


def find_client(session: Session, key: str, now: datetime | None = None) -> ApiClient | None:
    """The active client owning ``key`` (a key neither revoked nor expired at ``now``), or None."""
    prefix = _prefix(key)
    if prefix is None:
        return None
    digest = _hash(key)
    # Key and client in one query: this runs on every API request, a round trip saved each time.
    candidates = session.execute(
        select(ApiKey, ApiClient)
        .join(ApiClient, ApiClient.id == ApiKey.client_id)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    ).all()
    for candidate, client in candidates:
        if hmac.compare_digest(candidate.key_hash, digest):
            if now is not None and not _usable(candidate, now):
                return None
            return client if client.active else None
    return None


@dataclass(frozen=True, slots=True)
class KeyListing:
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClientListing:
    name: str
    scopes: list[str]
    active: bool
    rate_per_minute: int | None
    burst: int | None
    max_body_bytes: int | None
    keys: list[KeyListing]


def list_clients(session: Session) -> list[ClientListing]:
    """Every client with its keys (prefixes only - the keys themselves are not kept)."""
    listings = []
    for client in session.scalars(select(ApiClient).order_by(ApiClient.name)):
        keys = session.scalars(select(ApiKey).where(ApiKey.client_id == client.id).order_by(ApiKey.id)).all()
        listings.append(
            ClientListing(
                client.name,
                list(client.scopes),
                client.active,
                client.rate_per_minute,
                client.burst,
                client.max_body_bytes,
                [KeyListing(k.prefix, k.created_at, k.expires_at, k.revoked_at) for k in keys],
            )
        )
    return listings
