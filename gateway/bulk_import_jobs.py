"""``gateway import FILE --jobs N``: the bulk import spread over N worker processes.

Why processes: one process spends ~1.5-1.9 ms CPU per decision (parsing, checks, the 301
XML), so it tops out near 600 decisions/s however fast the database is; the year-change
re-issue needs >= 1,000/s. Threads would share one GIL, so PostgreSQL gets N processes,
each with its own :class:`~gateway.runtime.Runtime` built from the same settings, started
with the ``forkserver`` context (the parent holds an engine, which must not be forked;
the fork server is a fresh process that imported the intake once for all jobs:
:mod:`gateway.bulk_import_forkserver`).
SQLite has one writer by design: the CLI refuses ``--jobs > 1`` there.

What stays as with one process (:func:`gateway.bulk_intake.import_lines`):

- **Per client in file order.** The parent reads the file and sends each line to the job
  chosen by a stable hash (CRC-32) of the line's client BSN, so all lines of one client
  go to one job, in file order, and the per-client checks (TR302 overlap, the 301 per
  client per aanbieder) run as sequentially as before; two jobs never race on one client.
  A line without a readable BSN is rejected anyway and goes to any job.
- **Batches.** Each job stores ``batch_size`` of its lines per transaction with
  :func:`gateway.bulk_intake.process_batch`, so a rejected line never undoes another and a
  line is ``accepted`` only once committed.
- **Nothing twice.** The same beschikkingnummer for two clients may reach two jobs: the
  unique (law, beschikkingnummer) constraint makes the second insert wait for the first
  transaction and then fail, and ``store_batch`` reports that line ``duplicate``. Two such
  numbers crossing in opposite order can deadlock the two transactions; PostgreSQL then
  aborts one, and ``store_batch`` undoes that group and stores its lines one by one (the
  taken numbers ``duplicate``). Should the line-by-line pass deadlock too, the batch as a
  whole fails, stored nothing, and is tried again here (``RETRIES`` times).
- **Results in line order.** Results come back per batch, out of file order; the parent
  keeps them until every earlier line is answered and writes them in line order as it
  goes (a reorder buffer, bounded by how far the jobs drift apart), so ``--results`` is
  ordered by line number as before, and summary and progress bar count as results arrive.

A job that dies (or Ctrl+C, which stops all jobs) ends the import with
:class:`ImportIncomplete`: the lines it names have no result - they may or may not be
stored - and running the same command again is safe, as after any crash.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import queue
import signal
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from multiprocessing.process import BaseProcess
from typing import IO, Any

import structlog

from gateway import legacy_indicaties
from gateway.bulk_import_forkserver import start_fork_server
from gateway.bulk_intake import MAX_LINE_BYTES, Converter, LineResult, Summary, process_batch
from gateway.log_setup import configure_logging
from gateway.runtime import Runtime
from gateway.settings import Settings

log = structlog.get_logger("gateway.bulk_import_jobs")

#: How often a job tries a batch again whose transaction failed as a whole (a deadlock
#: with another job even in the line-by-line pass); nothing of such a batch was stored.
RETRIES = 3
#: Batches queued per job ahead of the one it works on: enough to keep it busy, few
#: enough that memory stays bounded and little is in flight when a job dies.
QUEUED_BATCHES = 2
#: How long the parent waits on a queue before it looks whether a job died.
POLL_S = 0.2

Batch = list[tuple[int, bytes]]


class ImportIncomplete(Exception):  # noqa: N818 - the name says what the caller gets
    """The import stopped early (a job died, or Ctrl+C); ``unknown`` lines have no result."""

    def __init__(self, reason: str, unknown: list[int]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unknown = unknown
        self.summary = Summary()  # set by the caller, which counts
        self.problems: list[LineResult] = []


def job_of(raw: bytes, line_no: int, jobs: int) -> int:
    """The job for a line: a stable hash of its client's BSN; a line without one anywhere."""
    bsn: Any = None
    if len(raw) <= MAX_LINE_BYTES:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            data = None
        client = data.get("client") if isinstance(data, dict) else None
        bsn = client.get("bsn") if isinstance(client, dict) else None
    if isinstance(bsn, str):
        return zlib.crc32(bsn.encode()) % jobs
    return line_no % jobs  # rejected wherever it goes


