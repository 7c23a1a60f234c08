"""The tamper-evident audit log: an append-only, SHA-256 hash-chained table.

API (stable; other modules call only these)::

    from gateway.audit import record_audit, verify_chain, ActorKind

    entry = record_audit(
        session,                      # the caller's session: recorded in ITS transaction,
        actor="jdevries",             # so the fact and its audit entry commit together
        actor_kind=ActorKind.OPERATOR,  # api_client | operator | system | cli
        action="bsn.revealed",        # stable dotted name
        target="bericht:12",          # ids only
        reason="klant belt over zijn toewijzing",
        details={"route": "ggk:99990001"},
        now=runtime.clock.now(),      # optional; default the system clock
    )
    broken = verify_chain(session)    # None, or the first BrokenLink (seq, entry id, problem)

``append_audit`` takes the same arguments as ``record_audit`` and appends the same row, but
returns a small :class:`AppendedEntry` instead of the ORM object (for the per-request appends).

Actions in use: ``api.write`` (every back-office write, :mod:`gateway.audit_recorders`),
``config.changed`` (start-up), ``bsn.revealed`` and operator actions (``bericht.replayed``,
``route.paused``, ``operator.login``, ``operator.login_failed``, ``operator.logout`` ...;
the operations backend), ``retention.pruned``, ``keys.rotated``,
``keys.reencrypted``.

Never put personal data in an entry: ``record_audit`` refuses any 11-proef-valid 9-digit
number anywhere in it (ValueError), because the log is kept longer than the data and is
not encrypted. Name the object by id (``bericht:12``, ``beschikking:7``).

How the chain works: entry *n* stores ``prev_hash`` (entry *n-1*'s hash, zeros for the
first) and ``hash = sha256(prev_hash + canonical_json(entry))``. Changing a row breaks its
own hash; deleting one leaves a gap in ``seq``; deleting the newest ones disagrees with
the single-row ``audit_chain_head``, which every append locks *first*: that row lock
(PostgreSQL) or write lock (SQLite) serialises concurrent appends, so the chain never
forks. On PostgreSQL an append is one statement (lock the head, advance it, insert the
entry; the server computes the hash and the gateway checks it), elsewhere three. What
the chain cannot stop is someone who rewrites the whole chain from the tampered row on;
`gateway audit verify` prints the head hash so it can be copied to a place the
database's administrators cannot write (see docs/security.md).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.bsn import passes_elfproef
from gateway.store.security_tables import GENESIS_HASH, AuditChainHead, AuditEntry

_HEAD_ID = 1
#: A 9-digit number standing on its own (not inside a hex digest or a longer id).
_STANDALONE_NINE_DIGITS = re.compile(r"(?<![0-9A-Za-z])[0-9]{9}(?![0-9A-Za-z])")


def _contains_bsn(text: str) -> bool:
    return any(passes_elfproef(match.group(0)) for match in _STANDALONE_NINE_DIGITS.finditer(text))


class ActorKind(StrEnum):
    API_CLIENT = "api_client"
    OPERATOR = "operator"
    SYSTEM = "system"
    CLI = "cli"


@dataclass(frozen=True)
class BrokenLink:
    """The first place the chain does not hold: ``seq`` is the entry that fails."""

    seq: int
    entry_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"entry seq {self.seq}" + (f" (id {self.entry_id})" if self.entry_id is not None else "")
        return f"{where}: {self.problem}"


def canonical_json(
    *,
    seq: int,
    created_at: datetime,
    actor: str,
    actor_kind: str,
    action: str,
    target: str | None,
    reason: str | None,
    details: dict[str, Any],
) -> str:
    """The bytes an entry's hash covers: sorted keys, no spaces, UTC timestamp."""
    return json.dumps(
        {
            "seq": seq,
            "created_at": created_at.astimezone(UTC).isoformat(),
            "actor": actor,
            "actor_kind": actor_kind,
            "action": action,
            "target": target,
            "reason": reason,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def chain_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _entry_canonical(entry: Any) -> str:
    return canonical_json(
        seq=entry.seq,
        created_at=entry.created_at,
        actor=entry.actor,
        actor_kind=entry.actor_kind,
        action=entry.action,
        target=entry.target,
        reason=entry.reason,
        details=entry.details,
    )


def _entry_hash(entry: Any) -> str:
    return chain_hash(entry.prev_hash, _entry_canonical(entry))


# Every API write appends, so these run once per request: built once, and lean. Core
# statements on the session's connection, not ORM ones: an ORM UPDATE goes through the bulk
# update machinery and an ORM INSERT through a flush (about 1 ms CPU each on the reference
# machine), for rows that are never kept as objects anyway.
_HEAD: Table = AuditChainHead.__table__  # type: ignore[assignment]  # a Table, typed FromClause
_LOG: Table = AuditEntry.__table__  # type: ignore[assignment]
#: Takes the lock and reads the head in one round trip (RETURNING).
_LOCK_HEAD = (
    update(_HEAD).where(_HEAD.c.id == _HEAD_ID).values(seq=_HEAD.c.seq).returning(_HEAD.c.seq, _HEAD.c.hash)
)
_ADVANCE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == _HEAD_ID)
    .values(
        seq=bindparam("new_seq", type_=_HEAD.c.seq.type), hash=bindparam("new_hash", type_=_HEAD.c.hash.type)
    )
)
_ENTRY_COLUMNS = (
    "seq",
    "created_at",
    "actor",
    "actor_kind",
    "action",
    "target",
    "reason",
    "details",
    "prev_hash",
    "hash",
)
_APPEND_VALUES = ("created_at", "actor", "actor_kind", "action", "target", "reason", "details")
_INSERT_ENTRY = (
    insert(_LOG)
    .values({name: bindparam(name, type_=_LOG.c[name].type) for name in _ENTRY_COLUMNS})
    .returning(_LOG.c.id)
)
#: PostgreSQL: a whole append in one statement and one round trip. ``prev`` locks the head
#: (``FOR UPDATE``: having waited for another appender's commit, it returns that newer
#: head); ``head`` advances it, the server computing the new entry's hash over exactly the
#: bytes :func:`chain_hash` hashes (the canonical JSON is sent in two pieces around its
#: ``seq``, which only the locked head tells); the entry is inserted linked to the old head.
#: The lock is held from here to the commit: one round trip shorter than lock, then write.
_APPEND_PG = (
    text(
        """
    WITH prev AS (
        SELECT seq, hash FROM audit_chain_head WHERE id = 1 FOR UPDATE
    ), head AS (
        UPDATE audit_chain_head
        SET seq = prev.seq + 1,
            hash = encode(
                sha256(convert_to(prev.hash || :before || (prev.seq + 1)::text || :after, 'UTF8')), 'hex'
            )
        FROM prev
        WHERE audit_chain_head.id = 1
        RETURNING audit_chain_head.seq AS seq, audit_chain_head.hash AS hash, prev.hash AS prev_hash
    )
    INSERT INTO audit_log
        (seq, created_at, actor, actor_kind, action, target, reason, details, prev_hash, hash)
    SELECT head.seq, :created_at, :actor, :actor_kind, :action, :target, :reason, CAST(:details AS JSON),
           head.prev_hash, head.hash
    FROM head
    RETURNING audit_log.id, audit_log.seq, audit_log.prev_hash, audit_log.hash
    """
    )
    .bindparams(*(bindparam(name, type_=_LOG.c[name].type) for name in _APPEND_VALUES))
    # Typed result columns: SQLAlchemy then keeps the result's metadata with the cached
    # statement instead of reading the cursor description anew on every append.
    .columns(_LOG.c.id, _LOG.c.seq, _LOG.c.prev_hash, _LOG.c.hash)
)


