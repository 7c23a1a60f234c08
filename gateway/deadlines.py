"""Deadlines in werkdagen: what the chain owes, and noticing - once - when it is late.

The iJw/iWmo standard gives every answer a period in werkdagen:

==========================  ==========  ==============================================
kind                        werkdagen   subject: the period starts at ...
==========================  ==========  ==============================================
``retour``                  3           our heenbericht (message_id): when it is delivered
``antwoord_verzoek``        5           a VOT/VOW (inbound_id): when it arrived; met by our 301/319
``declaratie_antwoord``     10          a 323 (inbound_id): when it arrived; met by our 325
``melding_start_stop``      5           a 305/307 (inbound_id): the start/stop date it reports
``cak_melding``             1 month     our WMO405/407 (message_id): the granting; met by the CAK's OK retour
``cak_melding_pgb``         4 months    the same for PGB provisions only
==========================  ==========  ==============================================

A deadline is *met* when the awaited thing happens and *overdue* when ``due_at`` passes
first. Overdue is a one-way, once-only mark: :func:`scan_overdue` sets ``overdue_at`` with
a guarded UPDATE ... RETURNING and records exactly one ``deadline.verlopen`` event per
deadline - repeated or concurrent scans find nothing more to do. A deadline met late
(before the scanner saw it) gets its one event from :func:`meet_deadline` instead.
An operator closes the loop with :func:`mark_handled`.

A retour deadline is opened when the heenbericht is queued (in the same transaction, so
it cannot be forgotten) and restarted when the message is delivered
(:func:`restart_retour_deadline`): the aanbieder's 3 werkdagen run from receipt. Until
then the scanner leaves it alone - an undelivered message is the delivery's problem
(parked, route failing), not a late aanbieder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from enum import StrEnum
from functools import lru_cache

import structlog
from sqlalchemy import Table, Update, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from gateway.bulk_ids import assign_ids
from gateway.clock import NL
from gateway.events import DEADLINE_OVERDUE, record_event
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store.database import transaction
from gateway.store.tables import Message
from gateway.store.tracking_tables import Deadline
from gateway.werkdagen import WerkdagKalender

log = structlog.get_logger("gateway.deadlines")


class DeadlineKind(StrEnum):
    RETOUR = "retour"
    ANTWOORD_VERZOEK = "antwoord_verzoek"
    DECLARATIE_ANTWOORD = "declaratie_antwoord"
    MELDING_START_STOP = "melding_start_stop"
    #: A report to the CAK (WMO405/407): due one calendar month after granting (see KALENDERMAANDEN).
    CAK_MELDING = "cak_melding"
    #: The same for a report about PGB provisions only: four calendar months.
    CAK_MELDING_PGB = "cak_melding_pgb"


#: The standard's periods, in werkdagen.
WERKDAGEN: dict[str, int] = {
    DeadlineKind.RETOUR: 3,
    DeadlineKind.ANTWOORD_VERZOEK: 5,
    DeadlineKind.DECLARATIE_ANTWOORD: 10,
    DeadlineKind.MELDING_START_STOP: 5,
}


@lru_cache(maxsize=8)
def _calendar(extra_free_days: tuple[date, ...], excluded: tuple[str, ...]) -> WerkdagKalender:
    return WerkdagKalender(extra_free_days=extra_free_days, excluded_holidays=excluded)


def calendar_for(settings: Settings) -> WerkdagKalender:
    """The configured werkdagen calendar, built once per distinct configuration."""
    return _calendar(tuple(settings.werkdagen_extra_free_days), tuple(settings.werkdagen_excluded_holidays))


#: Periods in calendar months, not werkdagen (the CAK's reporting terms, GATEWAY.md section 4).
#: The defaults; ``Settings.eigen_bijdrage`` may set others. ``werkdagen`` is stored as 0.
KALENDERMAANDEN: dict[str, int] = {
    DeadlineKind.CAK_MELDING: 1,
    DeadlineKind.CAK_MELDING_PGB: 4,
}


def add_calendar_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months; the 31st becomes the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    last = (next_month - date.resolution).day
    return date(year, month, min(day.day, last))


def _due_at(runtime: Runtime, kind: str, start: datetime | date, months: int | None) -> tuple[int, datetime]:
    """(werkdagen, due_at): a werkdagen kind, or the end of the Dutch day ``months`` months on."""
    if kind in WERKDAGEN:
        werkdagen = WERKDAGEN[kind]
        if isinstance(start, datetime):
            if start.tzinfo is None:
                raise ValueError("deadline_at needs an aware datetime")
            start = start.astimezone(NL).date()  # what the calendar counts from
        return werkdagen, _werkdagen_due(calendar_for(runtime.settings), start, werkdagen)
    local = start.astimezone(NL).date() if isinstance(start, datetime) else start
    due = add_calendar_months(local, months if months is not None else KALENDERMAANDEN[kind])
    return 0, datetime.combine(due, time(23, 59, 59, 999999), tzinfo=NL).astimezone(UTC)


@lru_cache(maxsize=256)
def _werkdagen_due(calendar: WerkdagKalender, local_date: date, werkdagen: int) -> datetime:
    """The calendar's due moment for a Dutch start date, computed once per date.

    Why: every delivery restarts its retour period; counting werkdagen over holidays
    per message was a tenth of the worker's CPU, and all of a day's messages share it.
    """
    return calendar.deadline_at(local_date, werkdagen)


def _check_kind(kind: str) -> None:
    if kind not in WERKDAGEN and kind not in KALENDERMAANDEN:
        raise ValueError(f"unknown deadline kind {kind!r}")


def _subject(kind: str, message_id: int | None, inbound_id: int | None) -> ColumnElement[bool]:
    _check_kind(kind)
    if (message_id is None) == (inbound_id is None):
        raise ValueError("a deadline needs exactly one subject: message_id or inbound_id")
    if message_id is not None:
        return (Deadline.kind == kind) & (Deadline.message_id == message_id)
    return (Deadline.kind == kind) & (Deadline.inbound_id == inbound_id)


def _as_moment(start: datetime | date) -> datetime:
    if isinstance(start, datetime):
        if start.tzinfo is None:
            raise ValueError("a deadline's start must be an aware datetime or a date")
        return start.astimezone(UTC)
    return datetime.combine(start, time(0), tzinfo=NL).astimezone(UTC)


def open_deadline(
    session: Session,
    runtime: Runtime,
    kind: str,
    *,
    message_id: int | None = None,
    inbound_id: int | None = None,
    start: datetime | date,
    months: int | None = None,
) -> Deadline:
    """Start waiting: due at the end of the ``WERKDAGEN[kind]``-th werkdag after ``start``
    (for a :data:`KALENDERMAANDEN` kind: ``months`` - default its table value - calendar
    months after ``start``).

    ``start`` is a moment (aware; its Dutch calendar date is day 0) or a Dutch calendar
    date. Idempotent: a second call for the same kind and subject returns the first row.
    Does not commit - it belongs to the caller's transaction.
    """
    condition = _subject(kind, message_id, inbound_id)
    existing = session.scalars(select(Deadline).where(condition)).first()
    if existing is not None:
        return existing
    werkdagen, due_at = _due_at(runtime, kind, start, months)
    deadline = Deadline(
        kind=kind,
        message_id=message_id,
        inbound_id=inbound_id,
        werkdagen=werkdagen,
        started_at=_as_moment(start),
        due_at=due_at,
        created_at=runtime.clock.now(),
    )
    session.add(deadline)
    session.flush()
    return deadline


def open_deadlines(
    session: Session,
    runtime: Runtime,
    kind: str,
    *,
    message_ids: Sequence[int],
    start: datetime | date,
    new_messages: bool = False,
) -> list[Deadline]:
    """:func:`open_deadline` for many messages with one start: one lookup, no flush.

    Why: bulk intake opens a retour deadline per 301; one query for all of them instead
    of a query and an INSERT round trip each. Idempotent like :func:`open_deadline`
    (an existing deadline of a message is kept); the rows are inserted at the next flush.
    ``new_messages``: the messages were inserted in this transaction, so none has a
    deadline yet (the foreign key sees to that) and the lookup is skipped.
    """
    if not message_ids:
        return []
    _check_kind(kind)
    found: dict[int, Deadline] = {}
    for chunk in [] if new_messages else _chunks(list(message_ids)):
        for deadline in session.scalars(
            select(Deadline).where(Deadline.kind == kind, Deadline.message_id.in_(chunk))
        ):
            if deadline.message_id is not None:
                found.setdefault(deadline.message_id, deadline)
    werkdagen, due_at = _due_at(runtime, kind, start, None)
    started_at = _as_moment(start)
    created_at = runtime.clock.now()
    out: list[Deadline] = []
    new: list[Deadline] = []
    for message_id in message_ids:
        known = found.get(message_id)
        if known is None:
            deadline = Deadline(
                kind=kind,
                message_id=message_id,
                inbound_id=None,
                werkdagen=werkdagen,
                started_at=started_at,
                due_at=due_at,
                created_at=created_at,
            )
            new.append(deadline)
            found[message_id] = known = deadline
        out.append(known)
    assign_ids(session, new)
    session.add_all(new)
    return out


def insert_deadlines(
    session: Session, runtime: Runtime, kind: str, *, message_ids: Sequence[int], start: datetime | date
) -> None:
    """:func:`open_deadlines` for messages just inserted in this transaction, as one Core
    ``executemany``: the same rows, without an ORM object or a flush each.

    Why: bulk intake opens a retour deadline per 301 and reads none of them back. The
    messages are new, so none has a deadline yet (the foreign key sees to that): no lookup.
    """
    if not message_ids:
        return
    _check_kind(kind)
    werkdagen, due_at = _due_at(runtime, kind, start, None)
    started_at = _as_moment(start)
    created_at = runtime.clock.now()
    session.connection().execute(
        _INSERT_DEADLINE,
        [
            {
                "kind": kind,
                "message_id": message_id,
                "inbound_id": None,
                "werkdagen": werkdagen,
                "started_at": started_at,
                "due_at": due_at,
                "created_at": created_at,
            }
            for message_id in message_ids
        ],
    )


def _chunks(values: list[int], size: int = 500) -> Iterator[list[int]]:
    """Bound the IN lists (SQLite allows a limited number of parameters per statement)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def meet_deadline(
    session: Session,
    runtime: Runtime,
    kind: str,
    *,
    message_id: int | None = None,
    inbound_id: int | None = None,
) -> Deadline | None:
    """The awaited thing happened now. Returns the deadline, or None when none was open.

    Met after ``due_at`` and not yet reported: it is marked overdue and gets its one
    ``deadline.verlopen`` event here (``late=True``), so a late answer is never silent.

    Why one statement: the marking UPDATE returns the row itself (as the ORM object), which
    says whether it is past due and not yet reported overdue; the usual answer in time
    then needs nothing more. The UPDATE holds the row lock from then on, so a concurrent
    scanner either marked it before (``overdue_at`` is returned set: no second event) or
    skips it (its ``met_at IS NULL`` guard). Only a late answer runs the second, guarded
    UPDATE - guarded as before, so the event stays once-only.
    """
    condition = _subject(kind, message_id, inbound_id)
    now = runtime.clock.now()
    deadline = session.execute(
        update(Deadline)
        .where(condition, Deadline.met_at.is_(None))
        .values(met_at=now)
        .returning(Deadline)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).scalar()
    if deadline is None:
        return None
    if deadline.overdue_at is not None or not deadline.due_at < now:
        return deadline
    _mark_met_late(session, runtime, deadline.id, now)  # updates ``deadline`` (one identity map)
    return deadline


