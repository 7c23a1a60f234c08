"""Retention: message bodies are removed first, message metadata later; each run is recorded.

Why two periods: the bodies (XML with BSN, names, care details) are the sensitive part
and are needed only while a message may still be re-sent or investigated; the metadata
(ids, states, attempts, retourcodes) stays useful for reports and disputes for longer.

What is pruned, and what never is:

- only *finished* messages: ``answered`` or ``rejected``; our own retours, Fo01s and
  webhooks once ``delivered`` (nothing answers those). Never a message that is queued,
  sending, delivered-and-awaiting-its-retour, parked or expired: an operator may still
  need to re-send it. The age counts from its last change (``updated_at``).
- inbound messages by their ``received_at``, except while an open verzoek rests on them or
  our answer to them has not finished.
- metadata only when no other table still points at the row (a CAK melding, a verzoek, a
  declaratie, a CORV record ...): such rows are kept until their owner lets go. Delivery
  attempts, toewijzing links and feed events of a removed message go with it.
- CORV bodies under the body retention: the wire chunks of a finished CORV message
  (deleted: its ``messages`` bodies are emptied like any other), the payload of a
  received jz0100 message (set to NULL) unless our answer to it is still open (a
  zorgmelding without its terugkoppeling, or whose terugkoppeling is unanswered) or the
  message it answers is not finished. The CORV rows themselves stay (operators, links).

A pruned body is stored as empty bytes (the NOT NULL columns stay valid; the encrypted
column types pass empty values through). Every run writes a ``retention_runs`` row and a
``retention.pruned`` audit entry with the counts. The scanner runs it at most once per
``retention.interval_minutes``; ``gateway prune`` runs it now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Table, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from gateway.audit import ActorKind, record_audit
from gateway.runtime import Runtime
from gateway.store.corv_tables import CorvInbound, CorvWireChunk, CorvZorgmelding
from gateway.store.database import transaction
from gateway.store.security_tables import RetentionRun
from gateway.store.tables import Base, InboundMessage, Message, MessageState, Verzoek
from gateway.store.tracking_tables import Deadline

log = structlog.get_logger("gateway.retention")

#: Our own answers and notifications: nothing answers them, delivered is their end.
FINAL_WHEN_DELIVERED = ("ggk_Du01", "Fo01", "webhook")
#: Rows that belong to a message and go when it goes (deadlines only once met or handled).
OWNED_BY_MESSAGE = frozenset({"delivery_attempts", "message_toewijzingen", "events", "deadlines"})
OWNED_BY_INBOUND = frozenset({"deadlines"})
OPEN_VERZOEK = ("open", "in_onderzoek")


def _finished(message: type[Message] | Any = Message) -> ColumnElement[bool]:
    return or_(
        message.state.in_((MessageState.ANSWERED, MessageState.REJECTED)),
        and_(message.state == MessageState.DELIVERED, message.operation.in_(FINAL_WHEN_DELIVERED)),
    )


def _referencing(table: Table, exclude: frozenset[str] = frozenset()) -> list[tuple[Table, Any]]:
    """(table, FK column) of every table with a foreign key to ``table``'s id."""
    found = []
    for other in Base.metadata.sorted_tables:
        if other.name in exclude:
            continue
        for fk in other.foreign_keys:
            if fk.column.table is table:
                found.append((other, fk.parent))
    return found


def _not_referenced(table: Table, owned: frozenset[str]) -> list[ColumnElement[bool]]:
    """No other table points at the row, apart from its owned rows; and no open deadline does."""
    conditions = [~exists().where(column == table.c.id) for _other, column in _referencing(table, owned)]
    deadline_column = Deadline.message_id if table is Message.__table__ else Deadline.inbound_id
    conditions.append(
        ~exists().where(
            deadline_column == table.c.id, Deadline.met_at.is_(None), Deadline.handled_at.is_(None)
        )
    )
    return conditions


