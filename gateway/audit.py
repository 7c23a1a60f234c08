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
the single-row ``audit_chain_head``, which every append updates *first*: that row lock
(PostgreSQL) or write lock (SQLite) serialises concurrent appends, so the chain never
forks. What the chain cannot stop is someone who rewrites the whole chain from the
tampered row on; `gateway audit verify` prints the head hash so it can be copied to a
place the database's administrators cannot write (see docs/security.md).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, select, update
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


# Every API write appends, so these run once per request: built once, and lean. The lock
# statement takes the lock and reads the head in one round trip (RETURNING). No session
# synchronisation: the head is never kept as an object whose attributes they would refresh.
_LOCK_HEAD = (
    update(AuditChainHead)
    .where(AuditChainHead.id == _HEAD_ID)
    .values(seq=AuditChainHead.seq)
    .returning(AuditChainHead.seq, AuditChainHead.hash)
    .execution_options(synchronize_session=False)
)
_ADVANCE_HEAD = (
    update(AuditChainHead)
    .where(AuditChainHead.id == _HEAD_ID)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
    .execution_options(synchronize_session=False)
)


def lock_chain(session: Session) -> tuple[int, str]:
    """Take the chain's lock (update the head row) until commit; its seq and hash.

    Callers that must decide *whether* to record under the lock (compare, then record)
    call this first; :func:`record_audit` takes it again, which is harmless.
    """
    lock = _LOCK_HEAD
    row = session.execute(lock).one_or_none()
    if row is None:
        # A database emptied by hand (or by a test): start a new head; a concurrent
        # starter wins the insert and we queue behind it.
        try:
            with session.begin_nested():
                session.add(AuditChainHead(id=_HEAD_ID, seq=0, hash=GENESIS_HASH))
        except IntegrityError:
            pass
        row = session.execute(lock).one()
    return int(row.seq), str(row.hash)


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
    the caller commits: keep the transaction short after calling this.
    """
    # Store exactly what is hashed: a JSON round trip makes tuples lists, keys strings.
    stored_details: dict[str, Any] = json.loads(json.dumps(details or {}, default=str))
    created_at = (now or datetime.now(UTC)).astimezone(UTC)
    ActorKind(actor_kind)  # ValueError for an unknown kind
    entry = AuditEntry(
        seq=0,  # the real one is known under the chain's lock, below
        created_at=created_at,
        actor=actor,
        actor_kind=actor_kind,
        action=action,
        target=target,
        reason=reason,
        details=stored_details,
    )
    if _contains_bsn(_entry_canonical(entry)):
        raise ValueError(f"audit entry {action!r} contains a BSN: name the object by its id instead")
    last_seq, last_hash = lock_chain(session)
    entry.seq = last_seq + 1
    entry.prev_hash = last_hash
    entry.hash = _entry_hash(entry)
    session.add(entry)
    session.execute(_ADVANCE_HEAD, {"new_seq": entry.seq, "new_hash": entry.hash})
    session.flush()
    return entry


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
