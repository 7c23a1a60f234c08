"""Work queued in one process wakes the delivery workers of the others (PostgreSQL LISTEN/NOTIFY).

Real PostgreSQL, real connections: a wake published by one channel reaches a worker
listening through another; both sides come back after their connection is killed; and
end to end, a decision posted to an API process without a worker is delivered by a worker
whose poll interval is a minute - only the notification can have woken it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, select, text

from gateway.api_keys import ALL_SCOPES, create_client
from gateway.app import create_app
from gateway.delivery.wakeups import APPLICATION_NAME, WakeupChannel, libpq_url, listener_thread
from gateway.delivery.worker import DeliveryWorker
from gateway.outbox import PARTY_GGK
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import Message
from gateway.webhooks import PARTY_WEBHOOK
from tests.conftest import AUTH, TEST_API_KEY, _empty_postgres_database, beschikking_body, make_settings
from tests.gateway.test_one_statement_writes import Scripted
from tests.live_server import live_server

pytestmark = pytest.mark.postgres


class Woken:
    """A worker stand-in that counts its wakes (and passes them on to ``forward_to``)."""

    def __init__(self) -> None:
        self.count = 0
        self.first_wake = float("inf")  # time.monotonic() of the first
        self.event = threading.Event()
        self.forward_to: DeliveryWorker | None = None

    def wake(self) -> None:
        self.first_wake = min(self.first_wake, time.monotonic())
        self.count += 1
        self.event.set()
        if self.forward_to is not None:
            self.forward_to.wake()

    def wait(self, timeout_s: float = 10.0) -> bool:
        woken = self.event.wait(timeout_s)
        self.event.clear()
        return woken


class IdleRounds(DeliveryWorker):
    """A real worker that notes when its last round that found nothing ended (then it sleeps)."""

    last_idle_round = 0.0  # time.monotonic() at its end

    def run_once(self) -> int:
        handled = super().run_once()
        if handled == 0:
            self.last_idle_round = time.monotonic()
        return handled


@pytest.fixture
def engine(postgres_database: str) -> Iterator[Engine]:
    engine = create_engine(postgres_database)
    yield engine
    engine.dispose()


@pytest.fixture
def running() -> Iterator[Callable[[list[threading.Thread]], None]]:
    """Start threads that stop (and are joined) at the end of the test."""
    stop = threading.Event()
    started: list[threading.Thread] = []

    def start(threads: list[threading.Thread]) -> None:
        for thread in threads:
            thread.start()
            started.append(thread)

    start.stop = stop  # type: ignore[attr-defined]
    yield start
    stop.set()
    for thread in started:
        thread.join(timeout=10)
        assert not thread.is_alive(), f"{thread.name} did not stop"


def kill_connections(engine: Engine, activity: str) -> int:
    """Terminate the wakeup connections whose current query starts with ``activity``."""
    with engine.connect() as connection:
        return len(
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                    "current_database() AND application_name = :name AND query LIKE :activity"
                ),
                {"name": APPLICATION_NAME, "activity": f"{activity}%"},
            ).all()
        )


def test_a_wake_in_one_process_reaches_the_worker_listening_in_another(
    engine: Engine, running: Callable[[list[threading.Thread]], None]
) -> None:
    stop: threading.Event = running.stop  # type: ignore[attr-defined]
    worker = Woken()
    running([listener_thread(libpq_url(engine), worker, stop)])
    assert worker.wait(), "a listener wakes its worker once when it starts listening"
    publisher = WakeupChannel(engine, local=None)  # an API process without a worker
    running(publisher.threads(stop))

    for _ in range(3):
        publisher.wake()
        assert worker.wait(), "the NOTIFY did not reach the listening worker"


def test_the_listener_and_the_notifier_come_back_after_their_connections_are_killed(
    engine: Engine, running: Callable[[list[threading.Thread]], None]
) -> None:
    stop: threading.Event = running.stop  # type: ignore[attr-defined]
    worker = Woken()
    running([listener_thread(libpq_url(engine), worker, stop)])
    assert worker.wait()
    publisher = WakeupChannel(engine, local=None)
    running(publisher.threads(stop))
    publisher.wake()
    assert worker.wait()

    assert kill_connections(engine, "LISTEN") == 1
    assert worker.wait(), "the listener reconnects and wakes its worker for what it may have missed"
    assert kill_connections(engine, "SELECT pg_notify") == 1
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        # The first wake after the kill may be lost (the notifier then reconnects): best effort.
        publisher.wake()
        if worker.wait(1.0):
            break
    else:
        pytest.fail("no wake got through after the notifier's connection was killed")


def test_a_decision_posted_to_an_api_without_a_worker_wakes_a_worker_that_polls_once_a_minute(
    engine: Engine,
    postgres_database: str,
    tmp_path: Path,
    running: Callable[[list[threading.Thread]], None],
) -> None:
    stop: threading.Event = running.stop  # type: ignore[attr-defined]
    with engine.begin() as connection:
        _empty_postgres_database(connection)  # no one else's queued work for the worker to find
    settings = make_settings(
        postgres_database, tmp_path, delivery={"poll_interval_s": 60, "send_timeout_s": 2}
    )
    api_runtime = Runtime.create(settings)
    with transaction(api_runtime.sessions) as session:
        create_client(session, "test-backoffice", list(ALL_SCOPES), api_runtime.clock.now(), key=TEST_API_KEY)
    worker_runtime = Runtime.create(settings)
    worker = IdleRounds(
        worker_runtime, {PARTY_GGK: Scripted(), PARTY_WEBHOOK: Scripted()}, worker_id="w-poll"
    )
    listening = Woken()  # passes each wake on to the worker; the first: the listener is in
    listening.forward_to = worker
    try:
        running(
            [
                threading.Thread(target=worker.run, args=(stop,), name="slow-worker"),
                listener_thread(libpq_url(worker_runtime.engine), listening, stop),
            ]
        )
        assert listening.wait(), "the listener did not start"
        # The listener's first wake makes the worker look once more; when that round has
        # found nothing, the worker sleeps for its minute and only a NOTIFY can wake it.
        deadline = time.monotonic() + 10
        while worker.last_idle_round <= listening.first_wake and time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker.last_idle_round > listening.first_wake
        with live_server(create_app(api_runtime)) as base:
            response = httpx.post(
                f"{base}/api/v1/beschikkingen", json=beschikking_body(), headers=AUTH, timeout=10
            )
            assert response.status_code == 201, response.text
            deadline = time.monotonic() + 15
            state = None
            while time.monotonic() < deadline:
                with worker_runtime.sessions() as session:
                    state = session.scalar(select(Message.state).where(Message.party == PARTY_GGK))
                if state == "delivered":
                    break
                time.sleep(0.1)
            assert state == "delivered", f"still {state}: the worker was not woken"
    finally:
        stop.set()
        worker.wake()
        api_runtime.close()
        worker_runtime.close()


@pytest.mark.parametrize("notify", [True, False], ids=["notify", "notify_off"])
def test_the_api_wakes_through_postgresql_unless_told_not(
    postgres_database: str, tmp_path: Path, notify: bool
) -> None:
    settings = make_settings(postgres_database, tmp_path, delivery={"notify_workers": notify})
    runtime = Runtime.create(settings)
    try:
        app = create_app(runtime)
        assert isinstance(app.state.worker, WakeupChannel) is notify
    finally:
        runtime.close()


def test_sqlite_wakes_only_the_worker_of_its_one_process(tmp_path: Path) -> None:
    runtime = Runtime.create(make_settings(f"sqlite:///{tmp_path / 'g.db'}", tmp_path))
    try:
        assert create_app(runtime).state.worker is None
    finally:
        runtime.close()
