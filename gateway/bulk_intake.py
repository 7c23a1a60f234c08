"""Bulk intake: many beschikkingen in one go (the year-change re-issue, legacy imports).

Used by ``POST /api/v1/beschikkingen/bulk`` (NDJSON in, NDJSON out) and by
``gateway import FILE``. Each line is one beschikking, checked and stored exactly as the
single endpoint does (:func:`gateway.intake.accept_beschikkingen`, which the single
endpoint shares). Why batches: one transaction per line would make 10,000 decisions
cost 10,000 commits (fsyncs); one transaction for everything would let one bad line
undo the rest. So lines are stored ``batch_size`` to a transaction: the batch's
independent lines together, set-based, the rest one by one in a savepoint each (see
:func:`store_batch`). A rejected line leaves nothing behind and never undoes another,
and a line is reported ``accepted`` only once its batch is committed (durably).

Nothing is accepted twice: a beschikkingnummer that exists for its law is reported
``duplicate`` (with the stored id) and not stored or sent again - so re-sending the same
file, or re-running an import that crashed half-way, continues where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gateway.api.beschikking_models import BeschikkingIn, BeschikkingOut
from gateway.api.problems import FieldError, Problem, field_error, validation_problem
from gateway.bsn import keyed_hash
from gateway.intake import _taken_nummers as _taken  # the batch's duplicates: one lookup
from gateway.intake import accept_beschikking, accept_beschikkingen
from gateway.runtime import Runtime
from gateway.store.database import write_transaction
from gateway.store.tables import Beschikking

log = structlog.get_logger("gateway.bulk_intake")

#: Lines per transaction: large enough that commits are rare, small enough that a crash
#: loses little work and locks are held briefly.
DEFAULT_BATCH_SIZE = 200
#: Longer lines are refused without parsing (a beschikking is a few kB).
MAX_LINE_BYTES = 256 * 1024

Status = Literal["accepted", "duplicate", "rejected", "error"]
#: Turns one parsed JSON line into a beschikking (the legacy-indication mapping), or raises Problem.
Converter = Callable[[Any], BeschikkingIn]


@dataclass
class LineResult:
    line: int
    status: Status
    beschikkingnummer: str | None = None
    id: int | None = None
    berichten: list[int] = field(default_factory=list)
    problem: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "status": self.status}
        if self.beschikkingnummer is not None:
            out["beschikkingnummer"] = self.beschikkingnummer
        if self.id is not None:
            out["id"] = self.id
        if self.status == "accepted":
            out["berichten"] = self.berichten
        if self.problem is not None:
            out["problem"] = self.problem
        return out


@dataclass
class Summary:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    error: int = 0

    def add(self, result: LineResult) -> None:
        setattr(self, result.status, getattr(self, result.status) + 1)

    def as_dict(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "error": self.error,
        }


def _beschikking(data: Any) -> BeschikkingIn:
    return BeschikkingIn.model_validate(data)


def parse_line(
    line_no: int, raw: bytes | str, convert: Converter = _beschikking
) -> BeschikkingIn | LineResult:
    """One NDJSON line as a beschikking, or the ``rejected`` result that says why not."""
    if len(raw) > MAX_LINE_BYTES:
        return _rejected(line_no, Problem(413, "line-too-large", "The line is too large", "at most 256 kB"))
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        error = FieldError("body", "malformed-json", "the line is not valid JSON")
        return _rejected(line_no, Problem(400, "malformed-json", "The line is not valid JSON", "", [error]))
    try:
        return convert(data)
    except ValidationError as exc:
        return _rejected(line_no, validation_problem(_field_errors(exc)), _nummer_of(data))
    except Problem as problem:
        return _rejected(line_no, problem, _nummer_of(data))


def _field_errors(exc: ValidationError) -> list[FieldError]:
    """As the single endpoint words them (``ctx``/``input`` dropped: they echo client data)."""
    return [field_error(err) for err in exc.errors()]


def _nummer_of(data: Any) -> str | None:
    nummer = data.get("beschikkingnummer") if isinstance(data, dict) else None
    return nummer if isinstance(nummer, str) and len(nummer) <= 50 else None


def _rejected(line_no: int, problem: Problem, nummer: str | None = None) -> LineResult:
    return LineResult(line_no, "rejected", beschikkingnummer=nummer, problem=problem.body())


def store_batch(
    runtime: Runtime, items: list[tuple[int, BeschikkingIn]], api_client_id: int | None
) -> list[LineResult]:
    """Store parsed lines in one transaction; results after the commit.

    Why two paths: storing line by line (a savepoint, a duplicate lookup and ~16 more
    round trips each) is what made bulk intake slow. So the batch's independent lines
    (see :func:`split_independent`) are stored together by
    :func:`gateway.intake.accept_beschikkingen` - set-based, in one savepoint - and only
    the rest (a client or beschikkingnummer seen earlier in the batch) one by one, after
    them, in line order. Should the group fail after it began writing (a 301 that breaks
    the schema, a concurrent request storing the same beschikkingnummer), its savepoint
    is rolled back and all its lines are stored one by one instead: a rejected line
    still leaves nothing behind and never undoes another. The same for a PostgreSQL
    deadlock with another writer (see :func:`retry_per_line`).
    """
    results: list[LineResult] = []
    # The write lock from the start: the savepoints nest inside one transaction rather than
    # each committing, and a concurrent SQLite writer queues us instead of failing us.
    with write_transaction(runtime.sessions, runtime.engine) as session:
        taken = _taken(session, [request for _, request in items])
        fresh: list[tuple[int, BeschikkingIn]] = []
        for line_no, request in items:
            existing = taken.get((request.wet.value, request.beschikkingnummer))
            if existing is not None:
                results.append(LineResult(line_no, "duplicate", request.beschikkingnummer, existing))
            else:
                fresh.append((line_no, request))
        together, one_by_one = split_independent(runtime, fresh)
        if together:
            try:
                with session.begin_nested():
                    outcomes = accept_beschikkingen(
                        session, runtime, [request for _, request in together], api_client_id
                    )
            except (Problem, IntegrityError, OperationalError) as exc:
                if not retry_per_line(exc):
                    raise
                log.info("bulk_group_retried_per_line", lines=len(together), reason=type(exc).__name__)
                one_by_one = sorted([*together, *one_by_one], key=lambda item: item[0])
            else:
                for (line_no, request), outcome in zip(together, outcomes, strict=True):
                    results.append(_result(line_no, request, outcome))
        for line_no, request in one_by_one:
            results.append(_store_one(session, runtime, line_no, request, api_client_id))
    return results


#: PostgreSQL's SQLSTATE for "deadlock detected" (psycopg's ``errors.DeadlockDetected``).
DEADLOCK_DETECTED = "40P01"


def retry_per_line(exc: Exception) -> bool:
    """Whether the group's failure is one that storing its lines one by one gets past.

    A Problem (a 301 that breaks the schema) or an IntegrityError (a number another
    request stored meanwhile) belongs to one line. A deadlock belongs to none: two
    concurrent batches inserting the same numbers in different orders (each waits for
    the other's unique-index entry), and PostgreSQL aborts one of them. The aborted one
    gives its locks back when its savepoint is rolled back, and one line at a time it
    waits for the other's commit and finds those numbers ``duplicate``. Anything else
    (the database went away) fails the batch as a whole.
    """
    if isinstance(exc, Problem | IntegrityError):
        return True
    return isinstance(exc, OperationalError) and getattr(exc.orig, "sqlstate", None) == DEADLOCK_DETECTED


def split_independent(
    runtime: Runtime, items: list[tuple[int, BeschikkingIn]]
) -> tuple[list[tuple[int, BeschikkingIn]], list[tuple[int, BeschikkingIn]]]:
    """(lines that can be stored together, lines that must follow one by one), in line order.

    A line is independent when neither its client (BSN hash) nor its (law,
    beschikkingnummer) occurs in an earlier line of the batch: every check and every
    301 of a line looks only at its client's rows and its own number, so such lines
    do not see each other, and storing them together equals storing them in order.
    A later line that shares either with an earlier one must see that line stored
    first (a repeated line is a duplicate, a second decision for a client is checked
    against the first): those follow one by one, in line order, after the group.
    """
    seen: set[tuple[str, str]] = set()
    together: list[tuple[int, BeschikkingIn]] = []
    one_by_one: list[tuple[int, BeschikkingIn]] = []
    for line_no, request in items:
        keys = {
            ("client", keyed_hash(request.client.bsn, runtime.settings.hash_key)),
            (request.wet.value, request.beschikkingnummer),
        }
        (one_by_one if keys & seen else together).append((line_no, request))
        seen |= keys
    return together, one_by_one


def _store_one(
    session: Session, runtime: Runtime, line_no: int, request: BeschikkingIn, api_client_id: int | None
) -> LineResult:
    """One line in its own savepoint: a duplicate of a stored one, accepted or rejected."""
    nummer = request.beschikkingnummer

    def stored() -> int | None:
        return session.scalar(
            select(Beschikking.id).where(
                Beschikking.law == request.wet.value, Beschikking.beschikkingnummer == nummer
            )
        )

    existing = stored()
    if existing is not None:
        return LineResult(line_no, "duplicate", nummer, existing)
    try:
        with session.begin_nested():
            out = accept_beschikking(session, runtime, request, api_client_id)
    except Problem as problem:
        return LineResult(line_no, "rejected", nummer, problem=problem.body())
    except IntegrityError:
        # A concurrent request stored this number between our look and our insert: only
        # this line's savepoint is undone, and it is that request's duplicate now.
        existing = stored()
        if existing is None:
            raise
        return LineResult(line_no, "duplicate", nummer, existing)
    return _result(line_no, request, out)


def _result(line_no: int, request: BeschikkingIn, outcome: BeschikkingOut | Problem) -> LineResult:
    nummer = request.beschikkingnummer
    if isinstance(outcome, Problem):
        return LineResult(line_no, "rejected", nummer, problem=outcome.body())
    return LineResult(line_no, "accepted", nummer, outcome.id, [b.id for b in outcome.berichten])


def process_batch(
    runtime: Runtime,
    numbered: list[tuple[int, bytes | str]],
    api_client_id: int | None,
    convert: Converter = _beschikking,
) -> list[LineResult]:
    """Parse and store one batch of numbered lines; the results in line order.

    A batch whose transaction fails as a whole (the database went away) reports its
    parsed lines ``error``: nothing of it was stored, and sending them again is safe.
    """
    results: list[LineResult] = []
    pending: list[tuple[int, BeschikkingIn]] = []
    for line_no, raw in numbered:
        parsed = parse_line(line_no, raw, convert)
        if isinstance(parsed, LineResult):
            results.append(parsed)
        else:
            pending.append((line_no, parsed))
    if pending:
        try:
            results += store_batch(runtime, pending, api_client_id)
        except Exception as exc:
            log.exception("bulk_batch_failed", lines=len(pending), error_type=type(exc).__name__)
            problem = Problem(
                503,
                "batch-failed",
                "The batch with this line could not be stored",
                "nothing of this batch was stored; send the line again",
            ).body()
            results += [LineResult(n, "error", r.beschikkingnummer, problem=problem) for n, r in pending]
    return sorted(results, key=lambda r: r.line)


def import_lines(
    runtime: Runtime,
    lines: Iterable[bytes | str],
    api_client_id: int | None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    convert: Converter = _beschikking,
    after_batch: Callable[[list[LineResult]], None] | None = None,
) -> Iterator[LineResult]:
    """Every line's result, lines numbered from 1 (blank lines are skipped, not numbered away)."""
    for batch in numbered_batches(lines, batch_size):
        results = process_batch(runtime, batch, api_client_id, convert)
        if after_batch is not None:
            after_batch(results)
        yield from results


def numbered_batches(
    lines: Iterable[bytes | str], batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[list[tuple[int, bytes | str]]]:
    """Non-blank lines with their number (from 1, blank lines counted), ``batch_size`` at a time."""
    batch: list[tuple[int, bytes | str]] = []
    for line_no, raw in enumerate(lines, start=1):
        if raw.strip():
            batch.append((line_no, raw))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
