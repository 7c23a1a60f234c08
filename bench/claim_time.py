"""Claim time with 10,000 and with 1,000,000 finished messages in the outbox (issue 7, bench 6).

Goal: claiming the next batch costs the same however much history there is - with a
million finished messages within 2x of the time with ten thousand.

    .venv/bin/python bench/claim_time.py                       # PostgreSQL and SQLite
    .venv/bin/python bench/claim_time.py --backend postgresql --sizes 10000,1000000

PostgreSQL: a throw-away database is created on ``GATEWAY_BENCH_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``, used only to create and drop it)
and dropped at the end. SQLite: a temporary file. The finished messages are inserted in
bulk (``INSERT … SELECT generate_series`` / a recursive CTE), then ``--queued`` queued
messages across five routes; each timed round is what the worker does before sending:
rescue expired leases, then claim a batch of 20 (the claimed rows are put back untimed).
Prints the median and 95th percentile per round for each size, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, text, update
from sqlalchemy.engine import make_url

from gateway.delivery.worker import DeliveryWorker
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store.database import transaction
from gateway.store.migrate import upgrade
from gateway.store.tables import Message, MessageState

ADMIN_URL = os.environ.get("GATEWAY_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
COLUMNS = (
    "party, route, message_type, operation, law, state, sender, receiver, referentienummer, "
    "bericht_identificatie, payload, wire_body, attempts, possibly_delivered, created_at, updated_at"
)


def _finished_rows_sql(dialect: str, start: int, stop: int) -> str:
    """Finished (answered) messages ``start..stop-1`` with small bodies, in one statement."""
    if dialect == "postgresql":
        return (
            f"INSERT INTO messages ({COLUMNS}) SELECT 'ggk', 'ggk:9999000' || (i % 5 + 1), 'JW301', "  # noqa: S608 - integers and constants only
            "'ggk_Di01', 'jeugdwet', 'answered', '0637', '9999000' || (i % 5 + 1), "
            "'h-' || lpad(i::text, 34, '0'), i::text, '\\x3c702f3e'::bytea, '\\x3c702f3e'::bytea, 1, false, "
            "now() - interval '30 days', now() - interval '30 days' "
            f"FROM generate_series({start}, {stop - 1}) AS i"
        )
    return (
        f"WITH RECURSIVE seq(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM seq WHERE i < {stop - 1}) "  # noqa: S608 - integers and constants only
        f"INSERT INTO messages ({COLUMNS}) SELECT 'ggk', 'ggk:9999000' || (i % 5 + 1), 'JW301', "
        "'ggk_Di01', 'jeugdwet', 'answered', '0637', '9999000' || (i % 5 + 1), "
        "'h-' || printf('%034d', i), CAST(i AS TEXT), X'3c702f3e', X'3c702f3e', 1, 0, "
        "datetime('now', '-30 days'), datetime('now', '-30 days') FROM seq"
    )


def _add_queued(engine: Engine, count: int) -> None:
    dialect = engine.dialect.name
    with engine.begin() as connection:
        for n in range(count):
            connection.execute(
                text(
                    f"INSERT INTO messages ({COLUMNS}, next_attempt_at) VALUES ('ggk', :route, 'JW301', "  # noqa: S608 - integers and constants only
                    "'ggk_Di01', 'jeugdwet', 'queued', '0637', :receiver, :ref, :ident, :body, :body, 0, "
                    f"{'false' if dialect == 'postgresql' else '0'}, :now, :now, :now)"
                ),
                {
                    "route": f"ggk:9999000{n % 5 + 1}",
                    "receiver": f"9999000{n % 5 + 1}",
                    "ref": str(uuid.uuid4()),
                    "ident": f"q{n}",
                    "body": b"<p/>",
                    "now": _naive_utc_now(),
                },
            )


def _naive_utc_now() -> object:
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(tzinfo=None)


def _fill_to(engine: Engine, have: int, want: int) -> None:
    step = 200_000
    for start in range(have, want, step):
        with engine.begin() as connection:
            connection.execute(text(_finished_rows_sql(engine.dialect.name, start, min(want, start + step))))
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text("ANALYZE messages" if engine.dialect.name == "postgresql" else "ANALYZE"))


def _time_rounds(runtime: Runtime, rounds: int) -> list[float]:
    worker = DeliveryWorker(runtime, {}, worker_id="bench-claimer")
    timings: list[float] = []
    try:
        for _ in range(rounds):
            t0 = time.perf_counter()
            worker.rescue_expired_leases()
            claimed = worker.claim(20)
            timings.append(time.perf_counter() - t0)
            assert claimed, "nothing claimed: the queued messages are missing"
            with transaction(runtime.sessions) as session:
                session.execute(
                    update(Message)
                    .where(Message.id.in_([c.id for c in claimed]))
                    .values(state=MessageState.QUEUED, lease_owner=None, lease_expires_at=None)
                )
    finally:
        worker.close()
    return timings


def run(url: str, sizes: list[int], queued: int, rounds: int) -> dict[int, list[float]]:
    upgrade(url)
    settings = Settings(_env_file=None, database_url=url, log_level="WARNING")
    runtime = Runtime.create(settings)
    results: dict[int, list[float]] = {}
    try:
        _add_queued(runtime.engine, queued)
        have = 0
        for size in sizes:
            t0 = time.perf_counter()
            _fill_to(runtime.engine, have, size)
            have = size
            print(f"  {size:>9,} finished messages inserted in {time.perf_counter() - t0:.1f} s", flush=True)
            _time_rounds(runtime, 10)  # warm caches and prepared statements
            results[size] = _time_rounds(runtime, rounds)
    finally:
        runtime.close()
    return results


def report(backend: str, results: dict[int, list[float]]) -> None:
    first = None
    for size, timings in results.items():
        median = statistics.median(timings) * 1000
        p95 = statistics.quantiles(timings, n=20)[-1] * 1000
        first = first or median
        print(
            f"{backend:<10} {size:>9,} finished: rescue+claim(20) median {median:6.2f} ms, "
            f"p95 {p95:6.2f} ms, ratio to smallest {median / first:4.2f}x (goal <= 2x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--queued", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min)")
    if args.backend in ("postgresql", "both"):
        admin_url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg")
        name = f"gw_bench_claim_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            print(f"postgresql: throw-away database {name}")
            url = admin_url.set(database=name).render_as_string(hide_password=False)
            report("postgresql", run(url, sizes, args.queued, args.rounds))
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            print("sqlite: temporary file")
            report("sqlite", run(f"sqlite:///{Path(folder) / 'bench.db'}", sizes, args.queued, args.rounds))


if __name__ == "__main__":
    main()
