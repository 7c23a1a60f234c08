"""Waking the delivery workers of every process when work is queued (PostgreSQL LISTEN/NOTIFY).

Why: a worker that finds nothing to claim sleeps ``delivery.poll_interval_s`` unless it is
woken. Within one process the API wakes its own worker after an accepted POST; but a
``gateway worker`` beside ``serve``, the other ``serve --processes`` children and every
worker behind ``serve --no-worker`` only saw new work at their next poll - up to half a
second late, and in a peak (the intake committing batch after batch while the workers
drain the queue between them) those pauses were 5-10 % of the round trips a pair of
workers completed. On PostgreSQL the wake now goes to all of them: a ``NOTIFY`` on one
channel, which every process with a worker ``LISTEN``\\ s to.

Best effort by design, never in the way: the notification is sent by a thread of its
own after the work was committed (the request does not wait for it, and many wakes while
one is being sent become one), a lost notification or a dropped connection costs at most
one poll interval, as before, and the listener reconnects on its own. Behind a
transaction-pooling PgBouncer, which cannot ``LISTEN``, set ``delivery.notify_workers``
to false: then each process wakes only its own worker.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import psycopg
import structlog
from sqlalchemy import Engine

from gateway.runtime import Runtime
from gateway.store.database import is_sqlite

log = structlog.get_logger("gateway.delivery")

#: The one channel every gateway process listens to (the payload is not used).
CHANNEL = "gateway_work_queued"
#: As the two connections show in ``pg_stat_activity``.
APPLICATION_NAME = "gateway-wakeups"


def _connect(url: str) -> psycopg.Connection[Any]:
    """A connection of its own (not from the pool), in autocommit.

    It gives up connecting after 5 s (not libpq's 130: the loops must see their stop event)
    and has TCP keepalives, so a connection a firewall dropped silently fails within about a
    minute instead of leaving a listener that hears nothing.
    """
    return psycopg.connect(
        url,
        autocommit=True,
        application_name=APPLICATION_NAME,
        connect_timeout=5,
        keepalives=1,
        keepalives_idle=30,
        keepalives_interval=10,
        keepalives_count=3,
    )


#: How often the loops look at their stop event, and the longest wait before a reconnect.
_TICK_S = 1.0
_MAX_BACKOFF_S = 30.0


class Wakeable(Protocol):
    """A delivery worker, or this channel: what the API wakes after accepting work."""

    def wake(self) -> None: ...


def enabled(runtime: Runtime) -> bool:
    """Whether work queued here wakes the workers of other processes: PostgreSQL, unless turned off."""
    return runtime.settings.delivery.notify_workers and not is_sqlite(runtime.engine)


def libpq_url(engine: Engine) -> str:
    """The engine's database as psycopg connects to it directly (not through the pool)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class WakeupChannel:
    """Wakes the local worker (if any) and, through PostgreSQL, the workers of all processes.

    :meth:`wake` is what the API calls after accepting work; :meth:`threads` are the
    notifier (sends ``NOTIFY`` when woken) and, with a local worker, the listener (wakes
    it on every notification, including this process's own).
    """

    def __init__(self, engine: Engine, local: Wakeable | None) -> None:
        self._url = libpq_url(engine)
        self.local = local
        self._pending = threading.Event()

    def wake(self) -> None:
        if self.local is not None:
            self.local.wake()
        self._pending.set()

    def threads(self, stop: threading.Event) -> list[threading.Thread]:
        """The threads to start beside the process's worker; they end when ``stop`` is set."""
        threads = [
            threading.Thread(target=self.notify_loop, args=(stop,), name="wakeup-notifier", daemon=True)
        ]
        if self.local is not None:
            threads.append(listener_thread(self._url, self.local, stop))
        return threads

    def notify_loop(self, stop: threading.Event) -> None:
        """Send one ``NOTIFY`` per burst of wakes until ``stop``; reconnect when the connection fails."""
        connection: psycopg.Connection[Any] | None = None
        failures = 0
        try:
            while not stop.is_set():
                if not self._pending.wait(_TICK_S):
                    continue
                self._pending.clear()
                try:
                    if connection is None or connection.closed:
                        connection = _connect(self._url)
                    connection.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
                    failures = 0
                except Exception as exc:  # best effort: nothing may end the loop
                    failures += 1
                    if failures == 1:  # once per outage, not per wake
                        log.warning("wakeup_notify_failed", error=type(exc).__name__)
                    if connection is not None:
                        connection.close()
                    connection = None
                    stop.wait(_backoff(failures))
        finally:
            if connection is not None:
                connection.close()


def listener_thread(url: str, worker: Wakeable, stop: threading.Event) -> threading.Thread:
    return threading.Thread(target=listen_loop, args=(url, worker, stop), name="wakeup-listener", daemon=True)


def listen_loop(url: str, worker: Wakeable, stop: threading.Event) -> None:
    """Wake ``worker`` on every notification until ``stop``; reconnect when the connection fails.

    After each (re)connect it wakes the worker once: whatever was queued while nobody was
    listening is claimed now, not at the next poll. The back-off is reset only once a
    connection has stayed up a while, so one that the server drops right after connecting
    is retried ever more slowly, not every half second.
    """
    failures = 0
    while not stop.is_set():
        try:
            with _connect(url) as connection:
                connection.execute(f"LISTEN {CHANNEL}")
                if failures:
                    log.info("wakeup_listener_reconnected")
                worker.wake()
                while not stop.is_set():
                    for _notification in connection.notifies(timeout=_TICK_S):
                        worker.wake()
                    failures = 0  # up for a whole tick
        except Exception as exc:  # best effort: nothing may end the loop
            failures += 1
            if failures == 1:
                log.warning("wakeup_listener_disconnected", error=type(exc).__name__)
            stop.wait(_backoff(failures))


def _backoff(failures: int) -> float:
    return min(_MAX_BACKOFF_S, 0.5 * 2.0 ** min(failures - 1, 6))