def meet_retour_deadline(session: Session, runtime: Runtime, message_id: int) -> bool:
    """:func:`meet_deadline` for a message's retour, without loading the deadline.

    Why: it runs for every retour, and nothing there reads the deadline back. One Core
    ``UPDATE ... RETURNING`` on the session's connection (no ORM statement compilation,
    no identity map), with the same guards and the same once-only late event as
    :func:`meet_deadline`. Returns whether an open retour deadline was met.
    """
    now = runtime.clock.now()
    row = (
        session.connection()
        .execute(_MEET, {"met_kind": DeadlineKind.RETOUR.value, "met_message_id": message_id, "met_now": now})
        .first()
    )
    if row is None:
        return False
    if row.overdue_at is None and row.due_at < now:
        _mark_met_late(session, runtime, row.id, now)
    return True


_DEADLINES: Table = Deadline.__table__  # type: ignore[assignment]  # a Table, typed FromClause
_INSERT_DEADLINE = insert(_DEADLINES)
_MEET = (
    update(_DEADLINES)
    .where(
        _DEADLINES.c.kind == bindparam("met_kind"),
        _DEADLINES.c.message_id == bindparam("met_message_id"),
        _DEADLINES.c.met_at.is_(None),
    )
    .values(met_at=bindparam("met_now", type_=_DEADLINES.c.met_at.type))
    .returning(_DEADLINES.c.id, _DEADLINES.c.overdue_at, _DEADLINES.c.due_at)
)


