"""A private PostgreSQL cluster for one fault-injection run: initdb, start, crash, stop.

The set test restarts PostgreSQL; doing that to the shared server would break every
other test session using it. So the run creates its own cluster with the server
binaries of ``/usr/lib/postgresql/*/bin`` in a fresh temporary directory, on a free
loopback port, and deletes it afterwards.

PostgreSQL refuses to run as root. When this process is root the cluster's files are
given to the ``postgres`` OS user and every server command runs as that user; as any
other user it runs as that user. ``fsync`` is off - the run kills processes, not the
machine: a "crash" (``pg_ctl stop -m immediate``) loses the server's memory but not the
kernel's page cache, so crash recovery replays every committed transaction
(``synchronous_commit`` stays on, so a commit is acknowledged only once its WAL is written).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: The OS user that owns and runs the cluster when we are root.
SERVER_USER = "postgres"


class ClusterUnavailableError(RuntimeError):
    """No PostgreSQL server binaries, or no user that may run them: why, in words."""


def find_server_binaries() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb`` and ``pg_ctl``."""
    candidates = []
    for bin_dir in Path("/usr/lib/postgresql").glob("*/bin"):
        if (bin_dir / "initdb").is_file() and (bin_dir / "pg_ctl").is_file():
            version = bin_dir.parent.name
            candidates.append((int(version) if version.isdigit() else 0, bin_dir))
    if not candidates:
        on_path = shutil.which("initdb")
        if on_path and shutil.which("pg_ctl"):
            return Path(on_path).resolve().parent
        raise ClusterUnavailableError(
            "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin"
        )
    return max(candidates)[1]


def _server_user() -> str | None:
    """Who runs the server: ``None`` = this process's user; as root, the ``postgres`` user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ClusterUnavailableError(
            f"running as root and there is no {SERVER_USER!r} OS user to run PostgreSQL as"
        ) from None
    return SERVER_USER


@dataclass
class PrivateCluster:
    bin_dir: Path
    root: Path
    port: int
    user: str | None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout_s: float = 60) -> None:
        result = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            user=self.user,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()[-500:]}")

    def initdb(self) -> None:
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB"
        )
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options, "-w", "start")

    def crash(self) -> None:
        """Stop as a crash would: no checkpoint, every connection cut (``-m immediate``)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def restart_after_crash(self, down_s: float = 1.0) -> float:
        """Crash, stay down ``down_s``, start again (crash recovery); the seconds it was down."""
        started = time.monotonic()
        self.crash()
        time.sleep(down_s)
        self.start()
        return time.monotonic() - started


@contextmanager
def private_cluster(port: int) -> Iterator[PrivateCluster]:
    """A running private cluster on ``port``; stopped and deleted afterwards.

    Raises :class:`ClusterUnavailableError` when it cannot be made here.
    """
    bin_dir = find_server_binaries()
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="gw-faults-pg-"))
    try:
        if user is not None:
            record = pwd.getpwnam(user)
            os.chown(root, record.pw_uid, record.pw_gid)
        cluster = PrivateCluster(bin_dir, root, port, user)
        cluster.initdb()
        cluster.start()
        try:
            yield cluster
        finally:
            try:
                cluster.stop()
            except (RuntimeError, subprocess.TimeoutExpired):
                cluster.crash()
    finally:
        shutil.rmtree(root, ignore_errors=True)