def _delete_owned(session: Session, table: Table, owned: frozenset[str], ids: list[int]) -> None:
    for other, column in _referencing(table):
        if other.name in owned:
            session.execute(delete(other).where(column.in_(ids)))


def _batches(runtime: Runtime, ids_query: Any, work: Callable[[Session, list[int]], None]) -> int:
    """Apply ``work`` to the ids the query finds, one short transaction per batch."""
    settings = runtime.settings.retention
    total = 0
    for _ in range(settings.max_batches_per_run):
        with transaction(runtime.sessions) as session:
            ids = list(session.scalars(ids_query.limit(settings.batch_size)))
            if ids:
                work(session, ids)
        total += len(ids)
        if len(ids) < settings.batch_size:
            break
    return total


def _prune_message_bodies(runtime: Runtime, cutoff: datetime) -> int:
    query = (
        select(Message.id)
        .where(_finished(), Message.updated_at < cutoff, func.length(Message.wire_body) > 0)
        .order_by(Message.id)
    )

    def work(session: Session, ids: list[int]) -> None:
        session.execute(update(Message).where(Message.id.in_(ids)).values(payload=b"", wire_body=b""))

    return _batches(runtime, query, work)


def _inbound_prunable(cutoff: datetime) -> list[ColumnElement[bool]]:
    answer = Message.__table__.alias("answer")
    matched = Message.__table__.alias("matched")
    return [
        InboundMessage.received_at < cutoff,
        # A retour of a message that is somehow not finished (a late retour to an expired one).
        or_(
            InboundMessage.matched_message_id.is_(None),
            exists().where(matched.c.id == InboundMessage.matched_message_id, _finished(matched.c)),
        ),
        ~exists().where(Verzoek.inbound_id == InboundMessage.id, Verzoek.status.in_(OPEN_VERZOEK)),
        or_(
            InboundMessage.answer_message_id.is_(None),
            exists().where(answer.c.id == InboundMessage.answer_message_id, _finished(answer.c)),
        ),
    ]


def _prune_inbound_bodies(runtime: Runtime, cutoff: datetime) -> int:
    query = (
        select(InboundMessage.id)
        .where(*_inbound_prunable(cutoff), func.length(InboundMessage.body) > 0)
        .order_by(InboundMessage.id)
    )

    def work(session: Session, ids: list[int]) -> None:
        session.execute(
            update(InboundMessage).where(InboundMessage.id.in_(ids)).values(body=b"", payload=None)
        )

    return _batches(runtime, query, work)


def _prune_corv_wire_bodies(runtime: Runtime, cutoff: datetime) -> int:
    """Finished CORV messages: their chunks go (a finished message is never re-sent)."""
    query = (
        select(Message.id)
        .where(
            _finished(),
            Message.updated_at < cutoff,
            exists().where(CorvWireChunk.message_id == Message.id),
        )
        .order_by(Message.id)
    )

    def work(session: Session, ids: list[int]) -> None:
        session.execute(delete(CorvWireChunk).where(CorvWireChunk.message_id.in_(ids)))

    return _batches(runtime, query, work)


def _prune_corv_inbound_bodies(runtime: Runtime, cutoff: datetime) -> int:
    matched = Message.__table__.alias("matched")
    answer = Message.__table__.alias("answer")
    open_zorgmelding = exists().where(
        CorvZorgmelding.inbound_id == CorvInbound.id,
        or_(
            CorvZorgmelding.status == "open",
            ~exists().where(answer.c.id == CorvZorgmelding.terugkoppeling_message_id, _finished(answer.c)),
        ),
    )
    query = (
        select(CorvInbound.id)
        .where(
            CorvInbound.received_at < cutoff,
            CorvInbound.payload.is_not(None),
            or_(
                CorvInbound.matched_message_id.is_(None),
                exists().where(matched.c.id == CorvInbound.matched_message_id, _finished(matched.c)),
            ),
            ~open_zorgmelding,
        )
        .order_by(CorvInbound.id)
    )

    def work(session: Session, ids: list[int]) -> None:
        session.execute(update(CorvInbound).where(CorvInbound.id.in_(ids)).values(payload=None))

    return _batches(runtime, query, work)


