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

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select, update

from gateway.delivery.ggk_transport import Transport
from gateway.delivery.outcome import Outcome, OutcomeKind
from gateway.delivery.retry_policy import RetryPolicy
from gateway.events import MESSAGE_DELIVERED, MESSAGE_EXPIRED, MESSAGE_PARKED, record_event
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import DeliveryAttempt, Message, MessageState

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
    ) -> None:
        self.runtime = runtime
        self.transports = transports
        self.policy = policy or RetryPolicy.from_settings(runtime.settings.retry)
        self.worker_id = worker_id or default_worker_id()
        self.settings = runtime.settings.delivery
        self._wake = threading.Event()
        self._executor = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="delivery")
        self._on_close = on_close

    # -- the loop ---------------------------------------------------------------

    def wake(self) -> None:
        """Ask the loop to look for work now instead of after the poll interval."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        log.info("delivery_worker_started", worker=self.worker_id, concurrency=self.settings.concurrency)
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
        """Rescue, claim one batch, deliver it concurrently. Returns the batch size."""
        self.rescue_expired_leases()
        batch = self.claim(self.settings.batch_size)
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
        now = self.runtime.clock.now()
        lease = timedelta(seconds=self.settings.lease_s)
        with transaction(self.runtime.sessions) as session:
            expired = session.execute(
                select(Message.id, Message.attempts, Message.lease_owner, Message.lease_expires_at)
                .where(Message.state == MessageState.SENDING, Message.lease_expires_at < now)
                .with_for_update(skip_locked=True)
            ).all()
            if not expired:
                return 0
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
        for row in expired:
            log.warning(
                "lease_rescued", message_id=row.id, lost_worker=row.lease_owner, worker=self.worker_id
            )
        return len(expired)

    def claim(self, limit: int) -> list[Claimed]:
        now = self.runtime.clock.now()
        lease_until = now + timedelta(seconds=self.settings.lease_s)
        with transaction(self.runtime.sessions) as session:
            due = session.scalars(
                select(Message.id)
                .where(Message.state == MessageState.QUEUED, Message.next_attempt_at <= now)
                .order_by(Message.next_attempt_at, Message.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not due:
                return []
            rows = session.execute(
                update(Message)
                .where(Message.id.in_(due), Message.state == MessageState.QUEUED)
                .values(
                    state=MessageState.SENDING,
                    lease_owner=self.worker_id,
                    lease_expires_at=lease_until,
                    attempts=Message.attempts + 1,
                    updated_at=now,
                    first_attempt_at=func.coalesce(Message.first_attempt_at, now),
                )
                .returning(
                    Message.id,
                    Message.attempts,
                    Message.party,
                    Message.route,
                    Message.operation,
                    Message.wire_body,
                    Message.possibly_delivered,
                    Message.first_attempt_at,
                )
            ).all()
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

    # -- one message --------------------------------------------------------------

    def deliver(self, claimed: Claimed) -> Outcome:
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
            return outcome
        except Exception:
            # Leave the lease to expire: the rescuer re-queues the message.
            log.exception("delivery_record_failed")
            return Outcome(OutcomeKind.UNKNOWN, detail="recording failed")
        finally:
            structlog.contextvars.unbind_contextvars("message_id", "route", "attempt")

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
            next_at = self.policy.next_attempt(claimed.attempt, claimed.first_attempt_at, now)
            if next_at is None:
                values.update(state=MessageState.EXPIRED)
                event = MESSAGE_EXPIRED
            else:
                values.update(state=MessageState.QUEUED, next_attempt_at=next_at)
        with transaction(self.runtime.sessions) as session:
            guarded = (
                update(Message)
                .where(
                    Message.id == claimed.id,
                    Message.state == MessageState.SENDING,
                    Message.lease_owner == self.worker_id,
                )
                .values(**values)
            )
            applied = _rowcount(session.execute(guarded)) == 1
            if not applied and outcome.kind is OutcomeKind.DELIVERED:
                # The answer overtook us (a fast retour) or a rescuer re-queued the message:
                # it still arrived, so remember when.
                session.execute(
                    update(Message)
                    .where(Message.id == claimed.id, Message.delivered_at.is_(None))
                    .values(delivered_at=now)
                )
            late = session.scalars(
                select(DeliveryAttempt).where(
                    DeliveryAttempt.message_id == claimed.id, DeliveryAttempt.attempt_no == claimed.attempt
                )
            ).first()
            if late is not None:
                # The rescuer already recorded this attempt as lost; add what really happened.
                late.outcome = outcome.kind.value
                late.http_status = outcome.http_status
                late.code = outcome.code
                late.detail = f"{_LEASE_LOST}; the late result: {outcome.detail or outcome.kind.value}"
                late.finished_at = now
                late.duration_ms = duration_ms
                late.applied = False
            else:
                session.add(
                    DeliveryAttempt(
                        message_id=claimed.id,
                        attempt_no=claimed.attempt,
                        worker=self.worker_id,
                        started_at=started,
                        finished_at=now,
                        duration_ms=duration_ms,
                        outcome=outcome.kind.value,
                        http_status=outcome.http_status,
                        code=outcome.code,
                        detail=outcome.detail,
                        applied=applied,
                    )
                )
            if applied and event is not None:
                record_event(
                    session,
                    self.runtime,
                    event,
                    message_id=claimed.id,
                    code=outcome.code,
                    detail=outcome.detail,
                )
        log.info(
            "delivery_attempt",
            outcome=outcome.kind.value,
            http_status=outcome.http_status,
            code=outcome.code,
            duration_ms=duration_ms,
            applied=applied,
            state=values.get("state") if applied else None,
        )


_LEASE_LOST = "lease expired: the worker crashed or stalled while sending; outcome unknown"


def _rowcount(result: object) -> int:
    """Rows an UPDATE touched (``CursorResult.rowcount``; the ORM's typing hides it)."""
    count: int = result.rowcount  # type: ignore[attr-defined]
    return count


def _error_text(outcome: Outcome) -> str:
    parts = [outcome.kind.value]
    if outcome.http_status is not None:
        parts.append(f"HTTP {outcome.http_status}")
    if outcome.code:
        parts.append(outcome.code)
    if outcome.detail:
        parts.append(outcome.detail)
    return ": ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0]
