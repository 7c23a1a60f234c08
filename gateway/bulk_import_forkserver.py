"""The fork server that ``gateway import --jobs N`` forks its jobs from.

A module of its own, importing nothing of the gateway, so that the CLI can start the fork
server first thing - before it imports the intake itself - and the two processes import
side by side. :func:`gateway.bulk_import_jobs.run_jobs` calls :func:`start_fork_server`
again; the server is started once per process.

forkserver, not spawn: a spawned job imports the gateway afresh (~1 s CPU here, several
on a slow machine); the fork server imports it once and forks each job from that clean,
single-threaded process (no engine, unlike the CLI process: an engine must not be forked).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
from multiprocessing import forkserver

#: What the fork server imports once, so that no job imports it again. ``__main__`` is the
#: standard entry, but on Python 3.11 the fork server never runs the main script (the
#: main path is not handed over to it); instead each forked job re-runs it as
#: ``__mp_main__``, and for the ``gateway`` console script that is ``from gateway.cli
#: import app`` - hence ``gateway.cli``: imported here, that line costs a job nothing.
#: ``gateway.cli`` itself is light (the API and the console are imported by ``serve``
#: only). The jobs' own code, and what the first batch would otherwise import in every
#: job: the holiday calendars of the werkdagen deadlines (``holidays.countries``, all
#: countries, ~0.15 s) and the PostgreSQL driver (~0.1 s). A name that fails to import is
#: skipped by the fork server without a word: the tests import every one.
PRELOAD = (
    "__main__",
    "gateway.cli",
    "gateway.bulk_import_jobs",
    "holidays.countries",
    "psycopg",
)


def start_fork_server() -> multiprocessing.context.ForkServerContext:
    """The context the jobs start from; call early, so the fork server imports meanwhile."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    forkserver.ensure_running()
    return context
