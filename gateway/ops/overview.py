"""The operator's first screen: per chain party and route, what flows and what is stuck.

Per route: messages by state; throughput (delivered and answered in the last hour and
day); latency accepted -> delivered and delivered -> answered (median and 95th
percentile over the last day); overdue answers; parked messages not yet replayed;
whether an operator paused it and whether it is failing (see :mod:`gateway.ops.alerts`).
Aggregated per party, and in total. Cheap enough to poll every few seconds: grouped
queries, and at most ``LATENCY_SAMPLE`` recent messages for the percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from gateway.delivery.circuit import snapshot as circuit_snapshot
from gateway.ops.actions import paused_routes
from gateway.ops.alerts import count_open_alerts, failing_routes
from gateway.runtime import Runtime
from gateway.store.tables import InboundMessage, Message, MessageState
from gateway.store.tracking_tables import Deadline

LATENCY_SAMPLE = 20000


@dataclass(frozen=True)
class Latency:
    """Seconds; None without data in the window."""

    count: int
    p50_s: float | None
    p95_s: float | None


@dataclass
class Throughput:
    delivered_last_hour: int = 0
    delivered_last_day: int = 0
    answered_last_hour: int = 0
    answered_last_day: int = 0
    accepted_last_hour: int = 0
    accepted_last_day: int = 0


@dataclass
class RouteOverview:
    party: str
    route: str
    by_state: dict[str, int]
    throughput: Throughput
    delivery_latency: Latency
    answer_latency: Latency
    overdue: int
    #: Parked and not replayed: what still needs an operator.
    parked: int
    paused: bool
    failing: bool
    failing_since: datetime | None
    #: The delivery worker's circuit breaker for the route in this process: closed | open | half_open.
    circuit: str = "closed"

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


@dataclass
class PartyOverview:
    party: str
    by_state: dict[str, int]
    throughput: Throughput
    overdue: int
    parked: int
    routes: list[RouteOverview] = field(default_factory=list)


@dataclass
class Overview:
    generated_at: datetime
    parties: list[PartyOverview]
    by_state: dict[str, int]
    overdue: int
    parked: int
    paused_routes: list[str]
    failing_routes: list[str]
    open_alerts: dict[str, int]
    inbound_last_hour: int
    inbound_last_day: int


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return round(sorted_values[index], 3)


def _latency(values: list[float]) -> Latency:
    values.sort()
    return Latency(len(values), _percentile(values, 0.5), _percentile(values, 0.95))


def overview(session: Session, runtime: Runtime) -> Overview:
    """The whole picture, now."""
    now = runtime.clock.now()
    hour, day = now - timedelta(hours=1), now - timedelta(days=1)
    routes: dict[str, RouteOverview] = {}

    def route_of(party: str, route: str) -> RouteOverview:
        if route not in routes:
            routes[route] = RouteOverview(
                party,
                route,
                {},
                Throughput(),
                Latency(0, None, None),
                Latency(0, None, None),
                0,
                0,
                False,
                False,
                None,
            )
        return routes[route]

    for party, route, state, count in session.execute(
        select(Message.party, Message.route, Message.state, func.count(Message.id)).group_by(
            Message.party, Message.route, Message.state
        )
    ):
        route_of(party, route).by_state[state] = int(count)

    recent = session.execute(
        select(Message.party, Message.route, Message.created_at, Message.delivered_at, Message.answered_at)
        .where((Message.created_at >= day) | (Message.delivered_at >= day) | (Message.answered_at >= day))
        .order_by(Message.id.desc())
        .limit(LATENCY_SAMPLE)
    ).all()
    delivery: dict[str, list[float]] = {}
    answer: dict[str, list[float]] = {}
    for party, route, created, delivered, answered in recent:
        r = route_of(party, route)
        t = r.throughput
        if created >= day:
            t.accepted_last_day += 1
            t.accepted_last_hour += created >= hour
        if delivered is not None and delivered >= day:
            t.delivered_last_day += 1
            t.delivered_last_hour += delivered >= hour
            delivery.setdefault(route, []).append((delivered - created).total_seconds())
        if answered is not None and answered >= day:
            t.answered_last_day += 1
            t.answered_last_hour += answered >= hour
            if delivered is not None:
                answer.setdefault(route, []).append(max(0.0, (answered - delivered).total_seconds()))
    for route, values in delivery.items():
        routes[route].delivery_latency = _latency(values)
    for route, values in answer.items():
        routes[route].answer_latency = _latency(values)

    for party, route, count in session.execute(
        select(Message.party, Message.route, func.count(Deadline.id))
        .join(Message, Message.id == Deadline.message_id)
        .where(Deadline.overdue_at.is_not(None), Deadline.handled_at.is_(None))
        .group_by(Message.party, Message.route)
    ):
        route_of(party, route).overdue = int(count)
    replay = aliased(Message)
    for party, route, count in session.execute(
        select(Message.party, Message.route, func.count(Message.id))
        .where(
            Message.state == MessageState.PARKED,
            ~select(replay.id).where(replay.replay_of_id == Message.id).exists(),
        )
        .group_by(Message.party, Message.route)
    ):
        route_of(party, route).parked = int(count)
    paused = paused_routes(session)
    failing = failing_routes(session, runtime)
    circuits: dict[str, str] = {}
    for row in circuit_snapshot():  # per worker in this process; the worst state wins
        if circuits.get(row["route"]) != "open":
            circuits[row["route"]] = str(row["state"])
    for route, r in routes.items():
        r.circuit = circuits.get(route, "closed")
        r.paused = route in paused
        if route in failing:
            r.failing, r.failing_since = True, failing[route].since

    parties: dict[str, PartyOverview] = {}
    for r in sorted(routes.values(), key=lambda r: (r.party, r.route)):
        p = parties.setdefault(r.party, PartyOverview(r.party, {}, Throughput(), 0, 0))
        p.routes.append(r)
        for state, count in r.by_state.items():
            p.by_state[state] = p.by_state.get(state, 0) + count
        for name in vars(p.throughput):
            setattr(p.throughput, name, getattr(p.throughput, name) + getattr(r.throughput, name))
        p.overdue += r.overdue
        p.parked += r.parked
    totals: dict[str, int] = {}
    for p in parties.values():
        for state, count in p.by_state.items():
            totals[state] = totals.get(state, 0) + count
    inbound_day, inbound_hour = session.execute(
        select(
            func.count(InboundMessage.id),
            func.count(InboundMessage.id).filter(InboundMessage.received_at >= hour),
        ).where(InboundMessage.received_at >= day)
    ).one()
    return Overview(
        generated_at=now,
        parties=list(parties.values()),
        by_state=totals,
        overdue=sum(p.overdue for p in parties.values()),
        parked=sum(p.parked for p in parties.values()),
        paused_routes=sorted(paused),
        failing_routes=sorted(failing),
        open_alerts=count_open_alerts(session),
        inbound_last_hour=int(inbound_hour or 0),
        inbound_last_day=int(inbound_day or 0),
    )
