"""The delivery worker's guarantees, on SQLite and PostgreSQL, on a frozen clock.

The transport is the only stand-in: a scripted one that returns chosen outcomes (or
blocks until released), so every interleaving - a crash mid-send, a worker presumed
dead that comes back, a retour overtaking the send - can be set up exactly. Everything
else is the real worker against a real database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from connectors.ggk import Retourbericht, Systeem, new_referentienummer, render_du01, soap_request
from connectors.istandaard import parse_toewijzing, render_toewijzing_retour
from gateway.api.beschikking_models import BeschikkingIn
from gateway.clock import FrozenClock
from gateway.delivery.outcome import Outcome, OutcomeKind
from gateway.delivery.worker import Claimed, DeliveryWorker
from gateway.events import MESSAGE_DELIVERED, MESSAGE_EXPIRED, MESSAGE_PARKED
from gateway.inbound.ggk_dispatch import handle_ggk_soap
from gateway.intake import accept_beschikking
from gateway.outbox import PARTY_GGK, enqueue_ggk_heenbericht
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import DeliveryAttempt, Event, Message, MessageState
from tests.conftest import beschikking_body, make_settings

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LEASE_S = 60
DELIVERED = Outcome(OutcomeKind.DELIVERED, 200)
RETRYABLE = Outcome(OutcomeKind.RETRYABLE, 503, None, "HTTP 503")
UNKNOWN = Outcome(OutcomeKind.UNKNOWN, None, None, "sent, no answer: ReadTimeout")
PERMANENT = Outcome(OutcomeKind.PERMANENT, 500, "IB002", "ongeldige ontvanger")


class ScriptedTransport:
    """Returns the scripted outcomes in order and remembers what it was asked.

    With a ``gate`` every send waits until the test releases it: the send is "in flight".
    """

    def __init__(self, *outcomes: Outcome, gate: threading.Event | None = None, pause_s: float = 0.0) -> None:
        self.outcomes = list(outcomes)
        self.gate = gate
        self.pause_s = pause_s
        self.calls: list[tuple[bytes, bool]] = []
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def send(self, wire_body: bytes, *, after_unknown: bool, operation: str = "") -> Outcome:
        with self._lock:
            self.calls.append((wire_body, after_unknown))
            outcome = self.outcomes.pop(0)
        self.entered.set()
        if self.gate is not None and not self.gate.wait(20):
            raise AssertionError("the test never released the send")
        if self.pause_s:
            time.sleep(self.pause_s)
        return outcome


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def rt(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Runtime]:
    settings = make_settings(
        database_url,
        tmp_path,
        retry={"initial_delay_s": 10, "multiplier": 2, "max_delay_s": 3600, "jitter_s": 0, "horizon_days": 1},
        delivery={"lease_s": LEASE_S, "batch_size": 3, "concurrency": 2, "poll_interval_s": 0.05},
    )
    runtime = Runtime.create(settings, clock)
    yield runtime
    runtime.close()


MakeWorker = Callable[..., DeliveryWorker]


@pytest.fixture
def make_worker(rt: Runtime) -> Iterator[MakeWorker]:
    workers: list[DeliveryWorker] = []

    def make(transport: ScriptedTransport | None, worker_id: str = "worker-a") -> DeliveryWorker:
        transports = {} if transport is None else {PARTY_GGK: transport}
        worker = DeliveryWorker(rt, transports, worker_id=worker_id)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.close()


def enqueue(rt: Runtime, count: int = 1) -> list[int]:
    ids: list[int] = []
    with transaction(rt.sessions) as session:
        for n in range(count):
            message = enqueue_ggk_heenbericht(
                session,
                rt,
                functie="JW301",
                law="jeugdwet",
                receiver=f"9999000{n % 5 + 1}",
                render_payload=lambda ident: f"<payload id='{ident}'/>".encode(),
                beschikking_id=None,
                bsn_hash=None,
            )
            ids.append(message.id)
    return ids


def message(rt: Runtime, message_id: int) -> Message:
    with rt.sessions() as session:
        row = session.get(Message, message_id)
        assert row is not None
        return row


def attempts(rt: Runtime, message_id: int) -> list[DeliveryAttempt]:
    with rt.sessions() as session:
        return list(
            session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.message_id == message_id)
                .order_by(DeliveryAttempt.attempt_no)
            )
        )


def events(rt: Runtime) -> list[tuple[str, int | None]]:
    with rt.sessions() as session:
        return [(e.type, e.message_id) for e in session.scalars(select(Event).order_by(Event.id))]


def set_state(rt: Runtime, message_id: int, **values: object) -> None:
    with transaction(rt.sessions) as session:
        session.execute(update(Message).where(Message.id == message_id).values(**values))


def in_state(rt: Runtime, state: str) -> list[int]:
    with rt.sessions() as session:
        return list(session.scalars(select(Message.id).where(Message.state == state).order_by(Message.id)))


# -- claiming ---------------------------------------------------------------------------------------


def test_claim_takes_a_lease_and_counts_the_attempt(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    [message_id] = enqueue(rt)
    clock.advance(timedelta(seconds=5))
    claimed_at = clock.now()
    worker = make_worker(ScriptedTransport(RETRYABLE, DELIVERED))

    [claimed] = worker.claim(10)
    stored = message(rt, message_id)
    assert claimed == Claimed(
        id=message_id,
        attempt=1,
        party=PARTY_GGK,
        route="ggk:99990001",
        operation="ggk_Di01",
        wire_body=stored.wire_body,
        after_unknown=False,
        first_attempt_at=claimed_at,
    )
    assert stored.state == MessageState.SENDING
    assert stored.lease_owner == "worker-a"
    assert stored.lease_expires_at == claimed_at + timedelta(seconds=LEASE_S)
    assert stored.attempts == 1
    assert stored.first_attempt_at == claimed_at
    assert stored.updated_at == claimed_at
    assert worker.claim(10) == []  # a leased message is not claimed twice

    worker.deliver(claimed)  # retryable: back in the queue, 10 s later
    clock.advance(timedelta(seconds=30))
    [again] = worker.claim(10)
    assert again.attempt == 2
    assert again.first_attempt_at == claimed_at  # set once, on the first claim
    stored = message(rt, message_id)
    assert stored.attempts == 2 and stored.first_attempt_at == claimed_at
    assert stored.lease_expires_at == clock.now() + timedelta(seconds=LEASE_S)


def test_nothing_due_in_the_future_is_claimed(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    now_id, later_id = enqueue(rt, 2)
    set_state(rt, later_id, next_attempt_at=T0 + timedelta(seconds=1))
    worker = make_worker(ScriptedTransport())
    assert [c.id for c in worker.claim(10)] == [now_id]
    assert worker.claim(10) == []
    clock.advance(timedelta(seconds=1))  # due exactly now counts
    assert [c.id for c in worker.claim(10)] == [later_id]


def test_only_queued_messages_are_claimed(rt: Runtime, make_worker: MakeWorker) -> None:
    ids = enqueue(rt, len(MessageState.ALL))
    for message_id, state in zip(ids, MessageState.ALL, strict=True):
        set_state(rt, message_id, state=state)
    queued = ids[MessageState.ALL.index(MessageState.QUEUED)]
    assert [c.id for c in make_worker(ScriptedTransport()).claim(100)] == [queued]


def test_the_batch_limit_is_honoured_oldest_first(rt: Runtime, make_worker: MakeWorker) -> None:
    ids = enqueue(rt, 5)
    worker = make_worker(ScriptedTransport())
    assert [c.id for c in worker.claim(3)] == ids[:3]
    assert [c.id for c in worker.claim(3)] == ids[3:]
    assert worker.claim(3) == []


def test_run_once_delivers_one_batch_of_batch_size(rt: Runtime, make_worker: MakeWorker) -> None:
    ids = enqueue(rt, 5)
    transport = ScriptedTransport(*[DELIVERED] * 5)
    worker = make_worker(transport)
    assert worker.run_once() == 3  # settings.delivery.batch_size
    assert in_state(rt, MessageState.DELIVERED) == ids[:3]
    assert worker.run_once() == 2
    assert worker.run_once() == 0
    assert in_state(rt, MessageState.DELIVERED) == ids
    assert len(transport.calls) == 5


def test_concurrent_workers_never_claim_the_same_message(rt: Runtime, make_worker: MakeWorker) -> None:
    ids = enqueue(rt, 40)
    workers = [make_worker(ScriptedTransport(), f"worker-{n}") for n in range(4)]
    start = threading.Barrier(len(workers))

    def claim_all(worker: DeliveryWorker) -> list[int]:
        start.wait()
        mine: list[int] = []
        while batch := worker.claim(3):
            mine += [c.id for c in batch]
        return mine

    with ThreadPoolExecutor(len(workers)) as pool:
        results = list(pool.map(claim_all, workers))
    claimed = [i for r in results for i in r]
    assert len(claimed) == len(set(claimed)), "a message was claimed twice"
    assert sorted(claimed) == ids
    with rt.sessions() as session:
        rows = session.execute(select(Message.id, Message.lease_owner, Message.attempts)).all()
    owner_of = {worker.worker_id: set(result) for worker, result in zip(workers, results, strict=True)}
    for row in rows:
        assert row.attempts == 1
        assert row.id in owner_of[row.lease_owner]


def test_postgres_claims_skip_rows_another_claimer_has_locked(rt: Runtime, make_worker: MakeWorker) -> None:
    if rt.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no row locks: there the guarded UPDATE is the claim (test above)")
    ids = enqueue(rt, 4)
    worker = make_worker(ScriptedTransport())
    holder = rt.sessions()
    pool = ThreadPoolExecutor(1)
    try:
        # Another worker is in the middle of its claim transaction, holding two rows.
        holder.begin()
        locked = holder.scalars(select(Message.id).where(Message.id.in_(ids[:2])).with_for_update()).all()
        assert sorted(locked) == ids[:2]
        future = pool.submit(worker.claim, 10)
        try:
            claimed = future.result(timeout=5)
        except TimeoutError:
            pytest.fail("the claim waited for rows another transaction had locked (no SKIP LOCKED)")
        assert [c.id for c in claimed] == ids[2:]
    finally:
        holder.rollback()  # releases the rows (and a claim stuck behind them) before the join
        holder.close()
        pool.shutdown(wait=True)
    assert [c.id for c in worker.claim(10)] == ids[:2]


# -- outcomes -----------------------------------------------------------------------------------------


def test_delivered_marks_the_message_and_emits_the_event(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    [message_id] = enqueue(rt)
    worker = make_worker(ScriptedTransport(DELIVERED))
    [claimed] = worker.claim(1)
    clock.advance(timedelta(seconds=2))
    assert worker.deliver(claimed) == DELIVERED
    stored = message(rt, message_id)
    assert stored.state == MessageState.DELIVERED
    assert stored.delivered_at == clock.now()
    assert (stored.lease_owner, stored.lease_expires_at) == (None, None)
    assert (stored.last_outcome, stored.last_error) == ("delivered", None)
    assert events(rt) == [(MESSAGE_DELIVERED, message_id)]


def test_permanent_parks_the_message(rt: Runtime, make_worker: MakeWorker) -> None:
    [message_id] = enqueue(rt)
    worker = make_worker(ScriptedTransport(PERMANENT))
    worker.deliver(*worker.claim(1))
    stored = message(rt, message_id)
    assert stored.state == MessageState.PARKED
    assert stored.delivered_at is None and stored.lease_owner is None
    assert stored.last_outcome == "permanent"
    assert stored.last_error is not None and "IB002" in stored.last_error and "HTTP 500" in stored.last_error
    assert events(rt) == [(MESSAGE_PARKED, message_id)]
    with rt.sessions() as session:
        event = session.scalars(select(Event)).one()
        assert event.data["code"] == "IB002"
    assert worker.claim(1) == []


def test_a_party_without_transport_is_parked(rt: Runtime, make_worker: MakeWorker) -> None:
    [message_id] = enqueue(rt)
    worker = make_worker(None)
    outcome = worker.deliver(*worker.claim(1))
    assert outcome.kind is OutcomeKind.PERMANENT
    stored = message(rt, message_id)
    assert stored.state == MessageState.PARKED
    assert stored.last_error is not None and "no transport" in stored.last_error


@pytest.mark.parametrize("failure", [RETRYABLE, UNKNOWN], ids=["retryable", "unknown"])
def test_a_failed_try_is_requeued_on_the_policy_schedule(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker, failure: Outcome
) -> None:
    [message_id] = enqueue(rt)
    worker = make_worker(ScriptedTransport(failure, failure, failure))
    for attempt, delay_s in ((1, 10), (2, 20), (3, 40)):
        [claimed] = worker.claim(1)
        assert claimed.attempt == attempt
        worker.deliver(claimed)
        stored = message(rt, message_id)
        assert stored.state == MessageState.QUEUED
        assert stored.next_attempt_at == clock.now() + timedelta(seconds=delay_s)
        assert stored.last_outcome == failure.kind.value
        assert stored.last_error is not None and stored.last_error.startswith(failure.kind.value)
        assert stored.lease_owner is None
        clock.advance(timedelta(seconds=delay_s - 1))
        assert worker.claim(1) == []  # not before it is due
        clock.advance(timedelta(seconds=1))
    assert events(rt) == []


def test_past_the_horizon_the_message_expires(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    [message_id] = enqueue(rt)
    worker = make_worker(ScriptedTransport(RETRYABLE, RETRYABLE))
    worker.deliver(*worker.claim(1))
    assert message(rt, message_id).state == MessageState.QUEUED
    # The next failure comes so late that a retry (20 s on) would fall beyond 1 day.
    clock.advance(timedelta(days=1) - timedelta(seconds=15))
    worker.deliver(*worker.claim(1))
    stored = message(rt, message_id)
    assert stored.state == MessageState.EXPIRED
    assert stored.first_attempt_at == T0
    assert events(rt) == [(MESSAGE_EXPIRED, message_id)]
    clock.advance(timedelta(days=10))
    assert worker.claim(1) == []


def test_an_unknown_outcome_makes_the_next_send_a_possible_duplicate(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    [message_id] = enqueue(rt)
    transport = ScriptedTransport(UNKNOWN, DELIVERED)
    worker = make_worker(transport)
    [first] = worker.claim(1)
    assert first.after_unknown is False
    worker.deliver(first)
    clock.advance(timedelta(seconds=10))
    [second] = worker.claim(1)
    assert second.after_unknown is True
    worker.deliver(second)
    assert [after for _body, after in transport.calls] == [False, True]
    assert transport.calls[0][0] == transport.calls[1][0] == message(rt, message_id).wire_body  # same bytes


def test_a_retryable_try_after_an_unknown_one_keeps_the_possible_duplicate_flag(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    # Try 1 timed out after sending (the GGk may have it), try 2 met a 503 from a proxy in
    # front of the GGk. Try 3 can get IB016 (duplicate) - which, after try 1, means
    # "delivered", not a permanent refusal: the transport must still be told so.
    enqueue(rt)
    transport = ScriptedTransport(UNKNOWN, RETRYABLE, DELIVERED)
    worker = make_worker(transport)
    worker.deliver(*worker.claim(1))
    clock.advance(timedelta(seconds=10))
    worker.deliver(*worker.claim(1))
    clock.advance(timedelta(seconds=20))
    [third] = worker.claim(1)
    assert third.after_unknown is True, "an earlier try may have arrived (try 1 was unknown)"


# -- crashes, zombies and overtaking retours -------------------------------------------------------------


def test_a_crash_mid_send_is_rescued_and_delivered_by_another_worker(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    [message_id] = enqueue(rt)
    crashed = make_worker(ScriptedTransport(), "worker-a")
    crashed.claim(1)  # ...and the process dies before it records anything
    transport_b = ScriptedTransport(DELIVERED)
    rescuer = make_worker(transport_b, "worker-b")

    assert rescuer.rescue_expired_leases() == 0  # the lease still runs
    assert rescuer.run_once() == 0
    assert message(rt, message_id).state == MessageState.SENDING
    clock.advance(timedelta(seconds=LEASE_S - 1))
    assert rescuer.rescue_expired_leases() == 0

    clock.advance(timedelta(seconds=2))
    assert rescuer.rescue_expired_leases() == 1
    stored = message(rt, message_id)
    assert stored.state == MessageState.QUEUED
    assert (stored.lease_owner, stored.lease_expires_at) == (None, None)
    assert stored.last_outcome == "unknown"
    assert stored.next_attempt_at == clock.now()
    assert stored.last_error is not None and "lease expired" in stored.last_error

    assert rescuer.run_once() == 1
    assert transport_b.calls == [(stored.wire_body, True)]  # a possible duplicate, same bytes
    stored = message(rt, message_id)
    assert stored.state == MessageState.DELIVERED and stored.attempts == 2
    assert [(a.attempt_no, a.worker, a.outcome, a.applied) for a in attempts(rt, message_id)] == [
        (1, "worker-a", "unknown", True),  # the lost attempt, recorded by the rescuer
        (2, "worker-b", "delivered", True),
    ]
    assert in_state(rt, MessageState.SENDING) == []


def test_run_once_rescues_before_it_claims(rt: Runtime, clock: FrozenClock, make_worker: MakeWorker) -> None:
    [message_id] = enqueue(rt)
    make_worker(ScriptedTransport(), "worker-a").claim(1)
    clock.advance(timedelta(seconds=LEASE_S + 1))
    transport = ScriptedTransport(DELIVERED)
    assert make_worker(transport, "worker-b").run_once() == 1
    assert transport.calls[0][1] is True
    assert message(rt, message_id).state == MessageState.DELIVERED


@pytest.mark.parametrize("late", [UNKNOWN, PERMANENT, DELIVERED], ids=["unknown", "permanent", "delivered"])
def test_a_zombie_worker_cannot_overwrite_what_happened_since(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker, late: Outcome
) -> None:
    [message_id] = enqueue(rt)
    gate = threading.Event()
    stalled = ScriptedTransport(late, gate=gate)
    zombie = make_worker(stalled, "worker-a")
    [claimed_a] = zombie.claim(1)
    with ThreadPoolExecutor(1) as pool:
        late_result = pool.submit(zombie.deliver, claimed_a)
        assert stalled.entered.wait(5)
        # A stalls past its lease; B rescues the message and delivers it.
        clock.advance(timedelta(seconds=LEASE_S + 1))
        worker_b = make_worker(ScriptedTransport(RETRYABLE), "worker-b")
        assert worker_b.run_once() == 1
        after_b = message(rt, message_id)
        assert after_b.state == MessageState.QUEUED and after_b.last_outcome == "retryable"
        clock.advance(timedelta(seconds=3))
        gate.set()  # A wakes up and reports its (stale) result
        assert late_result.result(timeout=10) == late
    stored = message(rt, message_id)
    assert stored.state == MessageState.QUEUED  # what B decided
    assert stored.next_attempt_at == after_b.next_attempt_at
    assert stored.last_outcome == "retryable"
    assert stored.attempts == 2
    rows = attempts(rt, message_id)
    assert [(a.attempt_no, a.worker, a.outcome, a.applied) for a in rows] == [
        (1, "worker-a", late.kind.value, False),
        (2, "worker-b", "retryable", True),
    ]
    assert events(rt) == []  # a result that was not applied announces nothing
    # A late "delivered" is still a fact: the GGk has the message, so remember when.
    assert stored.delivered_at == (clock.now() if late.kind is OutcomeKind.DELIVERED else None)


def test_a_zombie_result_while_the_new_owner_is_sending_is_ignored(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    [message_id] = enqueue(rt)
    zombie = make_worker(ScriptedTransport(PERMANENT), "worker-a")
    [claimed_a] = zombie.claim(1)
    clock.advance(timedelta(seconds=LEASE_S + 1))
    worker_b = make_worker(ScriptedTransport(DELIVERED), "worker-b")
    worker_b.rescue_expired_leases()
    [claimed_b] = worker_b.claim(1)
    zombie.deliver(claimed_a)  # A's late "permanent" while B's send is in flight
    stored = message(rt, message_id)
    assert (stored.state, stored.lease_owner) == (MessageState.SENDING, "worker-b")
    worker_b.deliver(claimed_b)
    assert message(rt, message_id).state == MessageState.DELIVERED
    assert events(rt) == [(MESSAGE_DELIVERED, message_id)]  # never parked
    assert [(a.worker, a.applied) for a in attempts(rt, message_id)] == [
        ("worker-a", False),
        ("worker-b", True),
    ]


def test_a_stale_result_is_ignored_when_the_same_worker_has_claimed_the_message_again(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    """The guard names the attempt: its owner's id alone would let attempt 1's result land on attempt 2."""
    [message_id] = enqueue(rt)
    worker = make_worker(ScriptedTransport(PERMANENT, DELIVERED), "worker-a")
    [first] = worker.claim(1)
    clock.advance(timedelta(seconds=LEASE_S + 1))
    assert worker.rescue_expired_leases() == 1  # attempt 1 stalled past its lease
    [second] = worker.claim(1)
    assert (second.attempt, message(rt, message_id).lease_owner) == (2, "worker-a")
    worker.deliver(first)  # attempt 1's late "permanent" while attempt 2 is in flight
    assert message(rt, message_id).state == MessageState.SENDING
    worker.deliver(second)
    assert message(rt, message_id).state == MessageState.DELIVERED
    assert events(rt) == [(MESSAGE_DELIVERED, message_id)]  # never parked
    assert [(a.attempt_no, a.outcome, a.applied) for a in attempts(rt, message_id)] == [
        (1, "permanent", False),  # the rescuer's row, with what really happened added
        (2, "delivered", True),
    ]


@pytest.mark.parametrize("late", [DELIVERED, UNKNOWN, RETRYABLE], ids=["delivered", "unknown", "retryable"])
def test_a_retour_that_arrived_while_sending_is_not_overwritten(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker, late: Outcome
) -> None:
    [message_id] = enqueue(rt)
    worker = make_worker(ScriptedTransport(late))
    [claimed] = worker.claim(1)
    clock.advance(timedelta(seconds=1))
    answered_at = clock.now()
    # What the inbound side does when the retour overtakes the Bv03.
    set_state(
        rt,
        message_id,
        state=MessageState.ANSWERED,
        answered_at=answered_at,
        lease_owner=None,
        lease_expires_at=None,
        retour_codes=[],
    )
    clock.advance(timedelta(seconds=1))
    worker.deliver(claimed)
    stored = message(rt, message_id)
    assert stored.state == MessageState.ANSWERED
    assert stored.answered_at == answered_at
    assert stored.next_attempt_at == T0  # not re-queued
    if late.kind is OutcomeKind.DELIVERED:
        assert stored.delivered_at == clock.now()
    assert [(a.outcome, a.applied) for a in attempts(rt, message_id)] == [(late.kind.value, False)]
    assert events(rt) == []
    clock.advance(timedelta(days=2))
    assert worker.run_once() == 0


def _real_retour(rt: Runtime, message_id: int) -> tuple[bytes, str]:
    stored = message(rt, message_id)
    retour = render_toewijzing_retour(
        parse_toewijzing(stored.payload), identificatie_retour="R1", dagtekening_retour=T0.date()
    )
    envelope = render_du01(
        Retourbericht(
            zender=Systeem(stored.receiver, "MockAanbieder"),
            ontvanger=Systeem(stored.sender, "GGk"),
            referentienummer=new_referentienummer(),
            cross_refnummer=stored.referentienummer,
            tijdstip=T0.replace(tzinfo=None),
            functie="JW302",
            payload=retour,
        )
    )
    body, headers = soap_request(envelope, "ggk_Du01")
    return body, headers["SOAPAction"]


def test_a_real_retour_overtaking_a_timed_out_send_settles_the_message(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    with transaction(rt.sessions) as session:
        result = accept_beschikking(session, rt, BeschikkingIn.model_validate(beschikking_body()), None)
    message_id = result.berichten[0].id
    gate = threading.Event()
    transport = ScriptedTransport(UNKNOWN, gate=gate)
    worker = make_worker(transport)
    [claimed] = worker.claim(1)
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(worker.deliver, claimed)
        assert transport.entered.wait(5)
        clock.advance(timedelta(seconds=1))
        reply = handle_ggk_soap(rt, *_real_retour(rt, message_id))
        assert reply.status_code == 200, reply.body
        assert message(rt, message_id).state == MessageState.ANSWERED
        clock.advance(timedelta(seconds=30))
        gate.set()  # the send times out only now
        assert in_flight.result(timeout=10) == UNKNOWN
    stored = message(rt, message_id)
    assert stored.state == MessageState.ANSWERED
    assert stored.retour_codes == []
    assert stored.delivered_at is not None
    assert [(a.outcome, a.applied) for a in attempts(rt, message_id)] == [("unknown", False)]
    assert worker.run_once() == 0


# -- the attempt log -----------------------------------------------------------------------------------


def test_every_send_leaves_one_numbered_attempt_row(
    rt: Runtime, clock: FrozenClock, make_worker: MakeWorker
) -> None:
    [message_id] = enqueue(rt)
    ib016 = Outcome(OutcomeKind.DELIVERED, 500, "IB016", "already received by the GGk (earlier attempt)")
    worker = make_worker(ScriptedTransport(RETRYABLE, UNKNOWN, ib016, pause_s=0.03), "worker-x")
    starts: list[datetime] = []
    while True:
        batch = worker.claim(1)
        if not batch:
            next_at = message(rt, message_id).next_attempt_at
            if message(rt, message_id).state != MessageState.QUEUED or next_at is None:
                break
            clock.advance(next_at - clock.now())
            continue
        starts.append(clock.now())
        worker.deliver(batch[0])
    rows = attempts(rt, message_id)
    assert [a.attempt_no for a in rows] == [1, 2, 3]
    assert [a.outcome for a in rows] == ["retryable", "unknown", "delivered"]
    assert [a.http_status for a in rows] == [503, None, 500]
    assert [a.code for a in rows] == [None, None, "IB016"]
    assert [a.detail for a in rows] == [RETRYABLE.detail, UNKNOWN.detail, ib016.detail]
    assert all(a.duration_ms >= 30 for a in rows)
    assert all(a.worker == "worker-x" and a.applied for a in rows)
    assert [a.started_at for a in rows] == starts
    assert starts == [T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=30)]
    stored = message(rt, message_id)
    assert stored.attempts == 3 and stored.state == MessageState.DELIVERED
    with rt.sessions() as session:
        loaded = session.get(Message, message_id)
        assert loaded is not None
        assert [a.attempt_no for a in loaded.attempt_log] == [1, 2, 3]
