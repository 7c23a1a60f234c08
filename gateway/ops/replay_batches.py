"""Processing replay jobs: batch by batch, restartable (see :mod:`gateway.ops.replay`).

One transaction per batch of ``ops.replay_batch_size`` items: a guarded UPDATE claims
the items, the new outbox messages are inserted in one statement each batch, and the
job's counts move on - so progress is visible, a crash loses at most the open batch
(rolled back, its items still pending), and two processors never replay an item twice.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, selectinload

from gateway.deadlines import DeadlineKind, open_deadline
from gateway.ops.replay_states import REPLAYABLE_STATES, ItemState, JobStatus
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.ops_tables import ReplayJob, ReplayJobItem
from gateway.store.tables import Message, MessageState, MessageToewijzing
from gateway.store.tracking_tables import Deadline

log = structlog.get_logger("gateway.ops.replay")


def _replay_row(original: Message, now: datetime) -> dict[str, Any]:
    """The new outbox row for ``original``: same payload, a fresh referentienummer (or ValueError)."""
    old_ref = original.referentienummer.encode()
    if old_ref not in original.wire_body:
        raise ValueError("the envelope does not carry the message's referentienummer; cannot renew it")
    new_ref = str(uuid.uuid4())
    return {
        "party": original.party,
        "route": original.route,
        "message_type": original.message_type,
        "operation": original.operation,
        "law": original.law,
        "state": MessageState.QUEUED,
        "sender": original.sender,
        "receiver": original.receiver,
        "referentienummer": new_ref,
        "bericht_identificatie": original.bericht_identificatie,
        "beschikking_id": original.beschikking_id,
        "answers_inbound_id": original.answers_inbound_id,
        "bsn_hash": original.bsn_hash,
        "payload": original.payload,
        "wire_body": original.wire_body.replace(old_ref, new_ref.encode()),
        "attempts": 0,
        "possibly_delivered": False,
        "next_attempt_at": now,
        "replay_of_id": original.id,
        "created_at": now,
        "updated_at": now,
    }


def _claim_items(session: Session, job_id: int, size: int) -> list[int]:
    """Take up to ``size`` pending items: lock them (PostgreSQL), then a guarded UPDATE.

    Only the items this UPDATE changed are returned, so a concurrent processor that read
    the same ids (SQLite has no row locks) replays none of them twice.
    """
    candidates = list(
        session.scalars(
            select(ReplayJobItem.message_id)
            .where(ReplayJobItem.job_id == job_id, ReplayJobItem.state == ItemState.PENDING)
            .order_by(ReplayJobItem.message_id)
            .limit(size)
            .with_for_update(skip_locked=True)
        )
    )
    if not candidates:
        return []
    return list(
        session.scalars(
            update(ReplayJobItem)
            .where(
                ReplayJobItem.job_id == job_id,
                ReplayJobItem.message_id.in_(candidates),
                ReplayJobItem.state == ItemState.PENDING,
            )
            .values(state=ItemState.REPLAYED)
            .returning(ReplayJobItem.message_id)
            .execution_options(synchronize_session=False)
        )
    )


def process_batch(runtime: Runtime, job_id: int) -> int:
    """Replay one batch of a running job; returns how many items it handled (0: job finished)."""
    with transaction(runtime.sessions) as session:
        job = session.get(ReplayJob, job_id, with_for_update=True)
        if job is None or job.status != JobStatus.RUNNING:
            return 0
        claimed = _claim_items(session, job_id, runtime.settings.ops.replay_batch_size)
        now = runtime.clock.now()
        if not claimed:
            job.status, job.finished_at = JobStatus.DONE, now
            log.info("replay_job_done", job_id=job_id, succeeded=job.succeeded, failed=job.failed)
            return 0
        originals = session.scalars(
            select(Message)
            .where(Message.id.in_(claimed))
            .options(selectinload(Message.toewijzing_links))
            .order_by(Message.id)
        ).all()
        failures: dict[int, str] = {}
        rows: list[dict[str, Any]] = []
        replayed: list[Message] = []
        for original in originals:
            if original.state not in REPLAYABLE_STATES:
                failures[original.id] = f"message is {original.state} now; not replayed"
                continue
            try:
                rows.append(_replay_row(original, now))
                replayed.append(original)
            except ValueError as exc:
                failures[original.id] = str(exc)
        new_ids = (
            list(session.scalars(insert(Message).returning(Message.id, sort_by_parameter_order=True), rows))
            if rows
            else []
        )
        links = [
            {"message_id": new_id, "toewijzing_id": link.toewijzing_id}
            for original, new_id in zip(replayed, new_ids, strict=True)
            for link in original.toewijzing_links
        ]
        if links:
            session.execute(insert(MessageToewijzing), links)
        with_retour = set(
            session.scalars(
                select(Deadline.message_id).where(
                    Deadline.message_id.in_([o.id for o in replayed]), Deadline.kind == DeadlineKind.RETOUR
                )
            )
        )
        for original, new_id in zip(replayed, new_ids, strict=True):
            if original.id in with_retour:  # the replay owes its retour within 3 werkdagen again
                open_deadline(session, runtime, DeadlineKind.RETOUR, message_id=new_id, start=now)
        updates: list[dict[str, Any]] = [
            {"job_id": job_id, "message_id": o.id, "new_message_id": new_id}
            for o, new_id in zip(replayed, new_ids, strict=True)
        ]
        updates += [
            {"job_id": job_id, "message_id": message_id, "state": ItemState.FAILED, "error": error}
            for message_id, error in failures.items()
        ]
        for chunk in (updates[i : i + 500] for i in range(0, len(updates), 500)):
            # ORM bulk UPDATE by primary key: one executemany per shape.
            for shape in ({"new_message_id"}, {"state", "error"}):
                same = [u for u in chunk if shape <= u.keys()]
                if same:
                    session.execute(update(ReplayJobItem), same)
        job.processed += len(claimed)
        job.succeeded += len(new_ids)
        job.failed += len(failures)
    log.info("replay_batch", job_id=job_id, replayed=len(new_ids), failed=len(failures))
    return len(claimed)


def process_replay_jobs(runtime: Runtime, *, max_batches: int | None = None) -> int:
    """Work through every running job, batch by batch. Returns the items handled.

    Suits the overdue scanner's ``jobs=[...]``; safe to run in several places at once.
    """
    with runtime.sessions() as session:
        running = list(session.scalars(select(ReplayJob.id).where(ReplayJob.status == JobStatus.RUNNING)))
    handled = batches = 0
    for job_id in running:
        while max_batches is None or batches < max_batches:
            count = process_batch(runtime, job_id)
            batches += 1
            handled += count
            if count == 0:
                break
    return handled


_running: dict[int, threading.Thread] = {}
_running_lock = threading.Lock()


def start_background_replay(runtime: Runtime, on_batch: Callable[[], object] | None = None) -> None:
    """Process running jobs in a daemon thread now (one per runtime), instead of on the scanner's beat."""

    def work() -> None:
        try:
            while True:
                process_replay_jobs(runtime)
                if on_batch is not None:
                    on_batch()
                with runtime.sessions() as session:
                    if (
                        session.scalar(select(ReplayJob.id).where(ReplayJob.status == JobStatus.RUNNING))
                        is None
                    ):
                        break
        except Exception:  # the scanner's beat picks the job up again
            log.exception("replay_background_error")

    with _running_lock:
        thread = _running.get(id(runtime))
        if thread is not None and thread.is_alive():
            return
        thread = threading.Thread(target=work, name="replay-jobs", daemon=True)
        _running[id(runtime)] = thread
        thread.start()
