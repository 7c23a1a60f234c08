"""Bulk intake of 10,000 decisions, accepted durably (issue 7, benches 2 and 5).

Goal: >= 1,000 decisions/s accepted (committed) on SQLite and PostgreSQL; peak RSS of
the gateway process <= 300 MB.

    .venv/bin/python bench/bulk_intake.py                      # both backends, 10,000 lines
    .venv/bin/python bench/bulk_intake.py --backend postgresql --count 10000

Starts real processes (``gateway serve`` with its delivery worker, ``gateway mocks``
with retour delay 0) on a throw-away database, POSTs one NDJSON file of ``--count``
distinct decisions to ``/api/v1/beschikkingen/bulk`` and times it until the last
result line (every ``accepted`` is committed). The worker delivers meanwhile, as in
production. Then the same file again (all ``duplicate``), and with ``--with-import``
``gateway import`` of a second file. Prints decisions/s, and the gateway's peak RSS (VmHWM).

The gateway's CPU figure includes its delivery worker and the retours it takes in. For
the cost of intake alone, ``--in-process`` stores the same lines with
:func:`gateway.bulk_intake.import_lines` in this process (no HTTP, no worker) and prints
CPU ms and SQL statements per decision:

    .venv/bin/python bench/bulk_intake.py --in-process --count 2000

``gateway import`` alone (no server), with ``--jobs N`` worker processes (PostgreSQL),
timed from process start to exit; CPU is that of the import and its jobs (not PostgreSQL's):

    .venv/bin/python bench/bulk_intake.py --import-only --backend postgresql --count 10000 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_processes import GATEWAY, decision, load, running_processes, test_bsns, throwaway_database

from gateway.settings import DEV_API_KEY
from gateway.store.migrate import upgrade


def ndjson(bsns: list[str], prefix: str, first: int) -> bytes:
    return b"".join(
        json.dumps(decision(bsns[n], f"{prefix}-{n}", n), separators=(",", ":")).encode() + b"\n"
        for n in range(first, len(bsns))
    )


def post(url: str, body: bytes) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    summary: dict[str, int] = {}
    with (
        httpx.Client(timeout=600) as client,
        client.stream(
            "POST",
            f"{url}/api/v1/beschikkingen/bulk",
            content=body,
            headers={"X-API-Key": DEV_API_KEY, "Content-Type": "application/x-ndjson"},
        ) as response,
    ):
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith('{"summary"'):
                summary = json.loads(line)["summary"]
    return time.perf_counter() - started, summary


def _tree_cpu(root: int, seen: dict[int, float]) -> None:
    """Record utime+stime (s) of ``root`` and every process descended from it, by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    for pid, cpu in times.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            seen[pid] = max(seen.get(pid, 0.0), cpu)