def _mark_met_late(session: Session, runtime: Runtime, deadline_id: int, now: datetime) -> Deadline | None:
    """A just-met deadline was past due: mark it overdue and record its one event.

    Guarded like :func:`scan_overdue` (``overdue_at IS NULL``): only the statement that
    sets the mark records the event. Returns the deadline when this call marked it.
    """
    late = session.execute(
        update(Deadline)
        .where(Deadline.id == deadline_id, Deadline.overdue_at.is_(None), Deadline.due_at < now)
        .values(overdue_at=now)
        .returning(Deadline)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).scalar()
    if late is not None:
        # The row holds ``now``; the object may be one an earlier UPDATE loaded, not refreshed.
        set_committed_value(late, "overdue_at", now)
        _record_overdue(session, runtime, late, late=True)
        log.info("deadline_met_late", deadline_id=late.id, kind=late.kind)
    return late


def report_received(
    session: Session, runtime: Runtime, kind: str, *, inbound_id: int, event_date: date
) -> Deadline:
    """A report about ``event_date`` (a 305's start, a 307's stop) arrived now.

    Opens and meets its deadline at once; ``overdue_at`` is set (with one event) when the
    report came after the ``WERKDAGEN[kind]`` werkdagen the standard allows.
    """
    open_deadline(session, runtime, kind, inbound_id=inbound_id, start=event_date)
    deadline = meet_deadline(session, runtime, kind, inbound_id=inbound_id)
    if deadline is None:  # already met by an earlier call for this inbound message
        existing = session.scalars(select(Deadline).where(_subject(kind, None, inbound_id))).one()
        return existing
    return deadline


