"""Every operator action and every reveal goes into the audit log (``gateway.audit``).

One adapter so that the services state *what* happened (actor, action, subject, reason)
and the audit module decides how it is chained and stored. It writes in the caller's
transaction: the action and its audit record commit together or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gateway.audit import ActorKind, record_audit
from gateway.ops.errors import InvalidInput
from gateway.ops.operators import OperatorInfo
from gateway.runtime import Runtime

MAX_REASON = 1000


def checked_reason(reason: str | None) -> str:
    """Actions need a reason a colleague can read later."""
    text = (reason or "").strip()
    if len(text) < 3:
        raise InvalidInput("reason: say why (at least 3 characters)")
    return text[:MAX_REASON]


def audit(
    session: Session,
    runtime: Runtime,
    operator: OperatorInfo,
    action: str,
    *,
    target: str,
    reason: str | None = None,
    **details: Any,
) -> None:
    """Record ``operator`` doing ``action`` (``bericht.replayed``) on ``target`` (``bericht:12``).

    ``details`` hold ids and counts only: the audit log refuses anything BSN-like.
    """
    record_audit(
        session,
        actor=operator.name,
        actor_kind=ActorKind.OPERATOR,
        action=action,
        target=target,
        reason=reason,
        details={"role": operator.role.value, **details},
        now=runtime.clock.now(),
    )