def line_ranges(lines: Iterable[int]) -> str:
    """``1-3, 7, 9-12``: a list of line numbers as a reader wants it."""
    runs: list[list[int]] = []
    for line in sorted(set(lines)):
        if runs and runs[-1][1] == line - 1:
            runs[-1][1] = line
        else:
            runs.append([line, line])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _process(runtime: Runtime, batch: Batch, convert: Converter | None) -> list[LineResult]:
    """One batch, tried again while its transaction fails as a whole (nothing of it was stored)."""
    kwargs: dict[str, Any] = {} if convert is None else {"convert": convert}
    results = process_batch(runtime, list(batch), None, **kwargs)
    for attempt in range(1, RETRIES + 1):
        failed = {r.line for r in results if r.status == "error"}
        if not failed:
            break
        time.sleep(0.1 * attempt)
        log.info("bulk_import_batch_retried", lines=len(failed), attempt=attempt)
        again = process_batch(runtime, [(n, raw) for n, raw in batch if n in failed], None, **kwargs)
        results = sorted([*(r for r in results if r.line not in failed), *again], key=lambda r: r.line)
    return results


def job_main(
    job: int,
    settings: Settings,
    today: date | None,
    inbox: multiprocessing.Queue[tuple[int, Batch] | None],
    outbox: multiprocessing.Queue[tuple[int, int, list[LineResult] | None]],
) -> None:
    """One job (its own process): store the batches it is sent until ``None``, answer each."""
    # What the fork server imported lives as long as this process: frozen, the garbage
    # collector's full collections no longer walk it - each cost ~0.1 s CPU, one in the
    # first batch and about one per 800 lines after, and copied every page it touched
    # from the fork server. Never undone: the process ends with the job.
    gc.freeze()
    # Ctrl+C reaches the whole process group: the parent decides, and stops the jobs.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(settings.log_level, json=settings.log_json)
    convert: Converter | None = None
    if today is not None:
        convert = partial(legacy_indicaties.to_beschikking, today=today)
    runtime = Runtime.create(settings)
    try:
        while (message := inbox.get()) is not None:
            size, batch = message
            outbox.put((job, size, _process(runtime, batch, convert)))
    finally:
        runtime.close()
    outbox.put((job, 0, None))


@dataclass
class _Jobs:
    """The parent's side: sends batches, takes results in, writes them in line order."""

    processes: list[BaseProcess]
    inboxes: list[multiprocessing.Queue[tuple[int, Batch] | None]]
    outbox: multiprocessing.Queue[tuple[int, int, list[LineResult] | None]]
    on_result: Callable[[LineResult], None]
    on_batch: Callable[[int], None]
    order: deque[int] = field(default_factory=deque)
    done: dict[int, LineResult] = field(default_factory=dict)
    outstanding: list[set[int]] = field(default_factory=list)
    finished: set[int] = field(default_factory=set)
    written: Callable[[LineResult], None] | None = None

    def send(self, job: int, message: tuple[int, Batch] | None) -> None:
        if message is not None:
            self.outstanding[job].update(n for n, _ in message[1])
        while True:
            try:
                self.inboxes[job].put(message, timeout=POLL_S)
                return
            except queue.Full:
                self.take(block=False)
                self.check()

    def take(self, *, block: bool) -> None:
        """Handle the results that arrived (waiting up to ``POLL_S`` for one if ``block``)."""
        while True:
            try:
                job, size, results = self.outbox.get(timeout=POLL_S) if block else self.outbox.get_nowait()
            except queue.Empty:
                return
            block = False
            if results is None:
                self.finished.add(job)
                continue
            for result in results:
                self.outstanding[job].discard(result.line)
                self.done[result.line] = result
                self.on_result(result)
            self.on_batch(size)
            self.write_ready()

    def write_ready(self) -> None:
        while self.order and self.order[0] in self.done:
            result = self.done.pop(self.order.popleft())
            if self.written is not None:
                self.written(result)

    def check(self) -> None:
        """Raise when a job died: its unanswered lines are unknown."""
        for job, process in enumerate(self.processes):
            if process.exitcode not in (None, 0) and job not in self.finished:
                self.take(block=False)  # what it answered before it died
                raise _JobDied(job, process.exitcode)


