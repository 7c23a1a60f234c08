"""The delivery worker: rescue expired leases, claim due messages, send, record.

Guarantees (see docs/delivery-guarantees.md once written):
- A message is claimed with a lease (``sending`` + owner + expiry). A worker that
  dies mid-send leaves a lease that expires; the rescuer puts the message back in
  the queue *before* new claims, marked ``unknown`` so the re-send is treated as a
  possible duplicate (same ids; the partner deduplicates).
- Every result is written with a guard on (state = sending, owner = me): a worker
  that was presumed dead and comes back cannot overwrite what happened since.
- Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers share a
  queue without blocking each other; on SQLite the guarded UPDATE is the claim.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import (
    Connection,
    Insert,
    Integer,
    Row,
    Select,
    Table,
    Update,
    bindparam,
    case,
    false,
    func,
    insert,
    literal,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from gateway import tracing
from gateway.clock import NL
from gateway.deadlines import (
    DeadlineKind,
    calendar_for,
    restart_retour_deadline,
    retour_due_at,
    retour_restart,
)
from gateway.delivery.circuit import CircuitBreakers, CircuitState
from gateway.delivery.ggk_transport import Transport
from gateway.delivery.outcome import Outcome, OutcomeKind
from gateway.delivery.retry_policy import RetryPolicy
from gateway.events import (
    MESSAGE_DELIVERED,
    MESSAGE_EXPIRED,
    MESSAGE_PARKED,
    record_event,
    wanted_by_webhooks,
)
from gateway.outbox import PARTY_GGK
from gateway.runtime import Runtime
from gateway.store.database import is_sqlite, transaction
from gateway.store.ops_tables import RouteControl
from gateway.store.tables import DeliveryAttempt, Event, Message, MessageState
from gateway.store.tracking_tables import Deadline

log = structlog.get_logger("gateway.delivery")


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    attempt: int
    party: str
    route: str
    operation: str
    wire_body: bytes
    after_unknown: bool
    first_attempt_at: datetime


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class DeliveryWorker:
    def __init__(
        self,
        runtime: Runtime,
        transports: Mapping[str, Transport],
        policy: RetryPolicy | None = None,
        worker_id: str | None = None,
        on_close: Callable[[], None] | None = None,
        policies: Mapping[str, RetryPolicy] | None = None,
    ) -> None:
        self.runtime = runtime
        self.transports = transports
        self.policy = policy or RetryPolicy.from_settings(runtime.settings.retry)
        #: Per route (``corv:<oin>``) or party (``corv``): a partner's agreed policy.
        self.policies: Mapping[str, RetryPolicy] = policies or {}
        self.worker_id = worker_id or default_worker_id()
        self.settings = runtime.settings.delivery
        self._wake = threading.Event()
        self._executor = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="delivery")
        self._on_close = on_close
        self.circuits = CircuitBreakers(
            self.settings.circuit_failure_threshold,
            self.settings.circuit_cool_down_s,
            runtime.clock.now,
            owner=self.worker_id,
        )

    # -- the loop ---------------------------------------------------------------

    def wake(self) -> None:
        """Ask the loop to look for work now instead of after the poll interval."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        log.info("delivery_worker_started", worker=self.worker_id, concurrency=self.settings.concurrency)
        # The first delivery restarts a retour deadline, and counting werkdagen loads the
        # holiday calendar (an import of the holidays package, most of a second of CPU):
        # pay that before work arrives, not in the first delivery's latency.
        calendar_for(self.runtime.settings).free_days(self.runtime.clock.now().astimezone(NL).year)
        while not stop.is_set():
            try:
                handled = self.run_once()
            except Exception:  # the loop must survive a database restart
                log.exception("delivery_loop_error", worker=self.worker_id)
                handled = 0
                stop.wait(min(5.0, self.settings.poll_interval_s * 4))
            if handled == 0:
                self._wake.wait(self.settings.poll_interval_s)
                self._wake.clear()
        self.close()
        log.info("delivery_worker_stopped", worker=self.worker_id)

    def close(self) -> None:
        """Finish in-flight sends and release connections."""
        self._executor.shutdown(wait=True)
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def run_once(self) -> int:
        """Rescue, claim one batch, deliver it concurrently. Returns the batch size.

        The rescue runs in the claim's transaction, and only when the claim's count of
        in-flight messages saw an expired lease: one transaction and one query less per
        loop than a rescue of its own (which found nothing nearly every time). Still
        before the claim, so a rescued message is claimable at once.
        """
        batch = self._claim(self.settings.batch_size, rescue=True)
        if batch:
            list(self._executor.map(self.deliver, batch))
        return len(batch)

    def drain(self, timeout_s: float = 30.0) -> None:
        """Deliver until nothing is due (tests, the bulk CLI)."""
        deadline = time.monotonic() + timeout_s
        while self.run_once() and time.monotonic() < deadline:
            pass

    # -- leases -----------------------------------------------------------------

    def rescue_expired_leases(self) -> int:
        """Re-queue messages whose worker vanished mid-send; record the lost attempt.

        The lost attempt may have reached the partner, so the message is marked
        ``possibly_delivered``: the re-send is then a possible duplicate, and the GGk's
        "not unique" answer counts as delivered.
        """
        with transaction(self.runtime.sessions) as session:
            expired = self._rescue(session, self.runtime.clock.now())
        self._log_rescued(expired)
        return len(expired)

    def _rescue(self, session: Session, now: datetime) -> list[Row[Any, Any, Any, Any]]:
        """:meth:`rescue_expired_leases` in the caller's transaction; the rows it re-queued."""
        lease = timedelta(seconds=self.settings.lease_s)
        expired = session.execute(
            select(Message.id, Message.attempts, Message.lease_owner, Message.lease_expires_at)
            .where(Message.state == MessageState.SENDING, Message.lease_expires_at < now)
            .with_for_update(skip_locked=True)
        ).all()
        if not expired:
            return []
        session.execute(
            update(Message)
            .where(
                Message.id.in_([row.id for row in expired]),
                Message.state == MessageState.SENDING,
                Message.lease_expires_at < now,
            )
            .values(
                state=MessageState.QUEUED,
                lease_owner=None,
                lease_expires_at=None,
                next_attempt_at=now,
                last_outcome=OutcomeKind.UNKNOWN.value,
                possibly_delivered=True,
                updated_at=now,
                last_error="lease expired while sending (worker crashed or stalled); re-queued",
            )
        )
        for row in expired:
            started = (row.lease_expires_at or now) - lease
            session.add(
                DeliveryAttempt(
                    message_id=row.id,
                    attempt_no=row.attempts,
                    worker=row.lease_owner or "unknown",
                    started_at=started,
                    finished_at=now,
                    duration_ms=int((now - started).total_seconds() * 1000),
                    outcome=OutcomeKind.UNKNOWN.value,
                    detail=_LEASE_LOST,
                    applied=True,
                )
            )
        session.flush()
        return list(expired)

    def _log_rescued(self, expired: list[Row[Any, Any, Any, Any]]) -> None:
        for row in expired:
            log.warning(
                "lease_rescued", message_id=row.id, lost_worker=row.lease_owner, worker=self.worker_id
            )

    def claim(self, limit: int) -> list[Claimed]:
        """Claim up to ``limit`` due messages (no rescue: see :meth:`run_once`)."""
        return self._claim(limit, rescue=False)

    def _claim(self, limit: int, *, rescue: bool) -> list[Claimed]:
        now = self.runtime.clock.now()
        lease_until = now + timedelta(seconds=self.settings.lease_s)
        with _CLAIMS_IN_PROCESS, transaction(self.runtime.sessions) as session:
            due, rescued = self._pick_due(session, now, limit, rescue=rescue)
            rows = (
                session.connection()
                .execute(
                    _CLAIM if is_sqlite(self.runtime.engine) else _CLAIM_LOCKED,
                    {
                        "due": due,
                        "c_owner": self.worker_id,
                        "c_until": lease_until,
                        "c_now": now,
                        "c_first": now,
                    },
                )
                .all()
                if due
                else []
            )
        self._log_rescued(rescued)
        for r in rows:
            self.circuits.claimed(r.route)
        return [
            Claimed(
                id=r.id,
                attempt=r.attempts,
                party=r.party,
                route=r.route,
                operation=r.operation,
                wire_body=r.wire_body,
                after_unknown=r.possibly_delivered,
                first_attempt_at=r.first_attempt_at or now,
            )
            for r in rows
        ]

    def _pick_due(
        self, session: Session, now: datetime, limit: int, *, rescue: bool = False
    ) -> tuple[list[int], list[Row[Any, Any, Any, Any]]]:
        """Due queued messages, oldest first, within each route's cap and circuit; locked.

        Routes whose circuit is open or whose in-flight count reached
        ``route_concurrency`` are left out of the query itself, so one route's backlog
        never hides the others; a few passes fill the batch when a route's share runs out.
        On PostgreSQL an advisory lock makes concurrent claimers count in turn, so the
        cap holds across workers; rows stay ``SKIP LOCKED`` against everyone else.

        One query counts the in-flight messages per route, lists the paused routes and
        says whether a lease expired; only then (``rescue``) are expired leases rescued
        and the count taken again. Returns the picked ids and the rescued rows.
        """
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(_ADVISORY_LOCK, {"key": _CLAIM_LOCK_KEY})
        rescued: list[Row[Any, Any, Any, Any]] = []
        routes = connection.execute(_ROUTES, {"r_now": now}).all()
        if rescue and any(row.expired for row in routes):
            rescued = self._rescue(session, now)
            routes = connection.execute(_ROUTES, {"r_now": now}).all()
        cap = self.settings.route_concurrency
        in_flight: dict[str, int] = {row.route: row.in_flight for row in routes if not row.paused}
        blocked = set(self.circuits.blocked_routes())
        # Routes an operator paused (gateway.ops.actions) are not claimed at all.
        blocked |= {row.route for row in routes if row.paused}
        blocked |= {route for route, count in in_flight.items() if count >= cap}
        room: dict[str, int] = {}
        picked: list[int] = []
        for _pass in range(4):
            window = limit - len(picked)
            if window <= 0:
                break
            candidates = connection.execute(
                _candidates(bool(blocked), bool(picked)),
                {"q_now": now, "blocked": sorted(blocked), "picked": picked, "window": window * 2},
            ).all()
            for message_id, route in candidates:
                if route not in room:
                    allowance = self.circuits.allowance(route)
                    room[route] = cap - in_flight.get(route, 0)
                    if allowance is not None:
                        room[route] = min(room[route], allowance)
                if room[route] > 0 and len(picked) < limit:
                    picked.append(message_id)
                    room[route] -= 1
                if room[route] <= 0:
                    blocked.add(route)
            if len(candidates) < window * 2:
                break  # nothing more is due
        return picked, rescued

    # -- one message --------------------------------------------------------------

    def deliver(self, claimed: Claimed) -> Outcome:
        """One attempt; in a span of its own when tracing is on (gateway.tracing)."""
        attributes: dict[str, tracing.AttributeValue] = {
            "gateway.message_id": claimed.id,
            "gateway.party": claimed.party,
            "gateway.route": claimed.route,
            "gateway.operation": claimed.operation,
            "gateway.attempt": claimed.attempt,
        }
        with tracing.span("delivery.attempt", attributes, kind="client") as span:
            outcome = self._deliver(claimed)
            span.set_attribute("gateway.outcome", outcome.kind.value)
            if outcome.http_status is not None:
                span.set_attribute("http.response.status_code", outcome.http_status)
            if outcome.code:
                span.set_attribute("gateway.code", outcome.code)
            return outcome

    def _deliver(self, claimed: Claimed) -> Outcome:
        structlog.contextvars.bind_contextvars(
            message_id=claimed.id, route=claimed.route, attempt=claimed.attempt
        )
        try:
            started = self.runtime.clock.now()
            t0 = time.monotonic()
            transport = self.transports.get(claimed.party)
            if transport is None:
                outcome = Outcome(
                    OutcomeKind.PERMANENT, detail=f"no transport configured for party {claimed.party}"
                )
            else:
                outcome = transport.send(
                    claimed.wire_body, after_unknown=claimed.after_unknown, operation=claimed.operation
                )
            duration_ms = int((time.monotonic() - t0) * 1000)
            self._record(claimed, outcome, started, duration_ms)
            self._feed_circuit(claimed.route, outcome)
            return outcome
        except Exception:
            # Leave the lease to expire: the rescuer re-queues the message.
            log.exception("delivery_record_failed")
            return Outcome(OutcomeKind.UNKNOWN, detail="recording failed")
        finally:
            structlog.contextvars.unbind_contextvars("message_id", "route", "attempt")

    def _feed_circuit(self, route: str, outcome: Outcome) -> None:
        before = self.circuits.state(route)
        after = self.circuits.record(route, outcome.kind, _error_text(outcome))
        if after is CircuitState.OPEN and before is not CircuitState.OPEN:
            log.warning("circuit_opened", cool_down_s=self.settings.circuit_cool_down_s)
        elif after is CircuitState.CLOSED and before is not CircuitState.CLOSED:
            log.info("circuit_closed")

    def _record(self, claimed: Claimed, outcome: Outcome, started: datetime, duration_ms: int) -> None:
        now = self.runtime.clock.now()
        values: dict[str, object] = {
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
            "last_outcome": outcome.kind.value,
            "possibly_delivered": claimed.after_unknown or outcome.kind is OutcomeKind.UNKNOWN,
            "last_error": None if outcome.kind is OutcomeKind.DELIVERED else _error_text(outcome),
        }
        event: str | None = None
        if outcome.kind is OutcomeKind.DELIVERED:
            values.update(state=MessageState.DELIVERED, delivered_at=now)
            # A delivered webhook is not news for the back-office (it just received it).
            event = MESSAGE_DELIVERED if claimed.party != "webhook" else None
        elif outcome.kind is OutcomeKind.PERMANENT:
            values.update(state=MessageState.PARKED)
            event = MESSAGE_PARKED
        else:
            policy = self.policies.get(claimed.route) or self.policies.get(claimed.party) or self.policy
            next_at = policy.next_attempt(claimed.attempt, claimed.first_attempt_at, now)
            if next_at is None:
                values.update(state=MessageState.EXPIRED)
                event = MESSAGE_EXPIRED
            else:
                values.update(state=MessageState.QUEUED, next_attempt_at=next_at)
        attempt: dict[str, object] = {
            "message_id": claimed.id,
            "attempt_no": claimed.attempt,
            "worker": self.worker_id,
            "started_at": started,
            "finished_at": now,
            "duration_ms": duration_ms,
            "outcome": outcome.kind.value,
            "http_status": outcome.http_status,
            "code": outcome.code,
            "detail": outcome.detail,
        }
        # The guard includes the attempt number, so "applied" proves no rescuer re-queued
        # this attempt (a re-claim, even by this worker, counts ``attempts`` up).
        params = {f"v_{name}": value for name, value in values.items()}
        params.update(g_id=claimed.id, g_owner=self.worker_id, g_attempt=claimed.attempt)
        restart = outcome.kind is OutcomeKind.DELIVERED and claimed.party == PARTY_GGK
        # Only a rescuer writes an attempt row before its worker does, and only while it
        # re-queues the message - which the guard would have seen: when the result applies
        # there is no row to look for, and the attempt row is a plain INSERT. On PostgreSQL
        # the guarded UPDATE, that INSERT, the retour deadline's restart and the event are
        # one statement (the UPDATE in a CTE, the others selecting from what it updated):
        # three round trips less per delivery; when the guard fails none of them writes
        # anything and the statements after it run.
        folded_event = event is not None and not wanted_by_webhooks(self.runtime, event)
        applied: bool | None = None  # None: the guarded UPDATE has not run yet
        autocommit = self.runtime.autocommit_engine
        if autocommit is not None and (event is None or folded_event):
            # That one statement is atomic on its own, so when it is all there is to write it
            # runs in autocommit: one round trip instead of BEGIN, statement, COMMIT. Only a
            # failed guard (rare) needs the transaction below, for the statements after it.
            with autocommit.connect() as connection:
                if _one_statement(connection):
                    statement, folded_params = self._folded(values, params, attempt, restart, event, now)
                    if connection.execute(statement, folded_params).first() is not None:
                        self._log_attempt(outcome, duration_ms, values, applied=True)
                        return
                    applied = False  # the guard failed; nothing was written
        with transaction(self.runtime.sessions) as session:
            connection = session.connection()
            folded = _one_statement(connection)
            folded_event = folded and folded_event
            if applied is None:
                if folded:
                    statement, folded_params = self._folded(
                        values, params, attempt, restart, event if folded_event else None, now
                    )
                    applied = connection.execute(statement, folded_params).first() is not None
                else:
                    applied = connection.execute(_guarded_result_update(tuple(values)), params).rowcount == 1
            if not applied and outcome.kind is OutcomeKind.DELIVERED:
                # The answer overtook us (a fast retour) or a rescuer re-queued the message:
                # it still arrived, so remember when.
                connection.execute(_MARK_DELIVERED, {"md_id": claimed.id, "md_now": now})
            late = (
                None
                if applied
                else connection.execute(
                    _LATE_ATTEMPT, {"la_message_id": claimed.id, "la_attempt_no": claimed.attempt}
                ).scalar()
            )
            if late is not None:
                # The rescuer already recorded this attempt as lost; add what really happened.
                connection.execute(
                    _UPDATE_LATE_ATTEMPT,
                    {
                        "late_id": late,
                        "outcome": outcome.kind.value,
                        "http_status": outcome.http_status,
                        "code": outcome.code,
                        "detail": f"{_LEASE_LOST}; the late result: {outcome.detail or outcome.kind.value}",
                        "finished_at": now,
                        "duration_ms": duration_ms,
                        "applied": False,
                    },
                )
            elif not (applied and folded):
                # A plain INSERT: nothing reads the row back, so no ORM object to flush.
                connection.execute(_INSERT_ATTEMPT, {**attempt, "applied": applied})
            if applied and restart and not folded:
                restart_retour_deadline(session, self.runtime, claimed.id, now)
            if applied and event is not None and not folded_event:
                record_event(
                    session,
                    self.runtime,
                    event,
                    message_id=claimed.id,
                    code=outcome.code,
                    detail=outcome.detail,
                )
        self._log_attempt(outcome, duration_ms, values, applied=applied)

    def _folded(
        self,
        values: dict[str, object],
        params: dict[str, object],
        attempt: dict[str, object],
        restart: bool,
        event: str | None,
        now: datetime,
    ) -> tuple[Insert, dict[str, object]]:
        """:func:`_result_statement` and its parameters; ``event``: the event it inserts too, or None."""
        folded_params = dict(params)
        folded_params.update({f"a_{name}": value for name, value in attempt.items()})
        if restart:
            folded_params.update(_restart_values(self.runtime, now))
        if event is not None:
            # As record_event would store it: the data as its keyword arguments, the moment
            # from the clock after the result's own.
            folded_params.update(
                e_type=event,
                e_beschikking_id=None,
                e_data={"code": attempt["code"], "detail": attempt["detail"]},
                e_created_at=self.runtime.clock.now(),
            )
        return _result_statement(tuple(values), restart, event is not None), folded_params

    @staticmethod
    def _log_attempt(outcome: Outcome, duration_ms: int, values: dict[str, object], *, applied: bool) -> None:
        log.info(
            "delivery_attempt",
            outcome=outcome.kind.value,
            http_status=outcome.http_status,
            code=outcome.code,
            duration_ms=duration_ms,
            applied=applied,
            state=values.get("state") if applied else None,
        )