def _around_seq(target: str | None, canonical: str) -> tuple[str, str] | None:
    """``(before, after)`` with ``before + str(seq) + after`` the entry's canonical JSON for any seq.

    ``canonical`` is the entry's canonical JSON with seq 0. Its keys are sorted, so it ends
    in ``,"seq":0,"target":...}``; None if it does not (then the append takes the long way)
    or if it is not ASCII (the server's encoding then need not give Python's UTF-8 bytes).
    """
    tail = json.dumps({"target": target}, separators=(",", ":"), ensure_ascii=False)[1:]
    suffix = ',"seq":0,' + tail
    if not canonical.isascii() or not canonical.endswith(suffix):
        return None
    return canonical[: -len(suffix)] + ',"seq":', "," + tail


def lock_chain(session: Session) -> tuple[int, str]:
    """Take the chain's lock (update the head row) until commit; its seq and hash.

    Callers that must decide *whether* to record under the lock (compare, then record)
    call this first; :func:`record_audit` takes it again, which is harmless.
    """
    # The session's pending work goes to the database first (as autoflush did before an
    # ORM statement), so that it is not flushed at commit while we hold the chain's lock.
    session.flush()
    connection = session.connection()
    row = connection.execute(_LOCK_HEAD).one_or_none()
    if row is None:
        # A database emptied by hand (or by a test): start a new head; a concurrent
        # starter wins the insert and we queue behind it.
        try:
            with session.begin_nested():
                session.add(AuditChainHead(id=_HEAD_ID, seq=0, hash=GENESIS_HASH))
        except IntegrityError:
            pass
        row = connection.execute(_LOCK_HEAD).one()
    return int(row.seq), str(row.hash)


