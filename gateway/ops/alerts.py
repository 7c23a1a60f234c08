"""Alerts: overdue retours/answers, parked messages, routes failing for a while.

Evaluated on the overdue scanner's beat (:func:`evaluate_alerts` in
``OverdueScanner(jobs=[...])``). Each alert has a unique ``alert_key`` of
``<kind>:<subject>:<state version>``, inserted with ON CONFLICT DO NOTHING, so an alert
fires exactly once per subject and state change however often (or concurrently) the
scan runs:

============== ============================ ============================================
kind           subject                      state version
============== ============================ ============================================
overdue        a deadline (retour, answer)  - (a deadline is overdue once)
parked         a message                    its attempt count (re-parked after an
                                            unpark and a new attempt = a new alert)
route_failing  a route                      the last successful delivery before the
                                            failures (a success ends the episode)
corv_unmatched a CORV notificatie naming a  - (received once)
               zaak of ours that matches no
               VTO (ambtshalve ones, without
               a zaak of ours, are ordinary
               traffic: event only)
============== ============================ ============================================

Each new alert becomes an event ``alert.raised`` (fanned out to webhooks like every
event) with its time window and counts. When one scan raises more than
``EVENTS_PER_KIND`` alerts of a kind (1,000 messages parked by one outage), one summary
event carries the count and window instead of a flood.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from gateway.events import record_event
from gateway.ops.audit_trail import audit
from gateway.ops.errors import Conflict, NotFound
from gateway.ops.operators import OperatorInfo, Role, require_role
from gateway.runtime import Runtime
from gateway.store.corv_tables import CorvInbound
from gateway.store.database import transaction
from gateway.store.ops_tables import OpsAlert
from gateway.store.tables import DeliveryAttempt, Message, MessageState
from gateway.store.tracking_tables import Deadline

log = structlog.get_logger("gateway.ops.alerts")

ALERT_RAISED = "alert.raised"
EVENTS_PER_KIND = 20
#: How far back the route-failure scan looks at attempts.
FAILURE_LOOKBACK = timedelta(days=1)


class AlertKind:
    OVERDUE = "overdue"
    PARKED = "parked"
    ROUTE_FAILING = "route_failing"
    CORV_UNMATCHED = "corv_unmatched"


class AlertStatus:
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True)
class AlertInfo:
    id: int
    kind: str
    status: str
    summary: str
    route: str | None
    message_id: int | None
    deadline_id: int | None
    window_start: datetime | None
    window_end: datetime | None
    count: int
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


@dataclass(frozen=True)
class FailingRoute:
    route: str
    #: The first failed attempt after the last success (within the lookback).
    since: datetime
    last_failure: datetime
    failures: int
    last_success: datetime | None


def _info(a: OpsAlert) -> AlertInfo:
    return AlertInfo(
        a.id,
        a.kind,
        a.status,
        a.summary,
        a.route,
        a.message_id,
        a.deadline_id,
        a.window_start,
        a.window_end,
        a.count,
        a.raised_at,
        a.acknowledged_at,
        a.acknowledged_by,
    )


def failing_routes(session: Session, runtime: Runtime) -> dict[str, FailingRoute]:
    """Routes whose every attempt since their last success failed, for at least
    ``ops.route_failing_minutes``.

    Cheap with years of history: every step reads only attempts that *finished* within
    the lookback (``ix_delivery_attempts_finished_at``; an attempt that started in it
    finished in it too). A route's last success is the newest delivered attempt of the
    route - found among the recent ones when there is one (then nothing older can be
    newer); only a failing route without any success in the lookback has its whole
    history searched. The answer is the same as one aggregate over all attempts ever.
    """
    now = runtime.clock.now()
    minimum = timedelta(minutes=runtime.settings.ops.route_failing_minutes)
    cutoff = now - FAILURE_LOOKBACK
    recent_failure = (
        DeliveryAttempt.finished_at >= cutoff,
        DeliveryAttempt.started_at >= cutoff,
        DeliveryAttempt.outcome != "delivered",
    )
    candidates = list(
        session.scalars(
            select(Message.route)
            .distinct()
            .where(Message.id.in_(select(DeliveryAttempt.message_id).where(*recent_failure)))
        )
    )
    if not candidates:
        return {}
    last_success = _last_successes(session, candidates, DeliveryAttempt.finished_at >= cutoff)
    never_lately = [route for route in candidates if route not in last_success]
    if never_lately:
        last_success.update(_last_successes(session, never_lately))
    failing: dict[str, FailingRoute] = {}
    for route in sorted(candidates):
        success = last_success.get(route)
        since, last, count = session.execute(
            select(
                func.min(DeliveryAttempt.started_at),
                func.max(DeliveryAttempt.finished_at),
                func.count(DeliveryAttempt.id),
            )
            .join(Message, Message.id == DeliveryAttempt.message_id)
            .where(Message.route == route, *recent_failure)
            .where(DeliveryAttempt.started_at > success if success is not None else true())
        ).one()
        if count and since <= now - minimum:
            failing[route] = FailingRoute(route, since, last, count, success)
    return failing


def _last_successes(
    session: Session, routes: Sequence[str], *conditions: ColumnElement[bool]
) -> dict[str, datetime]:
    """The newest delivered attempt's end per route (of ``routes``, under ``conditions``)."""
    rows = session.execute(
        select(Message.route, func.max(DeliveryAttempt.finished_at))
        .join(Message, Message.id == DeliveryAttempt.message_id)
        .where(DeliveryAttempt.outcome == "delivered", Message.route.in_(routes), *conditions)
        .group_by(Message.route)
    ).all()
    return {route: at for route, at in rows if at is not None}