#: Recording a result is a Core statement built once per set of columns, run on the
#: session's connection: building an ``update()`` per delivery and running it through the
#: ORM's bulk-update machinery (which evaluates the criteria against the identity map) cost
#: about a third of the worker's CPU per message. Same SQL, same transaction.
_MESSAGES: Table = Message.__table__  # type: ignore[assignment]  # a Table, typed FromClause
_ATTEMPTS: Table = DeliveryAttempt.__table__  # type: ignore[assignment]
_INSERT_ATTEMPT = insert(_ATTEMPTS)


@functools.cache
def _guarded_result_update(columns: tuple[str, ...]) -> Update:
    """``UPDATE messages SET <columns> WHERE`` the result is still ours (see ``_record``)."""
    return (
        update(_MESSAGES)
        .where(
            _MESSAGES.c.id == bindparam("g_id"),
            _MESSAGES.c.state == MessageState.SENDING,
            _MESSAGES.c.lease_owner == bindparam("g_owner"),
            _MESSAGES.c.attempts == bindparam("g_attempt"),
        )
        .values({name: bindparam(f"v_{name}", type_=_MESSAGES.c[name].type) for name in columns})
    )


#: The claim's statements, built once (Core, on the session's connection): building the
#: same ``select()``/``update()`` per loop and running it through the ORM cost more CPU
#: than the database took to answer. Same SQL, same locks, same transaction.
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_CONTROLS: Table = RouteControl.__table__  # type: ignore[assignment]
_SENDING = _MESSAGES.c.state == MessageState.SENDING
#: Per route: messages in flight, whether a lease among them expired; and the paused routes.
_ROUTES = union_all(
    select(
        _MESSAGES.c.route.label("route"),
        func.count().label("in_flight"),
        func.max(case((_MESSAGES.c.lease_expires_at < bindparam("r_now"), 1), else_=0)).label("expired"),
        false().label("paused"),
    )
    .where(_SENDING)
    .group_by(_MESSAGES.c.route),
    select(_CONTROLS.c.route, literal(0), literal(0), true()).where(_CONTROLS.c.paused.is_(True)),
)