#: Values a JSON round trip gives back unchanged (exact types: a subclass such as an IntEnum
#: or a str-Enum comes back as its plain value, so it takes the round trip).
_JSON_STABLE = frozenset({str, int, bool, type(None)})


def _stored_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """What is stored and hashed: ``details`` after a JSON round trip (tuples become lists,
    keys strings, anything else its ``str``).

    The round trip is skipped for the common flat dict of plain strings and numbers (every
    API write's ``method``/``route``/``status``), which it would return unchanged.
    """
    if not details:
        return {}
    if all(type(key) is str and type(value) in _JSON_STABLE for key, value in details.items()):
        return dict(details)
    stored: dict[str, Any] = json.loads(json.dumps(details, default=str))
    return stored


@dataclass(frozen=True, slots=True)
class AppendedEntry:
    """What :func:`append_audit` wrote: the entry's generated columns and stored values."""

    id: int
    seq: int
    prev_hash: str
    hash: str
    created_at: datetime
    details: dict[str, Any]


def append_audit(
    session: Session,
    *,
    actor: str,
    actor_kind: str,
    action: str,
    target: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AppendedEntry:
    """:func:`record_audit` without building the ORM :class:`AuditEntry` it returns.

    Why: every API write appends, and the ORM object (instrumented attributes, instance
    state) cost as much CPU as the rest of the Python side of an append, for a row that is
    never used as an object. Same checks, same row, same hash.
    """
    # Store exactly what is hashed: a JSON round trip makes tuples lists, keys strings.
    stored_details = _stored_details(details)
    created_at = (now or datetime.now(UTC)).astimezone(UTC)
    ActorKind(actor_kind)  # ValueError for an unknown kind
    values: dict[str, Any] = {
        "created_at": created_at,
        "actor": actor,
        "actor_kind": actor_kind,
        "action": action,
        "target": target,
        "reason": reason,
        "details": stored_details,
    }
    # The real seq is known under the chain's lock, below.
    canonical = canonical_json(seq=0, **values)
    if _contains_bsn(canonical):
        raise ValueError(f"audit entry {action!r} contains a BSN: name the object by its id instead")
    connection = session.connection()
    pieces = _around_seq(target, canonical) if connection.dialect.name == "postgresql" else None
    if pieces is not None:
        before, after = pieces
        session.flush()  # the session's pending work first, not at commit under the chain's lock
        row = connection.execute(_APPEND_PG, {"before": before, "after": after, **values}).one_or_none()
        if row is not None:
            entry_id, seq, prev_hash, entry_hash = row
            # The same bytes as canonical_json with this seq (the pieces are the canonical JSON
            # around it); a difference is never expected: refuse rather than break the chain.
            if chain_hash(prev_hash, f"{before}{seq}{after}") != entry_hash:
                raise RuntimeError("the database computed another audit chain hash than the gateway")
            return AppendedEntry(entry_id, seq, prev_hash, entry_hash, created_at, stored_details)
        # No head row yet (an emptied database): lock_chain below starts one.
    last_seq, last_hash = lock_chain(session)
    seq = last_seq + 1
    entry_hash = chain_hash(last_hash, canonical_json(seq=seq, **values))
    entry_id = connection.execute(
        _INSERT_ENTRY, {**values, "seq": seq, "prev_hash": last_hash, "hash": entry_hash}
    ).scalar_one()
    connection.execute(_ADVANCE_HEAD, {"new_seq": seq, "new_hash": entry_hash})
    return AppendedEntry(entry_id, seq, last_hash, entry_hash, created_at, stored_details)


def record_audit(
    session: Session,
    *,
    actor: str,
    actor_kind: str,
    action: str,
    target: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (committed, or rolled back, with it).

    Raises ValueError when the entry would contain a BSN. Holds the chain's lock until
    the caller commits: keep the transaction short after calling this. The entry is
    written with Core, so the returned :class:`AuditEntry` (with its ``id``) is not in
    the session: load it to change it (nobody should: the log is append-only).
    """
    appended = append_audit(
        session,
        actor=actor,
        actor_kind=actor_kind,
        action=action,
        target=target,
        reason=reason,
        details=details,
        now=now,
    )
    return AuditEntry(
        id=appended.id,
        seq=appended.seq,
        created_at=appended.created_at,
        actor=actor,
        actor_kind=actor_kind,
        action=action,
        target=target,
        reason=reason,
        details=appended.details,
        prev_hash=appended.prev_hash,
        hash=appended.hash,
    )


def chain_head(session: Session) -> tuple[int, str]:
    """The number of entries and the newest hash (copy it elsewhere to anchor the chain)."""
    row = session.execute(
        select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == _HEAD_ID)
    ).one_or_none()
    return (0, GENESIS_HASH) if row is None else (int(row.seq), str(row.hash))


def verify_chain(session: Session, batch_size: int = 1000) -> BrokenLink | None:
    """Walk the chain from the first entry; the first link that does not hold, or None.

    Safe while the gateway runs: the head is read *before* the walk, so entries appended
    during it (they lie beyond that head) are checked as links but never taken for
    tampering at the end; the head is read again afterwards to catch entries beyond it.
    """
    start_seq, start_hash = chain_head(session)
    hash_at_start = GENESIS_HASH if start_seq == 0 else None
    expected_seq = 1
    prev_hash = GENESIS_HASH
    last_id: int | None = None
    while True:
        # Plain rows, not ORM objects: a long chain does not fill the session.
        batch = session.execute(
            select(*AuditEntry.__table__.columns)
            .where(AuditEntry.seq >= expected_seq)
            .order_by(AuditEntry.seq)
            .limit(batch_size)
        ).all()
        for entry in batch:
            if entry.seq != expected_seq:
                return BrokenLink(expected_seq, None, f"entry missing (the next entry is seq {entry.seq})")
            if entry.prev_hash != prev_hash:
                return BrokenLink(entry.seq, entry.id, "does not link to the entry before it (prev_hash)")
            if _entry_hash(entry) != entry.hash:
                return BrokenLink(entry.seq, entry.id, "altered: its content does not match its hash")
            if entry.seq == start_seq:
                hash_at_start = entry.hash
            prev_hash = entry.hash
            last_id = entry.id
            expected_seq += 1
        if len(batch) < batch_size:
            break
    walked = expected_seq - 1
    if walked < start_seq:
        return BrokenLink(expected_seq, None, f"entries {expected_seq}..{start_seq} missing at the end")
    if hash_at_start != start_hash:
        return BrokenLink(start_seq, None, "the chain head's hash does not match that entry")
    end_seq, _end_hash = chain_head(session)  # appends since the start are fine
    if walked > end_seq:
        return BrokenLink(end_seq + 1, last_id, "entries beyond the recorded chain head")
    return None