def mark_handled(session: Session, runtime: Runtime, deadline_id: int, *, handled_by: str) -> Deadline:
    """An operator dealt with a (usually overdue) deadline; the first marking is kept."""
    deadline = session.get(Deadline, deadline_id, with_for_update=True)
    if deadline is None:
        raise LookupError(f"no deadline {deadline_id}")
    if deadline.handled_at is None:
        deadline.handled_at = runtime.clock.now()
        deadline.handled_by = handled_by[:100]
    return deadline


def overdue_unhandled(session: Session, *, limit: int = 100) -> Sequence[Deadline]:
    """Missed deadlines nobody has marked handled yet, oldest due first (operator view)."""
    return session.scalars(
        select(Deadline)
        .where(Deadline.overdue_at.is_not(None), Deadline.handled_at.is_(None))
        .order_by(Deadline.due_at, Deadline.id)
        .limit(limit)
    ).all()


def retour_due_at(runtime: Runtime, delivered_at: datetime) -> tuple[int, datetime]:
    """The retour period's werkdagen and due moment for a message delivered at ``delivered_at``.

    Public so that the worker's single-statement result write (PostgreSQL) restarts the
    deadline by the same rule as :func:`restart_retour_deadline`.
    """
    return _due_at(runtime, DeadlineKind.RETOUR, delivered_at, None)


def restart_retour_deadline(
    session: Session, runtime: Runtime, message_id: int, delivered_at: datetime
) -> None:
    """The message was delivered: its retour period starts now (if no retour came first)."""
    werkdagen, due_at = retour_due_at(runtime, delivered_at)
    # A prepared Core statement on the session's connection: the ORM's UPDATE path cost a
    # quarter of the worker's CPU per delivery. Same SQL guards, same transaction.
    session.connection().execute(
        _RESTART,
        {
            "restart_kind": DeadlineKind.RETOUR.value,
            "restart_message_id": message_id,
            "started_at": delivered_at,
            "due_at": due_at,
            "werkdagen": werkdagen,
        },
    )


def retour_restart(messages: ColumnElement[bool], kind: BindParameter[str]) -> Update:
    """The UPDATE that restarts the retour deadline of ``messages`` (not met, not overdue).

    One definition for :func:`restart_retour_deadline` and the worker's single-statement
    result write (PostgreSQL), which matches the message its guard let through.
    """
    return update(_DEADLINES).where(
        _DEADLINES.c.kind == kind,
        messages,
        _DEADLINES.c.met_at.is_(None),
        _DEADLINES.c.overdue_at.is_(None),
    )


