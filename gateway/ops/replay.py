"""Replay: send a message again as a *new* outbox message, one or thousands at a time.

A replay is a tracked job (``replay_jobs``), in two steps so nobody replays 10,000
messages by a slip of the mouse:

1. :func:`preview_replay` resolves the selection (one message, or a search filter) to the
   replayable messages, stores them as ``pending`` items and returns the count with a
   one-time confirmation token (valid ``CONFIRM_WITHIN``);
2. :func:`confirm_replay` with that token starts it (audited: who, when, why, how many).

:func:`process_replay_jobs` then works through running jobs in batches of
``ops.replay_batch_size``, one transaction each: a guarded ``UPDATE ... RETURNING``
claims the batch's items (so two processors never replay one item twice), creates the
new messages and updates the job's counts - progress is visible after every batch,
and after a crash the remaining ``pending`` items are simply picked up again. It runs
in a background thread started on confirm and on the overdue scanner's beat.

What a replay is, per party (the ``messages.referentienummer`` column is unique, so
every replay gets a fresh one):

- ``ggk`` (iJw/iWmo, SVB, CAK via the GGk): a new StUF referentienummer in the same
  envelope - the GGk would refuse the old one as not unique (IB016). The payload, with
  its BerichtIdentificatie, is unchanged; a retour deadline (3 werkdagen) starts anew.
- ``corv``: not replayed here. Its wire message is an ebMS multipart kept in
  ``corv_wire_chunks`` with its MessageId in ``corv_outbound`` (gateway.corv), and a
  replay would need a new MessageId (duplicate elimination drops a known one) and a new
  StUF referentienummer (StUF016): that is gateway.corv's to build. Unpark re-sends the
  same ebMS message, which ebMS reliable messaging allows.
- ``webhook``: not replayed (its signed body carries the Webhook-Id the receiver
  deduplicates on); unpark it instead.

Replayable: ``parked`` and ``expired`` messages (never received), and ``delivered``
ones whose retour never came. Not ``rejected`` ones: the receiver processed those, so
the same payload would be refused again (a duplicate BerichtIdentificatie, 9056) - they
need a correction from the back-office. Not messages still on their way, and not a
message that was already replayed (replay the replay instead).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import exists, func, insert, select
from sqlalchemy.orm import Session, aliased

from gateway.ops.audit_trail import audit, checked_reason
from gateway.ops.errors import Conflict, InvalidInput, NotFound
from gateway.ops.operators import OperatorInfo, Role, require_role
from gateway.ops.replay_batches import process_batch, process_replay_jobs, start_background_replay
from gateway.ops.replay_states import (
    CONFIRM_WITHIN,
    NOT_REPLAYED_PARTIES,
    REPLAYABLE_STATES,
    ItemState,
    JobStatus,
)
from gateway.ops.search import MessageRow, SearchQuery, filtered, row_of
from gateway.runtime import Runtime
from gateway.store.ops_tables import ReplayJob, ReplayJobItem
from gateway.store.tables import Message

log = structlog.get_logger("gateway.ops.replay")
__all__ = [  # the processing half lives in replay_batches; callers import both from here
    "CONFIRM_WITHIN",
    "NOT_REPLAYED_PARTIES",
    "REPLAYABLE_STATES",
    "ItemState",
    "JobStatus",
    "ReplayItemInfo",
    "ReplayJobInfo",
    "ReplayPreview",
    "cancel_replay",
    "confirm_replay",
    "get_replay_job",
    "list_replay_jobs",
    "preview_replay",
    "process_batch",
    "process_replay_jobs",
    "replay_job_items",
    "start_background_replay",
]


@dataclass(frozen=True)
class ReplayJobInfo:
    id: int
    status: str
    selection: dict[str, Any]
    reason: str
    created_by: str
    created_at: datetime
    confirm_before: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    finished_at: datetime | None
    total: int
    processed: int
    succeeded: int
    failed: int

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else int(100 * self.processed / self.total)


@dataclass(frozen=True)
class ReplayPreview:
    """What a confirmation would start; ``confirmation_token`` is shown once."""

    job: ReplayJobInfo
    confirmation_token: str
    #: Matching messages left out (not replayable, or replayed before).
    skipped: int
    #: The first few messages of the selection, for a last look.
    sample: list[MessageRow]


@dataclass(frozen=True)
class ReplayItemInfo:
    message_id: int
    state: str
    new_message_id: int | None
    error: str | None


def _info(job: ReplayJob) -> ReplayJobInfo:
    return ReplayJobInfo(
        id=job.id,
        status=job.status,
        selection=dict(job.selection),
        reason=job.reason,
        created_by=job.created_by,
        created_at=job.created_at,
        confirm_before=job.confirm_before,
        confirmed_by=job.confirmed_by,
        confirmed_at=job.confirmed_at,
        finished_at=job.finished_at,
        total=job.total,
        processed=job.processed,
        succeeded=job.succeeded,
        failed=job.failed,
    )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _replayable(statement: Any) -> Any:
    later = aliased(Message)
    return statement.where(
        Message.state.in_(REPLAYABLE_STATES),
        Message.party.not_in(NOT_REPLAYED_PARTIES),
        ~exists().where(later.replay_of_id == Message.id),
    )


def preview_replay(
    session: Session,
    runtime: Runtime,
    operator: OperatorInfo,
    *,
    reason: str,
    message_id: int | None = None,
    query: SearchQuery | None = None,
) -> ReplayPreview:
    """Stage a replay of one message (``message_id``) or of every match of ``query``."""
    require_role(operator, Role.OPERATOR)
    why = checked_reason(reason)
    if (message_id is None) == (query is None):
        raise InvalidInput("give either message_id or a search filter")
    now = runtime.clock.now()
    limit = runtime.settings.ops.replay_max_messages
    if message_id is not None:
        message = session.get(Message, message_id)
        if message is None:
            raise NotFound(f"no message {message_id}")
        ids = list(session.scalars(_replayable(select(Message.id).where(Message.id == message_id))))
        if not ids:
            raise Conflict(
                f"message {message_id} ({message.party}, {message.state}) cannot be replayed: "
                "only parked, expired or delivered-but-unanswered messages, not replayed before, "
                "and no webhooks or CORV messages (unpark those)"
            )
        selection: dict[str, Any] = {"message_id": message_id}
        matched = 1
    else:
        assert query is not None
        selection = query.as_filter()
        if not selection:
            raise InvalidInput("a replay of a filtered set needs at least one filter")
        matched = session.scalar(filtered(select(func.count(Message.id)), runtime, query)) or 0
        ids = list(
            session.scalars(
                _replayable(filtered(select(Message.id), runtime, query))
                .order_by(Message.id)
                .limit(limit + 1)
            )
        )
        if len(ids) > limit:
            raise InvalidInput(f"the filter selects more than {limit} messages: narrow it down")
        if not ids:
            raise Conflict(f"none of the {matched} matching messages can be replayed")
    token = secrets.token_urlsafe(24)
    job = ReplayJob(
        status=JobStatus.PREVIEW,
        selection=selection,
        reason=why,
        created_by=operator.name,
        created_at=now,
        confirmation_hash=_hash(token),
        confirm_before=now + CONFIRM_WITHIN,
        total=len(ids),
    )
    session.add(job)
    session.flush()
    session.execute(
        insert(ReplayJobItem),
        [{"job_id": job.id, "message_id": i, "state": ItemState.PENDING} for i in ids],
    )
    sample = [row_of(m, None, None) for m in session.scalars(select(Message).where(Message.id.in_(ids[:10])))]
    return ReplayPreview(job=_info(job), confirmation_token=token, skipped=matched - len(ids), sample=sample)


def confirm_replay(
    session: Session, runtime: Runtime, operator: OperatorInfo, job_id: int, token: str
) -> ReplayJobInfo:
    """Start a previewed job. The token must match and be presented within CONFIRM_WITHIN."""
    require_role(operator, Role.OPERATOR)
    job = session.get(ReplayJob, job_id, with_for_update=True)
    if job is None:
        raise NotFound(f"no replay job {job_id}")
    if job.status != JobStatus.PREVIEW:
        raise Conflict(f"replay job {job_id} is {job.status}, not awaiting confirmation")
    if not hmac.compare_digest(job.confirmation_hash, _hash(token or "")):
        raise InvalidInput("the confirmation token does not belong to this replay job")
    now = runtime.clock.now()
    if now > job.confirm_before:
        job.status = JobStatus.CANCELLED
        job.finished_at = now
        raise Conflict(f"replay job {job_id} was not confirmed in time; preview it again")
    job.status, job.confirmed_by, job.confirmed_at = JobStatus.RUNNING, operator.name, now
    message_ids = None
    if job.total <= 100:
        message_ids = list(
            session.scalars(select(ReplayJobItem.message_id).where(ReplayJobItem.job_id == job_id))
        )
    audit(
        session,
        runtime,
        operator,
        "bericht.replayed",
        target=f"replay_job:{job_id}",
        reason=job.reason,
        count=job.total,
        selection=job.selection,
        previewed_by=job.created_by,
        message_ids=message_ids,
    )
    log.info("replay_job_confirmed", job_id=job_id, total=job.total)
    return _info(job)


def cancel_replay(
    session: Session, runtime: Runtime, operator: OperatorInfo, job_id: int, reason: str
) -> ReplayJobInfo:
    """Stop a job; items already replayed stay replayed, the rest stays pending (unsent)."""
    require_role(operator, Role.OPERATOR)
    why = checked_reason(reason)
    job = session.get(ReplayJob, job_id, with_for_update=True)
    if job is None:
        raise NotFound(f"no replay job {job_id}")
    if job.status not in (JobStatus.PREVIEW, JobStatus.RUNNING):
        raise Conflict(f"replay job {job_id} is {job.status}")
    job.status, job.finished_at = JobStatus.CANCELLED, runtime.clock.now()
    audit(session, runtime, operator, "replay.cancelled", target=f"replay_job:{job_id}", reason=why)
    return _info(job)


def get_replay_job(session: Session, job_id: int) -> ReplayJobInfo:
    job = session.get(ReplayJob, job_id, populate_existing=True)
    if job is None:
        raise NotFound(f"no replay job {job_id}")
    return _info(job)


def list_replay_jobs(session: Session, *, limit: int = 50) -> list[ReplayJobInfo]:
    """Newest first."""
    return [_info(j) for j in session.scalars(select(ReplayJob).order_by(ReplayJob.id.desc()).limit(limit))]


def replay_job_items(
    session: Session, job_id: int, *, offset: int = 0, limit: int = 100
) -> list[ReplayItemInfo]:
    rows = session.scalars(
        select(ReplayJobItem)
        .where(ReplayJobItem.job_id == job_id)
        .order_by(ReplayJobItem.message_id)
        .offset(offset)
        .limit(limit)
    )
    return [ReplayItemInfo(r.message_id, r.state, r.new_message_id, r.error) for r in rows]
