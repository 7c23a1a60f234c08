"""End-to-end round trips: accepted -> delivered -> retour processed (issue 7, benches 3 and 5).

Goal: >= 300 round trips/s on PostgreSQL with 2 workers (gateway and mock GGk on this
machine, over loopback); reported for 1, 2 and 4 workers and for SQLite (1 worker); peak
RSS of the gateway process <= 300 MB.

    .venv/bin/python bench/round_trips.py                          # PG 1, 2, 4 workers + SQLite
    .venv/bin/python bench/round_trips.py --backend postgresql --workers 2 --count 3000

Real processes: ``gateway mocks`` (``GATEWAY_MOCK_RETOUR_DELAY_S=0``), ``gateway serve``
(API + worker 1) and ``workers - 1`` more ``gateway worker`` processes on a throw-away
database (``--no-serve-worker``: ``gateway serve --no-worker`` and ``workers`` worker
processes beside it, so the API's and the workers' CPU show apart).
``--count`` distinct decisions (one JW301 each) are posted as one NDJSON bulk
request; the clock runs from the first byte posted until the database holds ``--count``
answered messages (the mock aanbieder's JW302 matched and processed). Round trips/s =
count / that time.

Measuring CPU per round trip: ``--split-cpu`` also prints it per process (with
``--no-serve-worker`` the serve process takes the intake and the retours, the workers only
deliver); ``--intake-first`` takes the bulk in while the five routes are paused and only
then starts the clock and the CPU count, so the figures are the round trips' alone:

    .venv/bin/python bench/round_trips.py --backend postgresql --workers 1 --count 1000 \\
        --no-serve-worker --split-cpu --intake-first
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_processes import decision, load, machine_busy_seconds, running_processes, test_bsns

from gateway.settings import DEV_API_KEY


def run(
    backend: str,
    workers: int,
    count: int,
    timeout_s: float,
    serve_worker: bool = True,
    processes: int = 1,
    split_cpu: bool = False,
    intake_first: bool = False,
) -> None:
    body = b"".join(
        json.dumps(decision(bsn, f"RT-{n}", n), separators=(",", ":")).encode() + b"\n"
        for n, bsn in enumerate(test_bsns(count))
    )
    with running_processes(backend, workers, serve_worker=serve_worker, api_processes=processes) as stack:
        engine = create_engine(stack.database_url)
        posted: dict[str, float] = {}

        def post() -> None:
            with httpx.Client(timeout=600) as client:
                response = client.post(
                    f"{stack.gateway_url}/api/v1/beschikkingen/bulk",
                    content=body,
                    headers={"X-API-Key": DEV_API_KEY, "Content-Type": "application/x-ndjson"},
                )
                response.raise_for_status()
            posted["done"] = time.perf_counter()

        routes = [f"ggk:9999000{n}" for n in range(1, 6)]  # decision() spreads over these five
        if intake_first:
            # Hold the routes (as an operator's pause would) while the bulk is taken in, so the
            # CPU counted below is the round trips' alone, not the intake's.
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO route_controls (route, paused, reason, changed_by, changed_at) "
                        "VALUES (:route, true, 'bench', 'bench', CURRENT_TIMESTAMP)"
                    ),
                    [{"route": route} for route in routes],
                )
            post()
        cpu_gateway, cpu_mock = stack.cpu_seconds(), stack.cpu_seconds(stack.mock_pid)
        cpu_serve = stack.cpu_seconds(*stack.serve_pids())
        cpu_postgres = stack.postgres_cpu_seconds()
        cpu_machine = machine_busy_seconds()
        started = time.perf_counter()
        poster = threading.Thread(target=(lambda: None) if intake_first else post)
        poster.start()
        if intake_first:
            posted["done"] = started
            with engine.begin() as connection:
                connection.execute(text("DELETE FROM route_controls"))
        answered = 0
        with engine.connect() as connection:
            while time.perf_counter() - started < timeout_s:
                answered = connection.execute(
                    text("SELECT count(*) FROM messages WHERE state = 'answered'")
                ).scalar_one()
                connection.commit()
                if answered >= count:
                    break
                time.sleep(0.1)  # the count is not free on PostgreSQL: polled ten times a second
        elapsed = time.perf_counter() - started
        poster.join()
        cpu_gateway = stack.cpu_seconds() - cpu_gateway
        cpu_mock = stack.cpu_seconds(stack.mock_pid) - cpu_mock
        cpu_serve = stack.cpu_seconds(*stack.serve_pids()) - cpu_serve
        cpu_postgres = stack.postgres_cpu_seconds() - cpu_postgres
        cpu_machine = machine_busy_seconds() - cpu_machine
        engine.dispose()
        rss = [stack.peak_rss_mb()] + [stack.peak_rss_mb(pid) for pid in stack.worker_pids]
        intake = posted["done"] - started
        layout = ("" if serve_worker else " (serve --no-worker)") + (
            f" (serve --processes {processes})" if processes > 1 else ""
        )
        print(
            f"{backend:<10} workers={workers}{layout}: {answered:,}/{count:,} answered in {elapsed:6.2f} s = "
            f"{answered / elapsed:6.1f} round trips/s (goal >= 300 on PG with 2 workers); intake took "
            f"{intake:.2f} s; peak RSS gateway {rss[0]:.0f} MB"
            + (f", workers {', '.join(f'{r:.0f}' for r in rss[1:])} MB" if rss[1:] else "")
            + " (goal <= 300)",
            flush=True,
        )
        per_trip = (cpu_gateway + cpu_mock) / max(1, answered)
        print(
            f"{'':<10} CPU per round trip: gateway processes {cpu_gateway / max(1, answered) * 1000:.1f} ms, "
            f"mock GGk {cpu_mock / max(1, answered) * 1000:.1f} ms; on 2 otherwise idle cores at most "
            f"~{2 / per_trip:.0f} round trips/s",
            flush=True,
        )
        if split_cpu:
            # Which process spent it: with --no-serve-worker the serve process takes the intake
            # and the retours, the workers only deliver.
            print(
                f"{'':<10} CPU per round trip by process: "
                f"serve {cpu_serve / max(1, answered) * 1000:.2f} ms, "
                f"extra workers {(cpu_gateway - cpu_serve) / max(1, answered) * 1000:.2f} ms, "
                f"mock GGk {cpu_mock / max(1, answered) * 1000:.2f} ms"
                + (
                    f", PostgreSQL (all its processes) {cpu_postgres / max(1, answered) * 1000:.2f} ms"
                    if backend == "postgresql"
                    else ""
                )
                + f"; whole machine {cpu_machine / max(1, answered) * 1000:.2f} ms "
                f"({cpu_machine / elapsed:.2f} of {os.cpu_count()} cores busy)",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to run (PostgreSQL)")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--serve-worker",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run worker 1 inside `gateway serve` (default) or `serve --no-worker` beside N workers",
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="gateway serve --processes N (PostgreSQL only)"
    )
    parser.add_argument(
        "--split-cpu",
        action="store_true",
        help="also print the CPU per round trip of the serve process and of the extra workers apart",
    )
    parser.add_argument(
        "--intake-first",
        action="store_true",
        help="take the bulk in while the routes are paused, then count the round trips' CPU alone",
    )
    args = parser.parse_args()
    print(load())
    if args.backend in ("postgresql", "both"):
        for workers in (int(w) for w in args.workers.split(",")):
            run(
                "postgresql",
                workers,
                args.count,
                args.timeout,
                args.serve_worker,
                args.processes,
                args.split_cpu,
                args.intake_first,
            )
    if args.backend in ("sqlite", "both"):
        run(
            "sqlite",
            1,
            args.count,
            args.timeout,
            args.serve_worker,
            split_cpu=args.split_cpu,
            intake_first=args.intake_first,
        )
    print(load())


if __name__ == "__main__":
    main()