def _claim_statement(guarded: bool) -> Update:
    """``UPDATE messages SET state = 'sending', <lease> WHERE id IN (:due) RETURNING`` what delivery needs.

    ``guarded``: only while still queued - SQLite's claim, which has no row locks: the
    guard is what keeps two claimers apart. On PostgreSQL the candidates query locked the
    rows (``FOR UPDATE``) in this transaction, so they are still queued and the guard is
    left out: with ``state = 'queued'`` in it the planner may pick the partial index of
    queued messages - and visit every queued message - whenever its statistics say few
    are queued (a fresh table, the start of a year-change peak), instead of the 20 ids
    through the primary key.
    """
    due = _MESSAGES.c.id.in_(bindparam("due", expanding=True))
    return (
        update(_MESSAGES)
        .where(*((due, _MESSAGES.c.state == MessageState.QUEUED) if guarded else (due,)))
        .values(
            state=MessageState.SENDING,
            lease_owner=bindparam("c_owner"),
            lease_expires_at=bindparam("c_until", type_=_MESSAGES.c.lease_expires_at.type),
            attempts=_MESSAGES.c.attempts + 1,
            updated_at=bindparam("c_now", type_=_MESSAGES.c.updated_at.type),
            first_attempt_at=func.coalesce(
                _MESSAGES.c.first_attempt_at, bindparam("c_first", type_=_MESSAGES.c.first_attempt_at.type)
            ),
        )
        .returning(
            _MESSAGES.c.id,
            _MESSAGES.c.attempts,
            _MESSAGES.c.party,
            _MESSAGES.c.route,
            _MESSAGES.c.operation,
            _MESSAGES.c.wire_body,
            _MESSAGES.c.possibly_delivered,
            _MESSAGES.c.first_attempt_at,
        )
    )


