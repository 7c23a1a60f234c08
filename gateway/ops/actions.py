"""Operator actions on single messages and routes: park/unpark, pause/resume, handled.

Each needs the role ``operator`` (or higher) and a reason, changes state with a guarded
UPDATE (the delivery worker may be touching the same row), and writes an audit record
in the same transaction: who, when (the audit entry's time), what, why.

- **park**: a queued message is taken out of the queue (state ``parked``) - e.g. it
  must not go out until someone checks it. A message being sent cannot be parked.
- **unpark**: a parked message goes back into the queue as it was (same envelope, same
  referentienummer; a re-send of the same message). For a fresh referentienummer, replay.
- **pause/resume a route**: the delivery worker claims nothing for a paused route
  (``route_controls``); messages stay queued and leave after resume.
- **mark handled**: an overdue deadline someone has dealt with (gateway.deadlines).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.deadlines import mark_handled as mark_deadline_handled
from gateway.ops.audit_trail import audit, checked_reason
from gateway.ops.errors import Conflict, InvalidInput, NotFound
from gateway.ops.operators import OperatorInfo, Role, require_role
from gateway.runtime import Runtime
from gateway.store.ops_tables import RouteControl
from gateway.store.tables import Message, MessageState
from gateway.store.tracking_tables import Deadline


def _rowcount(result: object) -> int:
    """Rows an UPDATE touched (``CursorResult.rowcount``; the ORM's typing hides it)."""
    count: int = result.rowcount  # type: ignore[attr-defined]
    return count


@dataclass(frozen=True)
class RouteState:
    route: str
    paused: bool
    reason: str | None
    changed_by: str | None
    changed_at: datetime | None


def _message(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"no message {message_id}")
    return message


def park_message(
    session: Session, runtime: Runtime, operator: OperatorInfo, message_id: int, reason: str
) -> None:
    """Take a queued message out of the queue (state ``parked``)."""
    require_role(operator, Role.OPERATOR)
    why = checked_reason(reason)
    message = _message(session, message_id)
    now = runtime.clock.now()
    changed = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.state.in_((MessageState.QUEUED, MessageState.ACCEPTED)))
        .values(state=MessageState.PARKED, updated_at=now, last_error=f"parked by operator {operator.name}")
        .execution_options(synchronize_session=False)
    )
    if _rowcount(changed) != 1:
        raise Conflict(f"message {message_id} is {message.state}: only a queued message can be parked")
    audit(session, runtime, operator, "bericht.parked", target=f"bericht:{message_id}", reason=why)


def unpark_message(
    session: Session, runtime: Runtime, operator: OperatorInfo, message_id: int, reason: str
) -> None:
    """Put a parked message back in the queue, due now, with its original envelope."""
    require_role(operator, Role.OPERATOR)
    why = checked_reason(reason)
    message = _message(session, message_id)
    now = runtime.clock.now()
    changed = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.state == MessageState.PARKED)
        .values(state=MessageState.QUEUED, next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(changed) != 1:
        raise Conflict(f"message {message_id} is {message.state}: only a parked message can be unparked")
    audit(session, runtime, operator, "bericht.unparked", target=f"bericht:{message_id}", reason=why)


def _known_route(session: Session, route: str) -> str:
    route = route.strip()
    if not route or len(route) > 60:
        raise InvalidInput("route: e.g. ggk:99990001")
    if session.scalar(select(Message.id).where(Message.route == route).limit(1)) is None:
        raise NotFound(f"no message was ever sent on route {route!r}")
    return route


def set_route_paused(
    session: Session, runtime: Runtime, operator: OperatorInfo, route: str, *, paused: bool, reason: str
) -> RouteState:
    """Pause (``paused=True``) or resume a route; the worker skips paused routes."""
    require_role(operator, Role.OPERATOR)
    why = checked_reason(reason)
    route = _known_route(session, route)
    now = runtime.clock.now()
    control = session.get(RouteControl, route, with_for_update=True)
    if control is None:
        control = RouteControl(
            route=route, paused=paused, reason=why, changed_by=operator.name, changed_at=now
        )
        session.add(control)
    else:
        control.paused, control.reason, control.changed_by, control.changed_at = (
            paused,
            why,
            operator.name,
            now,
        )
    session.flush()
    audit(
        session,
        runtime,
        operator,
        "route.paused" if paused else "route.resumed",
        target=f"route:{route}",
        reason=why,
    )
    return RouteState(route, paused, why, operator.name, now)


def route_states(session: Session) -> list[RouteState]:
    """Every route an operator ever paused or resumed, paused ones first."""
    return [
        RouteState(c.route, c.paused, c.reason, c.changed_by, c.changed_at)
        for c in session.scalars(
            select(RouteControl).order_by(RouteControl.paused.desc(), RouteControl.route)
        )
    ]


def paused_routes(session: Session) -> set[str]:
    return set(session.scalars(select(RouteControl.route).where(RouteControl.paused.is_(True))))


def mark_overdue_handled(
    session: Session, runtime: Runtime, operator: OperatorInfo, deadline_id: int, reason: str
) -> None:
    """An overdue retour/answer was dealt with (called the aanbieder, ...): close the alert loop."""
    require_role(operator, Role.OPERATOR)
    why = checked_reason(reason)
    deadline = session.get(Deadline, deadline_id)
    if deadline is None:
        raise NotFound(f"no deadline {deadline_id}")
    if deadline.overdue_at is None:
        raise Conflict(f"deadline {deadline_id} is not overdue")
    mark_deadline_handled(session, runtime, deadline_id, handled_by=operator.name)
    audit(
        session,
        runtime,
        operator,
        "deadline.handled",
        target=f"deadline:{deadline_id}",
        reason=why,
        message_id=deadline.message_id,
        inbound_id=deadline.inbound_id,
    )