_RESTART = retour_restart(
    _DEADLINES.c.message_id == bindparam("restart_message_id"), bindparam("restart_kind")
)


#: Open (neither met nor reported overdue) in ix_deadlines_open's own terms: the same rows as
#: ``met_at IS NULL AND overdue_at IS NULL``.
_OPEN = func.coalesce(Deadline.met_at, Deadline.overdue_at).is_(None)


def scan_overdue(runtime: Runtime, *, batch_size: int | None = None) -> int:
    """Mark every open deadline past ``due_at`` overdue, with one event each. Returns how many.

    Each batch is one transaction: the marks and their events commit together or not
    at all. The batch is claimed by a single guarded ``UPDATE ... WHERE id IN (SELECT ...
    FOR UPDATE SKIP LOCKED) ... RETURNING``: scanners on several machines share the work
    on PostgreSQL without waiting for each other, SQLite takes its write lock before
    reading, and only the rows the UPDATE returns get an event - so a deadline is
    reported once, however often and however concurrently it is scanned.
    """
    size = batch_size or runtime.settings.deadline_scan_batch_size
    total = 0
    while True:
        with transaction(runtime.sessions) as session:
            now = runtime.clock.now()
            due = (Deadline.due_at < now, or_(Deadline.kind != DeadlineKind.RETOUR, _message_delivered()))
            open_and_due = (Deadline.met_at.is_(None), Deadline.overdue_at.is_(None), *due)
            batch = (
                select(Deadline.id)
                # "Open" as ix_deadlines_open states it, so this scan reads that index in
                # due order (the lookups by message, which cannot prove it, never do).
                .where(_OPEN, *due)
                .order_by(Deadline.due_at, Deadline.id)
                .limit(size)
                .with_for_update(skip_locked=True)
            )
            marked = session.scalars(
                update(Deadline)
                .where(Deadline.id.in_(batch.scalar_subquery()), *open_and_due)
                .values(overdue_at=now)
                .returning(Deadline.id)
                .execution_options(synchronize_session=False)
            ).all()
            if marked:
                for deadline in session.scalars(
                    select(Deadline).where(Deadline.id.in_(marked)).order_by(Deadline.id)
                ):
                    _record_overdue(session, runtime, deadline, late=False)
        total += len(marked)
        if len(marked) < size:
            break
    if total:
        log.info("deadlines_overdue", count=total)
    return total


def _message_delivered() -> ColumnElement[bool]:
    """The deadline's message has been delivered (a retour period only runs from then)."""
    return (
        select(Message.id)
        .where(Message.id == Deadline.message_id, Message.delivered_at.is_not(None))
        .exists()
    )


def _record_overdue(session: Session, runtime: Runtime, deadline: Deadline, *, late: bool) -> None:
    record_event(
        session,
        runtime,
        DEADLINE_OVERDUE,
        message_id=deadline.message_id,
        deadline_id=deadline.id,
        kind=deadline.kind,
        inbound_id=deadline.inbound_id,
        werkdagen=deadline.werkdagen,
        due_at=deadline.due_at.isoformat(),
        late=late,
    )


class OverdueScanner:
    """The background loop: :func:`scan_overdue` every ``deadline_scan_interval_s``."""

    def __init__(
        self,
        runtime: Runtime,
        interval_s: float | None = None,
        jobs: Sequence[Callable[[Runtime], object]] = (),
    ) -> None:
        self.runtime = runtime
        self.interval_s = interval_s or runtime.settings.deadline_scan_interval_s
        #: Other time-driven work that runs on the same beat (e.g. the CAK's natural ends).
        self.jobs = tuple(jobs)

    def run(self, stop: threading.Event) -> None:
        log.info("overdue_scanner_started", interval_s=self.interval_s)
        while not stop.is_set():
            try:
                scan_overdue(self.runtime)
                for job in self.jobs:
                    job(self.runtime)
            except Exception:  # the loop must survive a database restart
                log.exception("overdue_scan_error")
            stop.wait(self.interval_s)
        log.info("overdue_scanner_stopped")