_CLAIM = _claim_statement(guarded=True)
_CLAIM_LOCKED = _claim_statement(guarded=False)


@functools.cache
def _candidates(blocked: bool, picked: bool) -> Select[Any, Any]:
    """Due queued messages, oldest first, locked (``SKIP LOCKED``), leaving routes/ids out."""
    query = select(_MESSAGES.c.id, _MESSAGES.c.route).where(
        _MESSAGES.c.state == MessageState.QUEUED,
        _MESSAGES.c.next_attempt_at <= bindparam("q_now", type_=_MESSAGES.c.next_attempt_at.type),
    )
    if blocked:
        query = query.where(_MESSAGES.c.route.not_in(bindparam("blocked", expanding=True)))
    if picked:
        query = query.where(_MESSAGES.c.id.not_in(bindparam("picked", expanding=True)))
    return (
        query.order_by(_MESSAGES.c.next_attempt_at, _MESSAGES.c.id)
        .limit(bindparam("window", type_=Integer))
        .with_for_update(skip_locked=True)
    )


_ATTEMPT_COLUMNS = (
    "message_id",
    "attempt_no",
    "worker",
    "started_at",
    "finished_at",
    "duration_ms",
    "outcome",
    "http_status",
    "code",
    "detail",
    "applied",
)