def _insert_ignoring_duplicates(session: Session, values: dict[str, Any]) -> int | None:
    """INSERT ... ON CONFLICT (alert_key) DO NOTHING RETURNING id: the id, or None if taken."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(OpsAlert)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["alert_key"])
        .returning(OpsAlert.id)
    )
    return session.execute(statement).scalar()


def _candidates(session: Session, runtime: Runtime) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    known = aliased(OpsAlert)
    overdue = session.execute(
        select(Deadline, Message.route)
        .outerjoin(Message, Message.id == Deadline.message_id)
        .outerjoin(known, and_(known.kind == AlertKind.OVERDUE, known.deadline_id == Deadline.id))
        .where(Deadline.overdue_at.is_not(None), Deadline.handled_at.is_(None), known.id.is_(None))
        .order_by(Deadline.id)
    ).all()
    for deadline, route in overdue:
        subject = (
            f"message {deadline.message_id}" if deadline.message_id else f"inbound {deadline.inbound_id}"
        )
        found.append(
            {
                "alert_key": f"{AlertKind.OVERDUE}:deadline:{deadline.id}",
                "kind": AlertKind.OVERDUE,
                "route": route,
                "message_id": deadline.message_id,
                "deadline_id": deadline.id,
                "summary": f"{deadline.kind} overdue for {subject} (due {deadline.due_at:%Y-%m-%d %H:%M}Z)",
                "window_start": deadline.started_at,
                "window_end": deadline.due_at,
                "count": 1,
            }
        )
    replay = aliased(Message)
    parked = session.execute(
        select(
            Message.id,
            Message.route,
            Message.attempts,
            Message.message_type,
            Message.created_at,
            Message.updated_at,
        )
        .where(
            Message.state == MessageState.PARKED,
            ~select(replay.id).where(replay.replay_of_id == Message.id).exists(),
        )
        .order_by(Message.id)
    ).all()
    if parked:
        taken = set(
            session.scalars(
                select(OpsAlert.alert_key).where(
                    OpsAlert.kind == AlertKind.PARKED, OpsAlert.message_id.in_([p.id for p in parked])
                )
            )
        )
        for p in parked:
            key = f"{AlertKind.PARKED}:message:{p.id}:{p.attempts}"
            if key not in taken:
                found.append(
                    {
                        "alert_key": key,
                        "kind": AlertKind.PARKED,
                        "route": p.route,
                        "message_id": p.id,
                        "deadline_id": None,
                        "summary": (
                            f"{p.message_type} message {p.id} parked on {p.route}, {p.attempts} attempt(s)"
                        ),
                        "window_start": p.created_at,
                        "window_end": p.updated_at,
                        "count": p.attempts,
                    }
                )
    found += _unmatched_notificaties(session)
    for failing in failing_routes(session, runtime).values():
        version = failing.last_success.isoformat() if failing.last_success else "never"
        found.append(
            {
                "alert_key": f"{AlertKind.ROUTE_FAILING}:{failing.route}:{version}",
                "kind": AlertKind.ROUTE_FAILING,
                "route": failing.route,
                "message_id": None,
                "deadline_id": None,
                "summary": (
                    f"route {failing.route} failing since {failing.since:%Y-%m-%d %H:%M} UTC: "
                    f"{failing.failures} failed attempt(s), no delivery since"
                ),
                "window_start": failing.since,
                "window_end": failing.last_failure,
                "count": failing.failures,
            }
        )
    return found


def _unmatched_notificaties(session: Session) -> list[dict[str, Any]]:
    """A notificatie about a zaak we never sent a VTO for: a typo in the Raad's reference
    or a VTO sent outside the gateway - an operator must link it by hand."""
    rows = session.execute(
        select(CorvInbound.id, CorvInbound.zaak_identificatie, CorvInbound.received_at).where(
            CorvInbound.soort == "notificatie",
            CorvInbound.koppeling == "unmatched",
            CorvInbound.status == "accepted",
            CorvInbound.zaak_identificatie.is_not(None),
        )
    ).all()
    if not rows:
        return []
    keys = {row.id: f"{AlertKind.CORV_UNMATCHED}:corv_inbound:{row.id}" for row in rows}
    taken = set(session.scalars(select(OpsAlert.alert_key).where(OpsAlert.alert_key.in_(keys.values()))))
    return [
        {
            "alert_key": keys[row.id],
            "kind": AlertKind.CORV_UNMATCHED,
            "route": None,
            "message_id": None,
            "deadline_id": None,
            "summary": (
                f"CORV notificatie {row.id} names zaak {row.zaak_identificatie}, which matches no VTO "
                f"(GET /api/v1/corv/notificaties/{row.id})"
            ),
            "window_start": row.received_at,
            "window_end": row.received_at,
            "count": 1,
        }
        for row in rows
        if keys[row.id] not in taken
    ]


def evaluate_alerts(runtime: Runtime) -> int:
    """Raise every alert not raised before; one transaction. Returns how many are new."""
    with transaction(runtime.sessions) as session:
        now = runtime.clock.now()
        raised: list[dict[str, Any]] = []
        for values in _candidates(session, runtime):
            alert_id = _insert_ignoring_duplicates(
                session, {**values, "status": AlertStatus.OPEN, "raised_at": now}
            )
            if alert_id is not None:
                raised.append({**values, "id": alert_id})
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for alert in raised:
            by_kind.setdefault(alert["kind"], []).append(alert)
        for kind, alerts in by_kind.items():
            if len(alerts) <= EVENTS_PER_KIND:
                for alert in alerts:
                    record_event(
                        session,
                        runtime,
                        ALERT_RAISED,
                        message_id=alert["message_id"],
                        alert_id=alert["id"],
                        kind=kind,
                        route=alert["route"],
                        summary=alert["summary"],
                        window_start=_iso(alert["window_start"]),
                        window_end=_iso(alert["window_end"]),
                        count=alert["count"],
                    )
            else:
                starts = [a["window_start"] for a in alerts if a["window_start"] is not None]
                ends = [a["window_end"] for a in alerts if a["window_end"] is not None]
                record_event(
                    session,
                    runtime,
                    ALERT_RAISED,
                    kind=kind,
                    summary=f"{len(alerts)} new {kind} alerts",
                    alerts=len(alerts),
                    first_alert_id=min(a["id"] for a in alerts),
                    last_alert_id=max(a["id"] for a in alerts),
                    routes=sorted({a["route"] for a in alerts if a["route"]})[:20],
                    window_start=_iso(min(starts)) if starts else None,
                    window_end=_iso(max(ends)) if ends else None,
                    count=sum(a["count"] for a in alerts),
                )
    if raised:
        log.info("alerts_raised", count=len(raised), kinds=sorted(by_kind))
    return len(raised)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def list_alerts(
    session: Session, *, status: str | None = None, kind: str | None = None, limit: int = 100
) -> list[AlertInfo]:
    """Newest first; ``status`` open | acknowledged; ``kind`` one of :class:`AlertKind`."""
    query = select(OpsAlert).order_by(OpsAlert.id.desc()).limit(limit)
    if status:
        query = query.where(OpsAlert.status == status)
    if kind:
        query = query.where(OpsAlert.kind == kind)
    return [_info(a) for a in session.scalars(query)]


def count_open_alerts(session: Session) -> dict[str, int]:
    rows: Sequence[Any] = session.execute(
        select(OpsAlert.kind, func.count(OpsAlert.id))
        .where(OpsAlert.status == AlertStatus.OPEN)
        .group_by(OpsAlert.kind)
    ).all()
    return {kind: int(count) for kind, count in rows}


def acknowledge_alert(
    session: Session, runtime: Runtime, operator: OperatorInfo, alert_id: int, reason: str | None = None
) -> AlertInfo:
    """Someone is on it. Needs the role operator; audited (``alert.acknowledged``)."""
    require_role(operator, Role.OPERATOR)
    alert = session.get(OpsAlert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    if alert.status != AlertStatus.OPEN:
        raise Conflict(f"alert {alert_id} is {alert.status}")
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_at = runtime.clock.now()
    alert.acknowledged_by = operator.name
    audit(
        session,
        runtime,
        operator,
        "alert.acknowledged",
        target=f"alert:{alert_id}",
        reason=(reason or "").strip() or None,
    )
    return _info(alert)