class _JobDied(Exception):  # noqa: N818
    def __init__(self, job: int, exitcode: int | None) -> None:
        super().__init__(f"job {job + 1} stopped unexpectedly (exit code {exitcode})")


def run_jobs(
    settings: Settings,
    lines: Iterable[bytes],
    *,
    jobs: int,
    today: date | None,
    batch_size: int,
    on_result: Callable[[LineResult], None],
    on_batch: Callable[[int], None],
    results: IO[str] | None,
) -> None:
    """Import ``lines`` with ``jobs`` processes; results written to ``results`` in line order.

    ``on_result`` sees every result as it arrives, ``on_batch`` the bytes each finished batch
    (or blank line) covered. Raises :class:`ImportIncomplete` when a job died or on Ctrl+C.
    """
    context = start_fork_server()
    inboxes: list[multiprocessing.Queue[tuple[int, Batch] | None]] = [
        context.Queue(maxsize=QUEUED_BATCHES) for _ in range(jobs)
    ]
    outbox: multiprocessing.Queue[tuple[int, int, list[LineResult] | None]] = context.Queue()
    processes: list[BaseProcess] = [
        context.Process(
            target=job_main,
            args=(job, settings, today, inboxes[job], outbox),
            name=f"gateway-import-{job + 1}",
            daemon=True,
        )
        for job in range(jobs)
    ]

    def write(result: LineResult) -> None:
        if results is not None:
            results.write(json.dumps(result.as_dict(), separators=(",", ":")) + "\n")

    state = _Jobs(processes, inboxes, outbox, on_result, on_batch, outstanding=[set() for _ in range(jobs)])
    state.written = write
    pending: list[Batch] = [[] for _ in range(jobs)]
    sizes = [0] * jobs
    last_read, read_all = 0, False
    for process in processes:
        process.start()
    try:
        for line_no, raw in enumerate(lines, start=1):
            last_read = line_no
            if not raw.strip():
                on_batch(len(raw))  # blank: skipped, but numbered, as import_lines does
                continue
            job = job_of(raw, line_no, jobs)
            state.order.append(line_no)
            pending[job].append((line_no, raw))
            sizes[job] += len(raw)
            if len(pending[job]) >= batch_size:
                state.send(job, (sizes[job], pending[job]))
                pending[job], sizes[job] = [], 0
            if line_no % 64 == 0:  # results in now and then, for the progress bar
                state.take(block=False)
        read_all = True
        for job in range(jobs):
            if pending[job]:
                state.send(job, (sizes[job], pending[job]))
                pending[job], sizes[job] = [], 0
            state.send(job, None)
        while len(state.finished) < jobs:
            state.take(block=True)
            state.check()
        for process in processes:
            process.join()
    except (_JobDied, KeyboardInterrupt) as exc:
        state.take(block=False)  # what was answered before the jobs stop (they ignore SIGINT)
        for inbox in inboxes:
            inbox.cancel_join_thread()  # batches no job will take: do not wait at exit to send them
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()
        unknown = sorted(
            {n for lines_of in state.outstanding for n in lines_of} | {n for b in pending for n, _ in b}
        )
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
        log.warning("bulk_import_stopped", reason=reason, unknown=len(unknown), last_read=last_read)
        _flush(state, write)
        unread = "" if read_all else f"; lines after {last_read} were not read"
        raise ImportIncomplete(reason + unread, unknown) from None
    _flush(state, write)


def _flush(state: _Jobs, write: Callable[[LineResult], None]) -> None:
    """What is left after a gap (lines without a result), in line order."""
    state.write_ready()
    for line in sorted(state.done):
        write(state.done.pop(line))