@functools.cache
def _result_statement(columns: tuple[str, ...], restart: bool, event: bool) -> Insert:
    """PostgreSQL: the guarded result UPDATE and, when it applied, what goes with it, in one statement.

    ``WITH applied AS (UPDATE messages ... RETURNING id) INSERT INTO delivery_attempts
    SELECT applied.id, ... FROM applied RETURNING id``: a row comes back exactly when the
    guard held; the attempt's values are the ``a_<column>`` parameters. ``restart``: also
    :func:`gateway.deadlines.restart_retour_deadline`'s UPDATE, for the message the guard let
    through (``d_<column>`` parameters); ``event``: also the event row ``record_event`` would
    insert for it (``e_<column>``). Both write nothing when the guard failed - as their
    separate statements were not run then.
    """
    applied = _guarded_result_update(columns).returning(_MESSAGES.c.id).cte("applied")
    values = [bindparam(f"a_{name}", type_=_ATTEMPTS.c[name].type) for name in _ATTEMPT_COLUMNS[1:-1]]
    statement = (
        insert(_ATTEMPTS)
        .from_select(list(_ATTEMPT_COLUMNS), select(applied.c.id, *values, true()))
        .returning(_ATTEMPTS.c.id)
    )
    if restart:
        restarted = (
            retour_restart(
                _DEADLINES.c.message_id == select(applied.c.id).scalar_subquery(), bindparam("d_kind")
            )
            .values(
                {name: bindparam(f"d_{name}", type_=_DEADLINES.c[name].type) for name in _RESTART_COLUMNS}
            )
            .cte("restarted")
        )
        statement = statement.add_cte(restarted)
    if event:
        event_values = [bindparam(f"e_{name}", type_=_EVENTS.c[name].type) for name in _EVENT_COLUMNS]
        evented = (
            insert(_EVENTS)
            .from_select(["message_id", *_EVENT_COLUMNS], select(applied.c.id, *event_values))
            .cte("evented")
        )
        statement = statement.add_cte(evented)
    return statement


