"""Per-route concurrency caps, the circuit breaker per route, and poison messages.

The real worker against a real database (SQLite and PostgreSQL) on a frozen clock; the
transport is the only stand-in, answering by the payload it is given.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.clock import FrozenClock
from gateway.delivery import circuit
from gateway.delivery.circuit import CircuitState
from gateway.delivery.outcome import Outcome, OutcomeKind
from gateway.delivery.worker import DeliveryWorker
from gateway.outbox import PARTY_GGK, enqueue_ggk_heenbericht
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import Message, MessageState
from tests.conftest import make_settings

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CAP = 3
THRESHOLD = 3
COOL_DOWN_S = 60
DELIVERED = Outcome(OutcomeKind.DELIVERED, 200)
UNAVAILABLE = Outcome(OutcomeKind.RETRYABLE, 503, None, "HTTP 503")
PERMANENT = Outcome(OutcomeKind.PERMANENT, 500, "IB002", "ongeldige ontvanger")


class PayloadTransport:
    """Answers by message: a poisoned one always fails (retryable), a bad one is refused."""

    def __init__(self, default: Outcome = DELIVERED) -> None:
        self.default = default
        self.poison: set[bytes] = set()
        self.bad: set[bytes] = set()
        self.sent: list[bytes] = []
        self._lock = threading.Lock()

    def send(self, wire_body: bytes, *, after_unknown: bool, operation: str = "") -> Outcome:
        with self._lock:
            self.sent.append(wire_body)
        if wire_body in self.poison:
            return UNAVAILABLE
        if wire_body in self.bad:
            return PERMANENT
        return self.default


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def rt(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Runtime]:
    settings = make_settings(
        database_url,
        tmp_path,
        retry={"initial_delay_s": 10, "multiplier": 2, "max_delay_s": 3600, "jitter_s": 0, "horizon_days": 1},
        delivery={
            "lease_s": 60,
            "batch_size": 10,
            "concurrency": 4,
            "route_concurrency": CAP,
            "circuit_failure_threshold": THRESHOLD,
            "circuit_cool_down_s": COOL_DOWN_S,
        },
    )
    runtime = Runtime.create(settings, clock)
    yield runtime
    runtime.close()


MakeWorker = Callable[..., DeliveryWorker]


@pytest.fixture
def make_worker(rt: Runtime) -> Iterator[MakeWorker]:
    workers: list[DeliveryWorker] = []

    def make(transport: PayloadTransport, worker_id: str = "worker-a") -> DeliveryWorker:
        worker = DeliveryWorker(rt, {PARTY_GGK: transport}, worker_id=worker_id)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close()


def enqueue(rt: Runtime, agb: str, count: int = 1) -> list[int]:
    with transaction(rt.sessions) as session:
        return [
            enqueue_ggk_heenbericht(
                session,
                rt,
                functie="JW301",
                law="jeugdwet",
                receiver=agb,
                render_payload=lambda ident: f"<payload id='{ident}'/>".encode(),
                beschikking_id=None,
                bsn_hash=None,
            ).id
            for _ in range(count)
        ]


def wire_bodies(rt: Runtime, ids: list[int]) -> set[bytes]:
    with rt.sessions() as session:
        return set(session.scalars(select(Message.wire_body).where(Message.id.in_(ids))))


def states(rt: Runtime, ids: list[int]) -> list[str]:
    with rt.sessions() as session:
        by_id = dict(session.execute(select(Message.id, Message.state).where(Message.id.in_(ids))).all())
    return [by_id[i] for i in ids]


def sending_per_route(rt: Runtime) -> dict[str, int]:
    with rt.sessions() as session:
        rows = session.execute(
            select(Message.route, func.count())
            .where(Message.state == MessageState.SENDING)
            .group_by(Message.route)
        ).all()
    return {route: count for route, count in rows}


# -- per-route concurrency caps ------------------------------------------------------------------------


def test_a_route_never_has_more_than_its_cap_claimed(rt: Runtime, make_worker: MakeWorker) -> None:
    busy = enqueue(rt, "99990001", 6)
    quiet = enqueue(rt, "99990002", 2)
    worker = make_worker(PayloadTransport())
    claimed = worker.claim(10)
    # The busy route's backlog is older, yet it gets only its cap and the quiet route is not starved.
    assert sorted(c.id for c in claimed) == sorted(busy[:CAP] + quiet)
    assert sending_per_route(rt) == {"ggk:99990001": CAP, "ggk:99990002": 2}
    assert worker.claim(10) == []  # both routes at their cap (the quiet one has nothing left)


def test_the_cap_counts_what_other_workers_have_in_flight(rt: Runtime, make_worker: MakeWorker) -> None:
    ids = enqueue(rt, "99990001", 5)
    first = make_worker(PayloadTransport(), "worker-a")
    second = make_worker(PayloadTransport(), "worker-b")
    assert len(first.claim(1)) == 1
    assert [c.id for c in second.claim(10)] == ids[1:CAP]  # what is left of the cap
    assert second.claim(10) == []
    for claimed in first.claim(10):  # nothing: the route is full
        raise AssertionError(f"claimed {claimed.id} beyond the cap")


def test_concurrent_claimers_together_stay_within_the_cap(rt: Runtime, make_worker: MakeWorker) -> None:
    enqueue(rt, "99990001", 30)
    workers = [make_worker(PayloadTransport(), f"worker-{n}") for n in range(4)]
    start = threading.Barrier(len(workers))

    def claim_repeatedly(worker: DeliveryWorker) -> int:
        start.wait()
        return sum(len(worker.claim(5)) for _ in range(5))

    with ThreadPoolExecutor(len(workers)) as pool:
        total = sum(pool.map(claim_repeatedly, workers))
    assert total == CAP
    assert sending_per_route(rt) == {"ggk:99990001": CAP}


def test_a_finished_send_frees_its_slot(rt: Runtime, make_worker: MakeWorker) -> None:
    ids = enqueue(rt, "99990001", 5)
    worker = make_worker(PayloadTransport())
    delivered = 0
    while (n := worker.run_once()) > 0:
        assert n <= CAP
        delivered += n
    assert delivered == 5
    assert states(rt, ids) == [MessageState.DELIVERED] * 5


# -- poison messages -------------------------------------------------------------------------------------


def test_a_message_that_keeps_failing_never_blocks_its_route(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    [poison] = enqueue(rt, "99990001", 1)
    good = enqueue(rt, "99990001", 6)
    transport = PayloadTransport()
    transport.poison = wire_bodies(rt, [poison])
    worker = make_worker(transport)
    for _ in range(8):
        worker.run_once()
        clock.advance(timedelta(seconds=1))
    assert states(rt, good) == [MessageState.DELIVERED] * 6
    assert states(rt, [poison]) == [MessageState.QUEUED]  # waiting for its backoff, alone
    assert worker.circuits.state("ggk:99990001") is CircuitState.CLOSED  # the others got through


def test_a_permanently_refused_message_is_parked_at_once_and_the_rest_flows(
    rt: Runtime, make_worker: MakeWorker
) -> None:
    [bad] = enqueue(rt, "99990001", 1)
    good = enqueue(rt, "99990001", 3)
    transport = PayloadTransport()
    transport.bad = wire_bodies(rt, [bad])
    worker = make_worker(transport)
    worker.drain(timeout_s=10)
    assert states(rt, [bad]) == [MessageState.PARKED]
    assert states(rt, good) == [MessageState.DELIVERED] * 3
    assert len(transport.sent) == 4  # the refused one was tried once, not retried


# -- circuit breaker -------------------------------------------------------------------------------------


def test_consecutive_failures_open_the_route_circuit_and_only_that_route_stops(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    down = enqueue(rt, "99990001", 6)
    up = enqueue(rt, "99990002", 2)
    worker = make_worker(PayloadTransport(default=UNAVAILABLE))
    # Route 1's first THRESHOLD tries fail; route 2 fails too, but fewer times.
    for claimed in worker.claim(THRESHOLD):
        worker.deliver(claimed)
    assert worker.circuits.state("ggk:99990001") is CircuitState.OPEN
    rows = {row["route"]: row for row in circuit.snapshot() if row["worker"] == worker.worker_id}
    assert rows["ggk:99990001"]["state"] == "open"
    assert rows["ggk:99990001"]["consecutive_failures"] == THRESHOLD
    assert rows["ggk:99990001"]["half_open_at"] == T0 + timedelta(seconds=COOL_DOWN_S)
    assert "503" in rows["ggk:99990001"]["last_failure"]

    clock.advance(timedelta(seconds=COOL_DOWN_S - 1))  # every retry is due, the circuit still open
    batch = worker.claim(10)
    assert {c.route for c in batch} == {"ggk:99990002"}
    assert sorted(c.id for c in batch) == up
    assert states(rt, down[THRESHOLD:]) == [MessageState.QUEUED] * 3


def test_after_the_cool_down_one_probe_goes_and_its_success_closes_the_circuit(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    ids = enqueue(rt, "99990001", 6)
    transport = PayloadTransport(default=UNAVAILABLE)
    worker = make_worker(transport)
    for claimed in worker.claim(THRESHOLD):
        worker.deliver(claimed)
    clock.advance(timedelta(seconds=COOL_DOWN_S))
    assert worker.circuits.state("ggk:99990001") is CircuitState.HALF_OPEN
    [probe] = worker.claim(10)
    assert worker.claim(10) == []  # one probe at a time
    transport.default = DELIVERED
    worker.deliver(probe)
    assert worker.circuits.state("ggk:99990001") is CircuitState.CLOSED
    assert len(worker.claim(10)) == CAP
    assert states(rt, [probe.id]) == [MessageState.DELIVERED]
    assert probe.id in ids


def test_a_failed_probe_opens_the_circuit_again_for_a_fresh_cool_down(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    enqueue(rt, "99990001", 6)
    worker = make_worker(PayloadTransport(default=UNAVAILABLE))
    for claimed in worker.claim(THRESHOLD):
        worker.deliver(claimed)
    clock.advance(timedelta(seconds=COOL_DOWN_S))
    [probe] = worker.claim(10)
    worker.deliver(probe)
    assert worker.circuits.state("ggk:99990001") is CircuitState.OPEN
    clock.advance(timedelta(seconds=COOL_DOWN_S - 1))
    assert worker.claim(10) == []
    clock.advance(timedelta(seconds=1))
    assert len(worker.claim(10)) == 1


def test_a_refusal_shows_the_partner_is_listening_and_resets_the_streak(
    rt: Runtime, make_worker: MakeWorker
) -> None:
    before = enqueue(rt, "99990001", THRESHOLD - 1)
    refused = enqueue(rt, "99990001", 1)
    after = enqueue(rt, "99990001", THRESHOLD - 1)
    transport = PayloadTransport()
    transport.poison = wire_bodies(rt, before + after)
    transport.bad = wire_bodies(rt, refused)
    worker = make_worker(transport)
    for _ in range(2 * THRESHOLD):
        for claimed in worker.claim(1):
            worker.deliver(claimed)
    assert worker.circuits.state("ggk:99990001") is CircuitState.CLOSED
