"""``gateway serve --processes N``: N gateway processes accepting on one listening socket.

Why: a Python process serves its requests under one GIL, so however many cores the
machine has, one ``gateway serve`` stops at one core's worth of API work. With
``--processes N`` the parent binds the listening socket(s) once and forks N children;
each accepts from the same socket (the kernel spreads the connections) and has its own
runtime, connection pool and - unless ``--no-worker`` - delivery worker and overdue
scanner, exactly as N ``gateway serve`` processes behind a load balancer would. That is
the PostgreSQL scale-out set-up, so it needs PostgreSQL: SQLite is one process by design.

The parent only supervises: SIGTERM or SIGINT to it is passed on once to every child
(each shuts down gracefully, as a single ``serve`` does); a child that dies on its own
takes the others down and the parent exits 1, so the service manager restarts the whole
(a half-sized gateway that looks healthy is worse than a restart).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

import structlog

from gateway import tracing

log = structlog.get_logger("gateway.serve")


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound and listening, inheritable by the forked children (as uvicorn would bind it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_children(count: int, child: Callable[[int], None]) -> int:
    """Fork ``count`` children running ``child(index)``; supervise them; the exit code.

    The children get their own process group, so a Ctrl+C in the terminal reaches only
    the parent, which passes SIGTERM on once - a second signal would make uvicorn skip its
    graceful shutdown.
    """
    children: dict[int, int] = {}
    parent = os.getpid()
    # Signals wait until the handlers below are in place: a SIGTERM during the fork loop
    # would otherwise kill the parent and leave the children already forked unsupervised.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        for index in range(count):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child, measured by the CLI test
                _run_child(index, parent, child)
            children[pid] = index
    except BaseException:
        for pid in children:  # a fork failed part-way: do not leave the others running alone
            _signal(pid, signal.SIGTERM)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        raise
    log.info("serve_processes_started", processes=count)

    stopping = False

    def _stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        log.info("serve_processes_stopping", signal=signal.Signals(signum).name)
        for pid in children:
            _signal(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    failed = False
    while children:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
        if pid not in children:
            continue
        index = children.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        if not stopping:
            failed = True
            log.error("serve_process_exited", process=index, exit_code=code)
            _stop(signal.SIGTERM, None)
        elif code != 0:
            failed = True
            log.warning("serve_process_stopped_with_error", process=index, exit_code=code)
    return 1 if failed else 0


_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
_PR_SET_PDEATHSIG = 1


def _run_child(index: int, parent: int, child: Callable[[int], None]) -> NoReturn:
    """The child's whole life: never returns into the parent's code."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    _die_with(parent)
    code = 0
    try:
        child(index)
    except BaseException:
        log.exception("serve_process_failed", process=index)
        code = 1
    finally:
        tracing.shutdown()  # os._exit skips atexit, where the span exporter would flush
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _die_with(parent: int) -> None:
    """Ask the kernel for SIGTERM when the parent dies (kill -9, OOM), so no child keeps the
    port without a supervisor; Linux only, elsewhere the service manager's cgroup does it."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone: nothing to stop
        os.kill(pid, signum)