def _prune_inbound_rows(runtime: Runtime, cutoff: datetime) -> int:
    table = InboundMessage.__table__
    query = (
        select(InboundMessage.id)
        .where(*_inbound_prunable(cutoff), *_not_referenced(table, OWNED_BY_INBOUND))  # type: ignore[arg-type]
        .order_by(InboundMessage.id)
    )

    def work(session: Session, ids: list[int]) -> None:
        _delete_owned(session, table, OWNED_BY_INBOUND, ids)  # type: ignore[arg-type]
        session.execute(delete(InboundMessage).where(InboundMessage.id.in_(ids)))

    return _batches(runtime, query, work)


def _prune_message_rows(runtime: Runtime, cutoff: datetime) -> int:
    table = Message.__table__
    query = (
        select(Message.id)
        .where(_finished(), Message.updated_at < cutoff, *_not_referenced(table, OWNED_BY_MESSAGE))  # type: ignore[arg-type]
        .order_by(Message.id)
    )

    def work(session: Session, ids: list[int]) -> None:
        _delete_owned(session, table, OWNED_BY_MESSAGE, ids)  # type: ignore[arg-type]
        session.execute(delete(Message).where(Message.id.in_(ids)))

    return _batches(runtime, query, work)


def prune(runtime: Runtime, *, trigger: str = "cli", actor: str = "gateway") -> dict[str, int]:
    """One pruning run: bodies past ``body_days``, metadata past ``metadata_days``; recorded."""
    settings = runtime.settings.retention
    started = runtime.clock.now()
    body_cutoff = started - timedelta(days=settings.body_days)
    metadata_cutoff = started - timedelta(days=settings.metadata_days)
    removed: dict[str, int] = {}
    if settings.body_days:
        removed["message_bodies"] = _prune_message_bodies(runtime, body_cutoff)
        removed["inbound_bodies"] = _prune_inbound_bodies(runtime, body_cutoff)
        removed["corv_wire_bodies"] = _prune_corv_wire_bodies(runtime, body_cutoff)
        removed["corv_inbound_bodies"] = _prune_corv_inbound_bodies(runtime, body_cutoff)
    if settings.metadata_days:
        removed["inbound_messages"] = _prune_inbound_rows(runtime, metadata_cutoff)
        removed["messages"] = _prune_message_rows(runtime, metadata_cutoff)
    finished = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        run = RetentionRun(
            started_at=started,
            finished_at=finished,
            trigger=trigger,
            body_cutoff=body_cutoff,
            metadata_cutoff=metadata_cutoff,
            removed=removed,
        )
        session.add(run)
        session.flush()
        record_audit(
            session,
            actor=actor,
            actor_kind=ActorKind.SYSTEM if trigger == "scanner" else ActorKind.CLI,
            action="retention.pruned",
            target=f"retention_run:{run.id}",
            details={
                "removed": removed,
                "body_days": settings.body_days,
                "metadata_days": settings.metadata_days,
            },
            now=finished,
        )
    log.info("retention_pruned", trigger=trigger, **removed)
    return removed


def prune_when_due(runtime: Runtime) -> dict[str, int] | None:
    """The scanner's job: prune if the last run (any process) is ``interval_minutes`` old."""
    settings = runtime.settings.retention
    if not (settings.body_days or settings.metadata_days):
        return None
    with runtime.sessions() as session:
        last = session.scalar(select(func.max(RetentionRun.started_at)))
    now = runtime.clock.now()
    if last is not None and now - last < timedelta(minutes=settings.interval_minutes):
        return None
    return prune(runtime, trigger="scanner")