_DEADLINES: Table = Deadline.__table__  # type: ignore[assignment]
_EVENTS: Table = Event.__table__  # type: ignore[assignment]
#: What restarting a retour deadline sets (as ``restart_retour_deadline`` does).
_RESTART_COLUMNS = ("started_at", "due_at", "werkdagen")
#: An event's columns besides its message (as ``record_event`` inserts them).
_EVENT_COLUMNS = ("type", "beschikking_id", "data", "created_at")


def _one_statement(connection: Connection) -> bool:
    """Whether a result is written as :func:`_result_statement` (PostgreSQL) or statement by statement.

    A function of its own so a test can run the statement-by-statement way on PostgreSQL
    too and compare what both leave in the database.
    """
    return connection.dialect.name == "postgresql"


def _restart_values(runtime: Runtime, delivered_at: datetime) -> dict[str, object]:
    """The ``d_`` parameters of :func:`_result_statement`: the retour period from ``delivered_at``.

    Computed by the deadlines module's own rule, so the folded restart sets what
    ``restart_retour_deadline`` would.
    """
    werkdagen, due_at = retour_due_at(runtime, delivered_at)
    return {
        "d_kind": DeadlineKind.RETOUR.value,
        "d_started_at": delivered_at,
        "d_due_at": due_at,
        "d_werkdagen": werkdagen,
    }


