"""Single-decision API latency at a steady 100 requests/s (issue 7, bench 4).

Goal: p99 <= 25 ms for ``POST /api/v1/beschikkingen``.

    .venv/bin/python bench/api_latency.py --backend postgresql --rate 100 --seconds 30

Real processes (``gateway serve`` with its worker, ``gateway mocks`` with retour delay
0) on a throw-away database. Open loop: request i is due at start + i/rate whatever the
earlier ones did; a pool of client threads sends them. Latency is measured from the
moment each request was due (so a stalled server is not hidden by a client that waits,
"coordinated omission"), and separately from when it was actually sent. Each request is
a distinct decision (its own client BSN), so the worker delivers and the retours come
back meanwhile, as in production.

``--delivery`` says where that worker runs: ``in-serve`` (default; the single-process
set-up, API and worker share one process and its GIL), ``separate`` (``gateway serve
--no-worker`` plus one ``gateway worker`` process: the PostgreSQL scale-out set-up, here
on the same two cores) or ``none`` (the API alone, nothing delivered: what the API costs
by itself). ``--processes N`` runs ``gateway serve --processes N`` (N API processes on one
socket; PostgreSQL only), each with its own worker unless ``--delivery`` says otherwise.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_processes import decision, load, running_processes, test_bsns

from gateway.settings import DEV_API_KEY

#: Client threads (and kept-alive connections) of the load generator.
THREADS = 32


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def run(backend: str, rate: float, seconds: float, warmup: int, delivery: str, processes: int) -> None:
    total = int(rate * seconds)
    bsns = test_bsns(total + warmup)
    topology = {"in-serve": (1, True), "separate": (1, False), "none": (0, False)}[delivery]
    with running_processes(
        backend, workers=topology[0], serve_worker=topology[1], api_processes=processes
    ) as stack:
        # Every client is made before the clock starts: an httpx.Client costs tens of ms of
        # CPU to build (its SSL context), and 32 of them built in the first second of the
        # measurement held the load generator's GIL long enough to add ~0.5 s to the first
        # few hundred requests - the generator's cost, not the gateway's.
        clients: queue.SimpleQueue[httpx.Client] = queue.SimpleQueue()
        for _ in range(THREADS):
            clients.put(
                httpx.Client(base_url=stack.gateway_url, timeout=30, headers={"X-API-Key": DEV_API_KEY})
            )

        def send(n: int, due: float) -> tuple[float, float, int]:
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            client = clients.get()
            sent = time.perf_counter()
            try:
                body = decision(bsns[n], f"LAT-{n}", n)
                status = client.post("/api/v1/beschikkingen", json=body).status_code
            except httpx.HTTPError:
                status = 0  # no answer within the client's 30 s: counted, not hidden
            done = time.perf_counter()
            clients.put(client)
            return done - due, done - sent, status

        with ThreadPoolExecutor(THREADS) as pool:
            # First requests pay for imports, caches and connections: one alone, then the
            # rest side by side, so every client's connection and the server's database pool
            # are open before the clock starts.
            pool.submit(send, total, time.perf_counter()).result()
            for future in [pool.submit(send, total + n, time.perf_counter()) for n in range(1, warmup)]:
                future.result()
            cpu_before = stack.cpu_seconds()
            api_before = stack.cpu_seconds(*stack.serve_pids())
            mock_before = stack.cpu_seconds(stack.mock_pid)
            start = time.perf_counter() + 0.5
            futures = [pool.submit(send, n, start + n / rate) for n in range(total)]
            results = [f.result() for f in futures]
            # CPU is what a request costs whatever the neighbours do; latency depends on them.
            # The gateway's figure includes its worker delivering these decisions meanwhile.
            gateway_cpu_ms = (stack.cpu_seconds() - cpu_before) * 1000 / total
            api_cpu_ms = (stack.cpu_seconds(*stack.serve_pids()) - api_before) * 1000 / total
            mock_cpu_ms = (stack.cpu_seconds(stack.mock_pid) - mock_before) * 1000 / total
        from_due = [r[0] * 1000 for r in results]
        from_sent = [r[1] * 1000 for r in results]
        statuses = {s: sum(1 for r in results if r[2] == s) for s in {r[2] for r in results}}
        print(
            f"{backend:<10} delivery {delivery}, {processes} serve process(es): {total} requests at "
            f"{rate:.0f}/s: latency from due "
            f"p50 {statistics.median(from_due):5.1f} ms, p95 {percentile(from_due, 0.95):5.1f} ms, "
            f"p99 {percentile(from_due, 0.99):5.1f} ms (goal p99 <= 25); "
            f"from sent p50 {statistics.median(from_sent):5.1f}, p99 {percentile(from_sent, 0.99):5.1f} ms; "
            f"max {max(from_due):.0f} ms; statuses {statuses}; peak RSS {stack.peak_rss_mb():.0f} MB; "
            f"CPU per request: gateway {gateway_cpu_ms:.1f} ms (API + worker), "
            f"of which the serve process(es) "
            f"{api_cpu_ms:.1f} ms; mock GGk {mock_cpu_ms:.1f} ms",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--delivery", choices=["in-serve", "separate", "none"], default="in-serve")
    parser.add_argument(
        "--processes", type=int, default=1, help="gateway serve --processes N (PostgreSQL only)"
    )
    args = parser.parse_args()
    print(load())
    for backend in ("postgresql", "sqlite") if args.backend == "both" else (args.backend,):
        run(backend, args.rate, args.seconds, args.warmup, args.delivery, args.processes)
    print(load())


if __name__ == "__main__":
    main()
