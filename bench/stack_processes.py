"""Shared by the benchmarks: real gateway, worker and mock processes on loopback.

Not a benchmark itself. ``running_processes`` starts ``gateway mocks`` (retour delay 0),
``gateway serve`` (API + one delivery worker) and ``workers - 1`` extra ``gateway worker``
processes - or, with ``serve_worker=False``, ``gateway serve --no-worker`` (the API alone)
and ``workers`` ``gateway worker`` processes beside it - against a throw-away database - a
PostgreSQL database created for the run and dropped after it, or a SQLite file in a
temporary folder - and stops them all at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GATEWAY = str(Path(sys.executable).with_name("gateway"))
ADMIN_URL = os.environ.get("GATEWAY_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def test_bsns(count: int) -> list[str]:
    """``count`` BSNs for ``decision`` number 0..count-1: the 9,091 test BSNs, repeated."""
    found: list[str] = []
    number = 999900006
    while number <= 999999990:
        digits = str(number)
        total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - int(digits[8])
        if total % 11 == 0:
            found.append(digits)
        number += 1
    return [found[n % len(found)] for n in range(count)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def throwaway_database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="gw-bench-")
        try:
            yield f"sqlite:///{Path(folder) / 'gateway.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    admin_url = make_url(ADMIN_URL).set(drivername="postgresql+psycopg")
    name = f"gw_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Processes:
    gateway_url: str
    database_url: str
    gateway_pid: int
    worker_pids: list[int]
    mock_pid: int

    def serve_pids(self) -> list[int]:
        """The serve process and, with ``--processes N``, its forked children."""
        children = Path(f"/proc/{self.gateway_pid}/task/{self.gateway_pid}/children").read_text().split()
        return [self.gateway_pid, *(int(pid) for pid in children)]

    def cpu_seconds(self, *pids: int) -> float:
        """User + system CPU the processes used so far (from /proc): independent of the neighbours' load.

        Without ``pids``: the serve process(es) and the extra workers.
        """
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in pids or (*self.serve_pids(), *self.worker_pids):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    @staticmethod
    def postgres_cpu_seconds() -> float:
        """CPU of the whole local PostgreSQL: its live processes plus the backends already reaped.

        A backend's CPU moves into the postmaster's ``cutime``/``cstime`` when it exits, so the
        sum over live ``postgres`` processes plus those two fields is monotonic across a run.
        """
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                comm_and_rest = (entry / "stat").read_text()
            except OSError:
                continue
            comm, rest = comm_and_rest.split("(", 1)[1].rsplit(")", 1)
            if comm not in ("postgres", "postmaster"):
                continue
            fields = rest.split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            if fields[1] == "1":  # the postmaster: its reaped children's CPU too
                total += (int(fields[13]) + int(fields[14])) / ticks
        return total

    def peak_rss_mb(self, pid: int | None = None) -> float:
        """VmHWM: the process's peak resident set size so far; by default the largest serve process."""
        if pid is None:
            return max(self.peak_rss_mb(serve_pid) for serve_pid in self.serve_pids())
        status = Path(f"/proc/{pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def _wait_for(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout_s} s")


@contextmanager
def running_processes(
    backend: str,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    serve_worker: bool = True,
    api_processes: int = 1,
) -> Iterator[Processes]:
    gateway_port, mock_port = free_port(), free_port()
    with throwaway_database(backend) as database_url, tempfile.TemporaryDirectory() as data_dir:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update(
            {
                "GATEWAY_DATABASE_URL": database_url,
                "GATEWAY_DATA_DIR": data_dir,
                "GATEWAY_SETTINGS_FILE": str(Path(data_dir) / "absent.env"),
                "GATEWAY_PORT": str(gateway_port),
                "GATEWAY_MOCK_PORT": str(mock_port),
                "GATEWAY_MOCK_RETOUR_DELAY_S": "0",
                "GATEWAY_LOG_LEVEL": "WARNING",
            }
        )
        env.update(extra_env or {})
        logs = log_dir or Path(data_dir)
        started: list[subprocess.Popen[bytes]] = []

        def start(name: str, *args: str) -> subprocess.Popen[bytes]:
            out = (logs / f"{name}.log").open("wb")
            process = subprocess.Popen(  # noqa: S603 - our own entry point
                [GATEWAY, *args], env=env, cwd=data_dir, stdout=out, stderr=subprocess.STDOUT
            )
            started.append(process)
            return process

        try:
            mock = start("mock", "mocks")
            subprocess.run([GATEWAY, "db", "upgrade"], env=env, cwd=data_dir, check=True, capture_output=True)  # noqa: S603
            gateway = start(
                "gateway",
                "serve",
                *(() if serve_worker else ("--no-worker",)),
                *(("--processes", str(api_processes)) if api_processes > 1 else ()),
            )
            first = 2 if serve_worker else 1
            extra = [start(f"worker-{n}", "worker") for n in range(first, workers + 1)]
            _wait_for(f"http://127.0.0.1:{gateway_port}/health")
            _wait_for(f"http://127.0.0.1:{mock_port}/ggk/soap")
            yield Processes(
                f"http://127.0.0.1:{gateway_port}",
                database_url,
                gateway.pid,
                [p.pid for p in extra],
                mock.pid,
            )
        finally:
            for process in reversed(started):
                process.send_signal(signal.SIGTERM)
            for process in reversed(started):
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy so far (all cores; from ``/proc/stat``).

    Beside the per-process figures it shows what they leave out: the bench's own process, the
    kernel's loopback work on behalf of everyone, and anything else running.
    """
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


def decision(bsn: str, nummer: str, agb_index: int) -> dict[str, object]:
    """A valid jeugdhulp beschikking with one product (one JW301).

    ``agb_index`` spreads the decisions over the five mock aanbieders and, past the 9,091
    test BSNs, moves the period a year on per round, so no two overlap (TR302).
    """
    year = 2027 + agb_index // 9091
    return {
        "beschikkingnummer": nummer,
        "wet": "jeugdwet",
        "client": {
            "bsn": bsn,
            "geboortedatum": "2014-03-21",
            "geslacht": "2",
            "naam": {"achternaam": "Jansen", "voornamen": "Sanne", "voorletters": "S"},
            "adres": {
                "straatnaam": "Markt",
                "huisnummer": 1,
                "postcode": "2711AA",
                "plaatsnaam": "Zoetermeer",
            },
        },
        "periode": {"begindatum": f"{year}-01-01", "einddatum": f"{year}-12-31"},
        "verwijzer": {"type": "01", "naam": "Jeugdteam Zoetermeer"},
        "producten": [
            {
                "categorie": "45",
                "code": "45A08",
                "aanbieder_agb": f"9999000{agb_index % 5 + 1}",
                "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
            }
        ],
    }