#: The result of an attempt that did not apply (see ``_record``): the delivery moment kept,
#: and a rescuer's row for the attempt completed.
_MARK_DELIVERED = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("md_id"), _MESSAGES.c.delivered_at.is_(None))
    .values(delivered_at=bindparam("md_now", type_=_MESSAGES.c.delivered_at.type))
)
_LATE_ATTEMPT = select(_ATTEMPTS.c.id).where(
    _ATTEMPTS.c.message_id == bindparam("la_message_id"),
    _ATTEMPTS.c.attempt_no == bindparam("la_attempt_no"),
)
_UPDATE_LATE_ATTEMPT = (
    update(_ATTEMPTS)
    .where(_ATTEMPTS.c.id == bindparam("late_id"))
    .values(
        {
            name: bindparam(name, type_=_ATTEMPTS.c[name].type)
            for name in ("outcome", "http_status", "code", "detail", "finished_at", "duration_ms", "applied")
        }
    )
)


#: Claims in this process take turns (the per-route cap is counted, then taken).
_CLAIMS_IN_PROCESS = threading.Lock()
#: The PostgreSQL advisory lock that lets claimers of every process take turns.
_CLAIM_LOCK_KEY = 0x67770007

_LEASE_LOST = "lease expired: the worker crashed or stalled while sending; outcome unknown"


def _error_text(outcome: Outcome) -> str:
    parts = [outcome.kind.value]
    if outcome.http_status is not None:
        parts.append(f"HTTP {outcome.http_status}")
    if outcome.code:
        parts.append(outcome.code)
    if outcome.detail:
        parts.append(outcome.detail)
    return ": ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0]
