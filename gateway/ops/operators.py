"""Operators: local accounts with a role, Argon2id passwords and server-side sessions.

Roles are ordered: a ``viewer`` sees everything masked; an ``operator`` may also act
(replay, park, pause, mark handled); a ``privacy_officer`` may do all that and reveal a
BSN, each reveal audited. Sessions are random tokens held by the browser (cookie) or an
API client (``Authorization: Bearer``); only their SHA-256 is stored. A session ends
after ``ops.session_idle_minutes`` unused or ``ops.session_absolute_hours`` after login,
whichever comes first. Back-office API keys are a different kind of credential and are
never accepted here (they are not session tokens, so they simply do not resolve).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.audit import ActorKind, record_audit
from gateway.ops.errors import Forbidden, InvalidInput, NotAuthenticated
from gateway.ops.login_throttle import Refusal, TooManyAttempts, throttle_for
from gateway.runtime import Runtime
from gateway.settings import DEV_OPERATOR_NAME, DEV_OPERATOR_PASSWORD
from gateway.store.database import transaction
from gateway.store.ops_tables import Operator, OperatorSession

log = structlog.get_logger("gateway.ops")

#: The console's cookie; the ops API accepts it too (besides ``Authorization: Bearer``).
SESSION_COOKIE = "gw_ops_session"


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int) -> tuple[PasswordHasher, str]:
    """Argon2id with the configured cost, and a hash verified against when the name is
    unknown (so timing does not tell names apart)."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=4)
    return hasher, hasher.hash("no-such-operator")


def _hasher_for(runtime: Runtime) -> tuple[PasswordHasher, str]:
    return _hasher(runtime.settings.ops.password_time_cost, runtime.settings.ops.password_memory_kib)


MIN_PASSWORD_LENGTH = 12
#: last_seen_at is written at most this often (not on every request).
_TOUCH_EVERY = timedelta(seconds=30)


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    PRIVACY_OFFICER = "privacy_officer"


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.PRIVACY_OFFICER: 2}


@dataclass(frozen=True, slots=True)
class OperatorInfo:
    """Who is acting; what every service takes instead of an ORM row."""

    id: int
    name: str
    role: Role

    def may(self, needed: Role) -> bool:
        """Roles are ordered: a privacy officer may do what an operator may, and more."""
        return _RANK[self.role] >= _RANK[needed]

    @property
    def can_act(self) -> bool:
        return self.may(Role.OPERATOR)

    @property
    def can_reveal(self) -> bool:
        return self.role is Role.PRIVACY_OFFICER


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """A new login: ``token`` goes into the cookie or the Bearer header - shown once."""

    token: str
    operator: OperatorInfo
    expires_at: datetime
    #: A CSRF token bound to this session (see :func:`csrf_token_for`), for the console's forms.
    csrf_token: str


def require_role(operator: OperatorInfo, needed: Role) -> None:
    """Raise :class:`Forbidden` unless ``operator`` has at least role ``needed``."""
    if not operator.may(needed):
        raise Forbidden(f"this needs the role {needed.value}; {operator.name} is {operator.role.value}")


def _info(row: Operator) -> OperatorInfo:
    return OperatorInfo(id=row.id, name=row.name, role=Role(row.role))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(token: str, runtime: Runtime) -> str:
    """A per-session CSRF token: HMAC of the session token under the installation key.

    Stateless (nothing stored) and useless without the session cookie it belongs to.
    """
    return hmac.new(runtime.settings.hash_key, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def _check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}") from None