def gateway_import(
    database_url: str, body: bytes, count: int, jobs: int
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run ``gateway import`` of ``body``: (wall s, CPU s of it and its jobs, the process).

    CPU is sampled from /proc every 0.1 s for the import and its descendants (the jobs
    are the fork server's children, so the import's rusage does not hold them): up to
    0.1 s per process may be missed.
    """
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "import.ndjson"
        source.write_bytes(body)
        env = {"GATEWAY_DATABASE_URL": database_url, "GATEWAY_LOG_LEVEL": "WARNING"}
        seen: dict[int, float] = {}
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603
            [GATEWAY, "import", str(source), "--jobs", str(jobs)],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=folder,
        )
        while process.poll() is None:
            _tree_cpu(process.pid, seen)
            time.sleep(0.1)
        took = time.perf_counter() - started
        out, err = process.communicate()
    done = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    print(f"{'':<10} CPU s by process (import first): {[round(seen[pid], 1) for pid in sorted(seen)]}")
    return took, sum(seen.values()), done


def import_only(backend: str, count: int, jobs: int) -> None:
    """``gateway import`` of ``count`` distinct decisions into an empty database, nothing else running."""
    bsns = test_bsns(count)
    body = ndjson(bsns, "IMPORT", 0)
    with throwaway_database(backend) as url:
        upgrade(url)
        took, cpu, done = gateway_import(url, body, count, jobs)
    print(
        f"{backend:<10} gateway import --jobs {jobs} {count:,} lines: {took:6.2f} s wall (process "
        f"start included), {count / took:7.0f} decisions/s (goal >= 1000); CPU {cpu:.1f} s = "
        f"{cpu / count * 1000:.2f} ms per decision (import and jobs; PostgreSQL not counted): "
        f"{done.stdout.strip().splitlines()[-1:]} exit {done.returncode}",
        flush=True,
    )


def run(backend: str, count: int, with_import: bool, delivery: str = "in-serve", jobs: int = 1) -> None:
    bsns = test_bsns(2 * count)
    first, second = ndjson(bsns[:count], "BULK", 0), ndjson(bsns, "IMPORT", count)
    workers, serve_worker = {"in-serve": (1, True), "separate": (1, False), "none": (0, False)}[delivery]
    with running_processes(backend, workers=workers, serve_worker=serve_worker) as stack:
        cpu = stack.cpu_seconds(stack.gateway_pid)
        elapsed, summary = post(stack.gateway_url, first)
        cpu = stack.cpu_seconds(stack.gateway_pid) - cpu
        rate = summary.get("accepted", 0) / elapsed
        print(
            f"{backend:<10} delivery {delivery}: POST bulk {count:,} lines: {elapsed:6.2f} s, "
            f"{rate:7.0f} accepted/s "
            f"(goal >= 1000) {summary}",
            flush=True,
        )
        print(
            f"{'':<10} gateway CPU {cpu:.1f} s = {cpu / count * 1000:.1f} ms per decision (worker delivering "
            f"meanwhile included): {count / cpu:.0f} decisions per CPU-second of the gateway process"
        )
        again, summary = post(stack.gateway_url, first)
        print(f"{backend:<10} same file again: {again:6.2f} s, {count / again:7.0f} lines/s {summary}")
        rss = stack.peak_rss_mb()
        print(f"{backend:<10} gateway process peak RSS during the bulk POSTs: {rss:.0f} MB (goal <= 300)")
        if not with_import:
            return
        took, cpu, done = gateway_import(stack.database_url, second, count, jobs)
        print(
            f"{backend:<10} gateway import --jobs {jobs} {count:,} lines: {took:6.2f} s (process start and "
            f"migration check included), {count / took:7.0f} lines/s, CPU {cpu / count * 1000:.2f} ms "
            f"per decision: {done.stdout.strip().splitlines()[-1:]}"
        )


def in_process(backend: str, count: int) -> None:
    """Intake alone: parse and store ``count`` lines in batches, CPU and statements counted."""
    from sqlalchemy import event

    from gateway.bulk_intake import import_lines
    from gateway.log_setup import configure_logging
    from gateway.runtime import Runtime
    from gateway.settings import Settings
    from gateway.store.migrate import upgrade

    bsns = test_bsns(count + 200)
    warm_up = [json.dumps(decision(bsns[n], f"WARM-{n}", n)) for n in range(count, count + 200)]
    lines = [json.dumps(decision(bsns[n], f"BULK-{n}", n)) for n in range(count)]
    with throwaway_database(backend) as url, tempfile.TemporaryDirectory() as data_dir:
        upgrade(url)
        configure_logging("WARNING")
        runtime = Runtime.create(Settings(_env_file=None, database_url=url, data_dir=Path(data_dir)))
        statements = [0]

        @event.listens_for(runtime.engine, "before_cursor_execute")
        def _count(*_args: object) -> None:
            statements[0] += 1

        try:
            list(import_lines(runtime, warm_up, None))  # imports, schema caches, the werkdagen calendar
            statements[0] = 0
            cpu, wall = time.process_time(), time.perf_counter()
            results = [r.status for r in import_lines(runtime, lines, None)]
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            runtime.close()
    print(
        f"{backend:<10} in-process import_lines {count:,} lines: {results.count('accepted'):,} accepted, "
        f"{cpu / count * 1000:.2f} ms CPU and {statements[0] / count:.2f} statements per decision, "
        f"{count / wall:,.0f} decisions/s wall",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument(
        "--delivery",
        choices=["in-serve", "separate", "none"],
        default="in-serve",
        help="where the delivery worker runs: in the serve process (default), a separate "
        "`gateway worker` process (serve --no-worker), or none (intake alone)",
    )
    parser.add_argument(
        "--with-import", action="store_true", help="also time `gateway import` of a second file"
    )
    parser.add_argument(
        "--in-process", action="store_true", help="intake alone, in this process: CPU and statements"
    )
    parser.add_argument("--import-only", action="store_true", help="time `gateway import` alone (no server)")
    parser.add_argument("--jobs", type=int, default=1, help="`gateway import --jobs N` (PostgreSQL)")
    args = parser.parse_args()
    print(load())
    for backend in ("postgresql", "sqlite") if args.backend == "both" else (args.backend,):
        if args.in_process:
            in_process(backend, args.count)
        elif args.import_only:
            import_only(backend, args.count, args.jobs)
        else:
            run(backend, args.count, args.with_import, args.delivery, args.jobs)
    print(load())


if __name__ == "__main__":
    main()
