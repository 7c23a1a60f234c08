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

The API identifies its caller through :class:`ClientCache`: a verified key is trusted for
:data:`KEY_CACHE_TTL_S` seconds without asking the database again (the lookup was a
session, a connection checkout and a query on every request - a third of a simple GET's
CPU). Expiry is still checked on every request. A key revoked or rotated away *in this
process* (:func:`revoke_key`, :func:`revoke_exact_key`, :func:`rotate_key`) is forgotten
at once; a revocation elsewhere (``gateway apikey revoke`` runs in its own process, or
another gateway process) and a client's row changed by hand (deactivated, other scopes or
limits) take effect within the TTL.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, event, select
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


class _KeyChanges:
    """A counter bumped whenever this process revokes or shortens a key: caches then start over."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.generation = 0

    def bump(self) -> None:
        with self._lock:
            self.generation += 1

    def bump_now_and_at_commit(self, session: Session) -> None:
        """Bump now, and again once ``session`` commits.

        Why twice: a request that looks the key up between the change and its commit still
        sees the old row and would cache it; the second bump makes caches drop that too.
        """
        self.bump()
        event.listen(session, "after_commit", lambda _session: self.bump(), once=True)


_key_changes = _KeyChanges()


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
        _key_changes.bump_now_and_at_commit(session)  # a cached old key must not outlive its new expiry
    return add_key(session, client, now)


def revoke_key(session: Session, prefix: str, now: datetime) -> int:
    """Revoke the key(s) with this prefix at once; returns how many were revoked."""
    count = 0
    for key in session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))):
        key.revoked_at = now
        count += 1
    _key_changes.bump_now_and_at_commit(session)
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
    _key_changes.bump_now_and_at_commit(session)
    return len(revoked)


_FIND_CANDIDATES = (
    select(ApiKey, ApiClient)
    .join(ApiClient, ApiClient.id == ApiKey.client_id)
    .where(ApiKey.prefix == bindparam("prefix"), ApiKey.revoked_at.is_(None))
)


def _find_key(session: Session, prefix: str, digest: str) -> tuple[ApiKey, ApiClient] | None:
    """The unrevoked key with this hash and its client (whatever their state), or None."""
    # Key and client in one query: a round trip saved on every lookup.
    for candidate, client in session.execute(_FIND_CANDIDATES, {"prefix": prefix}).all():
        if hmac.compare_digest(candidate.key_hash, digest):
            return candidate, client
    return None


def find_client(session: Session, key: str, now: datetime | None = None) -> ApiClient | None:
    """The active client owning ``key`` (a key neither revoked nor expired at ``now``), or None."""
    prefix = _prefix(key)
    if prefix is None:
        return None
    found = _find_key(session, prefix, _hash(key))
    if found is None:
        return None
    candidate, client = found
    if now is not None and not _usable(candidate, now):
        return None
    return client if client.active else None


#: How long a verified key is trusted without the database: the bound on how late a
#: revocation made in another process (or a client deactivated by hand) takes effect.
KEY_CACHE_TTL_S = 2.0
#: More distinct valid keys than this in one TTL and the cache starts over (a bound on memory).
KEY_CACHE_MAX_ENTRIES = 1024


@dataclass(frozen=True, slots=True)
class _Verified:
    client: ApiClient  # detached from its session: read-only, shared by concurrent requests
    expires_at: datetime | None
    until: float  # time.monotonic() after which the database is asked again


class ClientCache:
    """:func:`find_client` with a short memory, for the per-request identification.

    Only valid keys are remembered (an unknown key always asks the database, so a key
    created a moment ago works at once). Keyed by the key's SHA-256, never the key.
    Thread-safe: a dict read or write is atomic, and a race at worst asks the database twice.
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        ttl_s: float = KEY_CACHE_TTL_S,
        max_entries: int = KEY_CACHE_MAX_ENTRIES,
    ) -> None:
        self._sessions = sessions
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: dict[str, _Verified] = {}
        self._generation = _key_changes.generation

    def cached(self, key: str, now: datetime) -> ApiClient | None:
        """The client when ``key`` was verified less than the TTL ago and has not expired; else None.

        None means "ask :meth:`find`", which may still find the key valid.
        """
        if self._generation != _key_changes.generation or not self._entries:
            return None
        entry = self._entries.get(_hash(key))
        if entry is None or entry.until < time.monotonic():
            return None
        if entry.expires_at is not None and entry.expires_at <= now:
            return None
        return entry.client

    def find(self, key: str, now: datetime) -> ApiClient | None:
        """Like :func:`find_client` (with ``now``), from the cache when it may."""
        client = self.cached(key, now)
        if client is not None:
            return client
        prefix = _prefix(key)
        if prefix is None:
            return None
        digest = _hash(key)
        generation = _key_changes.generation
        until = time.monotonic() + self._ttl_s
        with self._sessions() as session:
            found = _find_key(session, prefix, digest)
            if found is None:
                return None
            candidate, client = found
            if not _usable(candidate, now) or not client.active:
                return None
            session.expunge(client)
        if self._generation != generation:  # a key changed in this process: start over
            self._entries = {}
            self._generation = generation
        if len(self._entries) >= self._max_entries:
            self._entries = {}
        self._entries[digest] = _Verified(client, candidate.expires_at, until)
        return client


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