def create_operator(session: Session, runtime: Runtime, name: str, password: str, role: str) -> OperatorInfo:
    """Register an operator (``gateway operator create``). The password is stored as Argon2id."""
    checked = _check_role(role)
    name = name.strip()
    if not 1 <= len(name) <= 100 or not name.isprintable():
        raise InvalidInput("an operator name has 1-100 printable characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(Operator.id).where(Operator.name == name)) is not None:
        raise InvalidInput(f"an operator named {name!r} exists already")
    row = Operator(
        name=name,
        password_hash=_hasher_for(runtime)[0].hash(password),
        role=checked.value,
        active=True,
        created_at=runtime.clock.now(),
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        actor="gateway operator create",
        actor_kind=ActorKind.CLI,
        action="operator.created",
        target=f"operator:{row.id}",
        details={"name": name, "role": checked.value},
        now=row.created_at,
    )
    log.info("operator_created", operator=name, role=checked.value)
    return _info(row)


def set_role(session: Session, name: str, role: str) -> OperatorInfo:
    row = session.scalars(select(Operator).where(Operator.name == name)).first()
    if row is None:
        raise InvalidInput(f"no operator named {name!r}")
    row.role = _check_role(role).value
    return _info(row)


def list_operators(session: Session) -> list[OperatorInfo]:
    return [_info(row) for row in session.scalars(select(Operator).order_by(Operator.name))]


def login(session: Session, runtime: Runtime, name: str, password: str) -> SessionGrant:
    """Check name and password; start a session. Raises :class:`NotAuthenticated`.

    The same error (and about the same time) for an unknown name and a wrong password.
    """
    row = session.scalars(select(Operator).where(Operator.name == name.strip())).first()
    hasher, dummy_hash = _hasher_for(runtime)
    try:
        hasher.verify(row.password_hash if row is not None else dummy_hash, password)
        ok = row is not None and row.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None:
        log.info("operator_login_refused")
        raise NotAuthenticated("wrong name or password")
    if hasher.check_needs_rehash(row.password_hash):
        row.password_hash = hasher.hash(password)
    now = runtime.clock.now()
    settings = runtime.settings.ops
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=settings.session_absolute_hours)
    session.add(
        OperatorSession(
            token_hash=_token_hash(token),
            operator_id=row.id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )
    row.last_login_at = now
    session.flush()
    info = _info(row)
    record_audit(
        session,
        actor=row.name,
        actor_kind=ActorKind.OPERATOR,
        action="operator.login",
        target=f"operator:{row.id}",
        details={"role": row.role},
        now=now,
    )
    log.info("operator_logged_in", operator=row.name)
    return SessionGrant(
        token=token, operator=info, expires_at=expires_at, csrf_token=csrf_token_for(token, runtime)
    )


def attempt_login(
    runtime: Runtime, name: str, password: str, client_address: str | None = None
) -> SessionGrant:
    """:func:`login` in a transaction of its own; a refusal is audited, then re-raised.

    Throttled first (:mod:`gateway.ops.login_throttle`): while the typed name or the
    client address is locked out, :class:`TooManyAttempts` is raised without checking
    the password; only the first such refusal of a lock-out is audited.

    The refusal's audit entry needs a second transaction: the first one is rolled back
    by the :class:`NotAuthenticated` that leaves it. It opens only after the first has
    ended, so it never waits on a lock the same request holds.
    """
    throttle = throttle_for(runtime.engine)
    refusal = throttle.check(name, client_address, runtime.clock.now())
    if refusal is not None:
        if refusal.first_of_lockout:
            with transaction(runtime.sessions) as session:
                record_throttled_login(session, runtime, name, refusal)
        raise TooManyAttempts(refusal.retry_after_s)
    try:
        with transaction(runtime.sessions) as session:
            grant = login(session, runtime, name, password)
    except NotAuthenticated:
        throttle.failed(name, client_address, runtime.clock.now(), runtime.settings.ops)
        with transaction(runtime.sessions) as session:
            record_failed_login(session, runtime, name)
        raise
    throttle.succeeded(name)
    return grant


def record_throttled_login(session: Session, runtime: Runtime, name: str, refusal: Refusal) -> None:
    """Audit the first refused attempt of a lock-out (later ones only add to nothing)."""
    log.warning("operator_login_throttled", scope=refusal.scope, retry_after_s=refusal.retry_after_s)
    _audit_typed_name(
        session,
        runtime,
        name,
        action="operator.login_throttled",
        target=None,  # never looked up: a lock-out tells nothing about the name
        reason=f"too many failed log-ins for this {refusal.scope}; locked out",
        details={"scope": refusal.scope, "retry_after_s": refusal.retry_after_s},
    )


def record_failed_login(session: Session, runtime: Runtime, name: str) -> None:
    """Audit a refused login: the name as typed (never the password), known or not.

    A name that holds a BSN (typed in the wrong field) is withheld: the audit log
    refuses personal data.
    """
    known = session.scalar(select(Operator.id).where(Operator.name == name.strip()[:100]))
    _audit_typed_name(
        session,
        runtime,
        name,
        action="operator.login_failed",
        target=f"operator:{known}" if known is not None else None,
        reason="wrong name or password, or the account is inactive",
        details={"known_name": known is not None},
    )


def _audit_typed_name(
    session: Session,
    runtime: Runtime,
    name: str,
    *,
    action: str,
    target: str | None,
    reason: str,
    details: dict[str, object],
) -> None:
    """An audit entry whose actor is the name as typed (withheld when it looks like a BSN)."""
    typed = name.strip()[:100]

    def record(actor: str) -> None:
        record_audit(
            session,
            actor=actor,
            actor_kind=ActorKind.OPERATOR,
            action=action,
            target=target,
            reason=reason,
            details=details,
            now=runtime.clock.now(),
        )

    try:
        record(typed if typed.isprintable() else repr(typed)[:100])
    except ValueError:
        record("[withheld: looked like a BSN]")


def resolve_session(session: Session, runtime: Runtime, token: str | None) -> OperatorInfo:
    """The operator behind a session token, or :class:`NotAuthenticated`.

    Refreshes the idle timer. The caller commits (the API does it per request).
    """
    if not token or len(token) > 200:
        raise NotAuthenticated("a session is required: log in first")
    now = runtime.clock.now()
    found = session.execute(
        select(OperatorSession, Operator)
        .join(Operator, Operator.id == OperatorSession.operator_id)
        .where(OperatorSession.token_hash == _token_hash(token))
    ).first()
    if found is None:
        raise NotAuthenticated("the session is not valid: log in again")
    login_session, operator = found
    idle = timedelta(minutes=runtime.settings.ops.session_idle_minutes)
    if (
        login_session.ended_at is not None
        or login_session.expires_at <= now
        or login_session.last_seen_at + idle <= now
        or not operator.active
    ):
        raise NotAuthenticated("the session has expired: log in again")
    if now - login_session.last_seen_at >= _TOUCH_EVERY:
        login_session.last_seen_at = now
    return _info(operator)


def logout(session: Session, runtime: Runtime, token: str) -> None:
    """End a session (idempotent); the first end is audited (``operator.logout``)."""
    now = runtime.clock.now()
    ended = session.execute(
        update(OperatorSession)
        .where(OperatorSession.token_hash == _token_hash(token), OperatorSession.ended_at.is_(None))
        .values(ended_at=now)
        .returning(OperatorSession.operator_id)
    ).first()
    if ended is None:
        return
    operator = session.get(Operator, ended.operator_id)
    if operator is not None:
        record_audit(
            session,
            actor=operator.name,
            actor_kind=ActorKind.OPERATOR,
            action="operator.logout",
            target=f"operator:{operator.id}",
            now=now,
        )
        log.info("operator_logged_out", operator=operator.name)


def seed_development_operator(session: Session, runtime: Runtime) -> None:
    """Development mode: the documented login ``dev-operator`` (a privacy officer) exists."""
    if session.scalar(select(Operator.id).where(Operator.name == DEV_OPERATOR_NAME)) is None:
        create_operator(session, runtime, DEV_OPERATOR_NAME, DEV_OPERATOR_PASSWORD, Role.PRIVACY_OFFICER)


def retire_development_operator(runtime: Runtime) -> bool:
    """Production start-up: disable the published ``dev-operator`` login and end its sessions.

    A database first run in development mode holds a privacy officer whose name and
    password are printed in the README; it must not open the console (or reveal BSNs)
    on the production gateway that takes the database over. Returns whether it did.
    """
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        row = session.scalars(
            select(Operator).where(Operator.name == DEV_OPERATOR_NAME, Operator.active.is_(True))
        ).first()
        if row is None:
            return False
        row.active = False
        result = session.execute(
            update(OperatorSession)
            .where(OperatorSession.operator_id == row.id, OperatorSession.ended_at.is_(None))
            .values(ended_at=now)
        )
        ended: int = result.rowcount  # type: ignore[attr-defined]  # the ORM's typing hides it
        record_audit(
            session,
            actor="gateway",
            actor_kind=ActorKind.SYSTEM,
            action="operator.disabled",
            target=f"operator:{row.id}",
            reason="the development operator's login is published; production mode disables it",
            details={"name": DEV_OPERATOR_NAME, "sessions_ended": ended},
            now=now,
        )
    log.warning("development_operator_disabled", operator=DEV_OPERATOR_NAME, sessions_ended=ended)
    return True


def operator_by_name(session: Session, name: str) -> OperatorInfo | None:
    row = session.scalars(select(Operator).where(Operator.name == name)).first()
    return _info(row) if row is not None else None
