"""A Jepsen-style set run: N distinct decisions in, under faults; every one must come out.

The run owns everything it breaks. It creates a private PostgreSQL cluster
(:mod:`tests.faults.pg_cluster`), starts the gateway's API (no embedded worker), the
mock GGk with faults on, and delivery workers - each a process of its own - then:

1. submits N distinct beschikkingen (one JW301 each) from a few threads, each POST
   retried with its ``Idempotency-Key`` until it is answered 201 or refused;
2. meanwhile a chaos thread SIGKILLs a random worker at random moments (starting a
   replacement at once) and crashes PostgreSQL once (``pg_ctl stop -m immediate``);
3. heals - faults off, no more kills - and waits until every accepted message is settled.

Then it reads the database and the mock's ledger and reports: lost (accepted messages
not answered), stuck (``sending`` with an expired lease), re-sends the receiver saw
and whether each carried its original's referentienummer, and whether every retour
was matched to the message it answers (and processed once, though some were sent twice).

Used by ``tests/faults/test_no_message_lost.py`` (small N) and ``bench/fault_run.py``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from gateway.api_keys import ALL_SCOPES, create_client
from gateway.bsn import passes_elfproef
from gateway.store.migrate import upgrade
from gateway.store.tables import Message, MessageState
from tests.conftest import PROJECT_ROOT, TEST_API_KEY, beschikking_body
from tests.faults.pg_cluster import PrivateCluster, private_cluster
from tests.faults.set_report import Report, check
from tests.live_server import free_port

AANBIEDERS = ("99990001", "99990002", "99990003", "99990004", "99990005")
TERMINAL = (MessageState.ANSWERED, MessageState.REJECTED, MessageState.PARKED, MessageState.EXPIRED)

#: The weather of a run: every fault the mock has, none of them permanent (a permanent
#: refusal parks a message for an operator, which is correct - and not what is measured here).
DEFAULT_FAULTS: dict[str, Any] = {
    "error_5xx": 0.05,
    "statuses": [500, 502, 503, 504],
    "ggk_error": 0.04,
    "ggk_codes": ["IB103"],
    "timeout": 0.03,
    "drop": 0.03,
    "slow": 0.05,
    "slow_s": 0.2,
    "duplicate_retour": 0.1,
}


@dataclass
class RunConfig:
    n: int = 60
    workers: int = 2
    seed: int = 20261129
    faults: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_FAULTS))
    #: A worker is killed every ``kill_every_s`` (uniform) while the faults run.
    kill_every_s: tuple[float, float] = (2.0, 4.0)
    #: Chaos lasts at least this long, and at least until every decision is submitted.
    min_chaos_s: float = 6.0
    #: After the last submission, chaos waits at most this long for the deliveries to catch up.
    max_chaos_after_submit_s: float = 120.0
    #: PostgreSQL crashes once this share of the decisions has been accepted.
    crash_postgres_at: float = 0.4
    submit_threads: int = 4
    submit_timeout_s: float = 120.0
    heal_timeout_s: float = 90.0
    #: Longer than a send may take (``send_timeout_s``), as in production: a lease that ran
    #: out under a live send would let a second worker send the same message meanwhile.
    lease_s: float = 6.0
    #: Generous for a busy 2-core machine: a timeout is a fault to inject, not to suffer.
    send_timeout_s: float = 3.0
    #: More than ``send_timeout_s``: the worker gives up first, the mock has the message.
    fault_timeout_s: float = 4.0
    worker_concurrency: int = 4
    #: The aanbieder answers this long after taking a message in: later than a re-send after
    #: a timeout or a dropped connection, so those re-sends happen and meet IB016.
    retour_delay_s: float = 1.5
    batch_size: int = 20


def range_bsns(count: int) -> list[str]:
    """``count`` distinct BSNs from the test range 999900006-999999990 passing the 11-proef."""
    found: list[str] = []
    number = 999900006
    while len(found) < count:
        if number > 999999990:
            raise ValueError(f"the test range holds fewer than {count} valid BSNs")
        if passes_elfproef(str(number)):
            found.append(str(number))
        number += 1
    return found


def decision(index: int, bsn: str, run_id: str) -> dict[str, Any]:
    body = beschikking_body(beschikkingnummer=f"F{run_id}-{index:05d}")
    body["client"] = {**body["client"], "bsn": bsn}  # type: ignore[dict-item]
    product = dict(body["producten"][0])  # type: ignore[index]
    product["aanbieder_agb"] = AANBIEDERS[index % len(AANBIEDERS)]
    body["producten"] = [product]
    return body


# --- processes ------------------------------------------------------------------------------------


class Processes:
    """The run's child processes, each logging to its own file; all ended on close."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.workers: list[subprocess.Popen[bytes]] = []
        self.others: list[subprocess.Popen[bytes]] = []
        self._started = 0
        self._logs: dict[int, Path] = {}
        self._lock = threading.Lock()

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        try:
            return subprocess.Popen(
                [sys.executable, *args],
                cwd=PROJECT_ROOT,
                env=env or self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()

    def start_api(self) -> None:
        self.others.append(self._spawn("api", ["-m", "tests.faults.api_only"]))

    def start_mock(self, port: int, callback_url: str, faults: dict[str, Any], retour_delay_s: float) -> None:
        args = ["-m", "mocks.ggk", "--port", str(port), "--callback-url", callback_url]
        args += ["--retour-delay", str(retour_delay_s), "--callback-attempts", "400"]
        args += ["--callback-backoff", "0.05"]
        args += ["--callback-backoff-max", "0.5", "--faults", json.dumps(faults)]
        env = {**self.env, "GATEWAY_LOG_LEVEL": "WARNING"}
        self.others.append(self._spawn("mock", args, env))

    def start_worker(self) -> subprocess.Popen[bytes]:
        with self._lock:
            self._started += 1
            name = f"worker-{self._started}"
            env = {**self.env, "GATEWAY_LOG_LEVEL": "INFO"}  # its start line says it is ready
            process = self._spawn(name, ["-c", "from gateway.cli import app; app()", "worker"], env)
            self.workers.append(process)
            self._logs[process.pid] = self.workdir / f"{name}.log"
            return process

    def _working(self, process: subprocess.Popen[bytes]) -> bool:
        """Alive and past its start-up (killing a worker that is still importing proves nothing)."""
        if process.poll() is not None:
            return False
        with self._logs[process.pid].open("rb") as log:
            return b"delivery_worker_started" in log.read(65536)

    def wait_working(self, count: int, timeout_s: float = 120.0) -> None:
        """Until ``count`` workers are past their start-up (imports take a while on a busy machine)."""
        deadline = time.monotonic() + timeout_s
        while sum(self._working(p) for p in list(self.workers)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {count} workers started within {timeout_s} s")
            time.sleep(0.1)

    def kill_random_worker(self, rng: random.Random, spare: int) -> bool:
        """SIGKILL one working worker and start its replacement.

        Only while more than ``spare`` are working: a crash takes one worker, not the
        service (a replacement may take many seconds to import on a busy machine).
        ``False`` when there was none to spare.
        """
        with self._lock:
            working = [p for p in self.workers if self._working(p)]
        if len(working) <= spare:
            return False
        victim = rng.choice(working)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        self.start_worker()
        return True

    def close(self) -> None:
        everyone = [*self.workers, *self.others]
        for process in everyone:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in everyone:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _env(workdir: Path, database_url: str, api_port: int, mock_port: int, cfg: RunConfig) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        GATEWAY_SETTINGS_FILE=str(workdir / "no-such-file.env"),
        GATEWAY_DATA_DIR=str(workdir),
        GATEWAY_DATABASE_URL=database_url,
        GATEWAY_PORT=str(api_port),
        GATEWAY_GGK_URL=f"http://127.0.0.1:{mock_port}/ggk/soap",
        GATEWAY_LOG_JSON="true",
        GATEWAY_LOG_LEVEL="WARNING",
        GATEWAY_DELIVERY__LEASE_S=str(cfg.lease_s),
        GATEWAY_DELIVERY__POLL_INTERVAL_S="0.05",
        GATEWAY_DELIVERY__SEND_TIMEOUT_S=str(cfg.send_timeout_s),
        GATEWAY_DELIVERY__CONNECT_TIMEOUT_S="0.5",
        GATEWAY_DELIVERY__CONCURRENCY=str(cfg.worker_concurrency),
        GATEWAY_DELIVERY__BATCH_SIZE=str(cfg.batch_size),
        GATEWAY_RETRY__INITIAL_DELAY_S="0.1",
        GATEWAY_RETRY__MULTIPLIER="2",
        GATEWAY_RETRY__MAX_DELAY_S="1",
        GATEWAY_RETRY__JITTER_S="0.1",
        GATEWAY_RETRY__HORIZON_DAYS="1",
        # The breaker is right to pause a route that keeps failing; a run measures loss, not
        # patience, so its pauses are short.
        GATEWAY_DELIVERY__CIRCUIT_COOL_DOWN_S="1",
    )
    return env


def _wait_http(url: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up within {timeout_s} s")
        time.sleep(0.1)


# --- the run ---------------------------------------------------------------------------------------


@contextmanager
def _database(cluster: PrivateCluster) -> Iterator[str]:
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql("CREATE DATABASE gateway")
    admin.dispose()
    url = cluster.url("gateway")
    upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        create_client(session, "fault-run", list(ALL_SCOPES), datetime.now(UTC), key=TEST_API_KEY)
    engine.dispose()
    yield url


class _Submitter:
    """POSTs decisions, each retried under its Idempotency-Key until answered for good."""

    def __init__(self, api_url: str, run_id: str, deadline_s: float, abort: threading.Event) -> None:
        """``deadline_s``: for the whole submission - an API that keeps failing ends the run."""
        self.abort = abort
        self.api_url = api_url
        self.run_id = run_id
        self.deadline_s = deadline_s
        self.deadline = time.monotonic() + deadline_s
        self.accepted: dict[int, list[int]] = {}
        self.refused: list[str] = []
        self.lock = threading.Lock()
        self._local = threading.local()
        self._clients: list[httpx.Client] = []

    def _client(self) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.api_url, timeout=30)
            self._local.client = client
            with self.lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def submit(self, index: int, body: dict[str, Any]) -> None:
        headers = {"X-API-Key": TEST_API_KEY, "Idempotency-Key": f"fault-{self.run_id}-{index}"}
        while not self.abort.is_set():
            try:
                response = self._client().post("/api/v1/beschikkingen", json=body, headers=headers)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 201:
                with self.lock:
                    self.accepted[index] = [b["id"] for b in response.json()["berichten"]]
                return
            if response is not None and response.status_code < 500 and response.status_code != 429:
                with self.lock:
                    self.refused.append(f"{index}: {response.status_code} {response.text[:300]}")
                return
            if time.monotonic() > self.deadline:
                with self.lock:
                    status = response.status_code if response is not None else "no answer"
                    self.refused.append(f"{index}: still failing {self.deadline_s} s into the run ({status})")
                return
            time.sleep(0.2)


def run(
    cfg: RunConfig, workdir: Path, *, progress: bool = False, abort: threading.Event | None = None
) -> Report:
    """Run the whole experiment in ``workdir`` (logs stay there) and return its report.

    Setting ``abort`` (a signal handler may) cuts the run short; every process it started
    and the cluster are stopped all the same.
    """
    abort = abort or threading.Event()
    rng = random.Random(cfg.seed)
    report = Report(n=cfg.n)
    run_id = uuid.uuid4().hex[:6].upper()
    bsns = range_bsns(cfg.n)
    t_start = time.monotonic()
    api_port, mock_port, pg_port = free_port(), free_port(), free_port()
    faults = {**cfg.faults, "seed": cfg.seed, "timeout_s": cfg.fault_timeout_s}

    def say(text: str) -> None:
        if progress:
            print(f"[{time.monotonic() - t_start:6.1f} s] {text}", flush=True)

    with ExitStack() as stack:
        cluster = stack.enter_context(private_cluster(pg_port))
        database_url = stack.enter_context(_database(cluster))
        processes = Processes(workdir, _env(workdir, database_url, api_port, mock_port, cfg))
        stack.callback(processes.close)
        api_url, mock_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{mock_port}"
        processes.start_api()
        processes.start_mock(mock_port, f"{api_url}/ggk/soap", faults, cfg.retour_delay_s)
        for _ in range(cfg.workers):
            processes.start_worker()
        _wait_http(f"{api_url}/health")
        _wait_http(f"{mock_url}/_mock/health")
        processes.wait_working(cfg.workers)
        report.setup_s = time.monotonic() - t_start
        say(f"cluster on {pg_port}, API on {api_port}, mock on {mock_port}, {cfg.workers} workers")

        submitter = _Submitter(api_url, run_id, cfg.submit_timeout_s, abort)
        stack.callback(submitter.close)
        stop_chaos = threading.Event()
        crash_after = max(1, int(cfg.n * cfg.crash_postgres_at))

        def chaos() -> None:
            while not stop_chaos.is_set():
                if report.postgres_crashes == 0 and len(submitter.accepted) >= crash_after:
                    say("crashing PostgreSQL")
                    report.postgres_down_s = cluster.restart_after_crash(down_s=1.0)
                    report.postgres_crashes += 1
                    say(f"PostgreSQL back after {report.postgres_down_s:.1f} s")
                    continue
                if stop_chaos.wait(rng.uniform(*cfg.kill_every_s)):
                    break
                if processes.kill_random_worker(rng, spare=min(1, cfg.workers - 1)):
                    report.kills += 1

        chaos_thread = threading.Thread(target=chaos, name="chaos", daemon=True)
        t_submit = time.monotonic()
        chaos_thread.start()
        with ThreadPoolExecutor(cfg.submit_threads, thread_name_prefix="submit") as pool:
            futures = [pool.submit(submitter.submit, i, decision(i, bsns[i], run_id)) for i in range(cfg.n)]
            for done, future in enumerate(futures, 1):
                future.result()
                if progress and done % 500 == 0:
                    say(f"submitted {done}/{cfg.n}")
        report.submit_s = time.monotonic() - t_submit
        say(f"submitted {cfg.n} in {report.submit_s:.1f} s ({len(submitter.accepted)} accepted)")
        # Chaos goes on until every message has met the weather at least once (the mock has
        # drawn a fault - or none - for N sends) and PostgreSQL has crashed, within limits.
        t_submitted = time.monotonic()
        while not abort.is_set() and time.monotonic() - t_submitted < cfg.max_chaos_after_submit_s:
            try:
                drawn = httpx.get(f"{mock_url}/_mock/faults", timeout=30).json()["drawn"]
            except httpx.HTTPError:
                drawn = 0  # a busy machine; ask again
            if (
                time.monotonic() - t_submit >= cfg.min_chaos_s
                and report.postgres_crashes
                and drawn >= len(submitter.accepted)
            ):
                break
            time.sleep(0.5)
        stop_chaos.set()
        chaos_thread.join(timeout=60)

        # Heal: no more faults, no more kills (every killed worker was replaced at once).
        httpx.delete(f"{mock_url}/_mock/faults", timeout=60).raise_for_status()
        say("healed")
        t_heal = time.monotonic()
        engine = create_engine(database_url, pool_pre_ping=True)
        stack.callback(engine.dispose)
        message_ids = sorted(i for ids in submitter.accepted.values() for i in ids)
        while True:
            with Session(engine) as session:
                open_count = session.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.id.in_(message_ids), Message.state.not_in(TERMINAL))
                )
            if progress:
                say(f"waiting: {open_count} of {len(message_ids)} not settled")
            if not open_count or abort.is_set() or time.monotonic() - t_heal > cfg.heal_timeout_s:
                break
            time.sleep(0.5 if not progress else 2.0)
        report.settle_s = time.monotonic() - t_heal
        if abort.is_set():
            raise RuntimeError("the run was aborted; no report")
        # Callbacks still in flight (duplicate retours) get a moment to arrive.
        time.sleep(1.0)

        report.accepted = len(submitter.accepted)
        report.refused = submitter.refused
        fault_state = httpx.get(f"{mock_url}/_mock/faults", timeout=60).json()
        report.faults_injected = {k: v for k, v in fault_state["injected"].items() if v}
        report.sends_under_faults = fault_state["drawn"]
        ledger = httpx.get(f"{mock_url}/_mock/received", timeout=60).json()
        stats = httpx.get(f"{mock_url}/_mock/stats", timeout=60).json()
        check(report, engine, message_ids, ledger, stats)
    report.total_s = time.monotonic() - t_start
    return report
