"""What the gateway writes to the audit log by itself: API clients' writes and configuration changes.

- Every write (POST/PUT/PATCH/DELETE) under ``/api/`` by an identified back-office client
  becomes an ``api.write`` entry: client name, method, the route *template*
  (``/api/v1/berichten/{bericht_id}/replay``, never the concrete URL: it could carry a
  number a client typed) and the response status. Refused writes (4xx) are recorded too:
  they show what a client tried. Requests without a valid key are not (no actor to name;
  rate limits deal with those).
- At start-up the effective settings are fingerprinted per top-level key and compared with
  the last ``config.changed`` entry; a difference is recorded with the names of the keys
  that changed. Values never enter the log, only a 64-bit SHA-256 fingerprint per key.
  Passwords (private keys, database), which may be short, enter it only as "set"/"unset",
  so the log cannot be used to test guesses. The other secrets must be high-entropy for
  their own sake (encryption keys: 32 random bytes, checked; the BSN hash key: 32+ random
  bytes, docs/security.md; webhook secrets: 16+ characters), so their fingerprint shows a
  change without letting anyone guess them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import MutableMapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from gateway.api_keys import find_client
from gateway.audit import ActorKind, append_audit, lock_chain, record_audit
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store.database import transaction
from gateway.store.security_tables import AuditEntry
from gateway.tls.server import AsgiApp, Receive, Scope, Send

log = structlog.get_logger("gateway.audit")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ACTION_API_WRITE = "api.write"
ACTION_CONFIG_CHANGED = "config.changed"


#: Set in the request state by an endpoint that recorded its own ``api.write`` entry in the
#: transaction of its work (:func:`record_api_write`): the middleware then records nothing.
STATE_RECORDED = "api_write_recorded"


def _client_name(runtime: Runtime, request: Request) -> str | None:
    """The authenticated client: set by the auth dependency, else looked up from the key."""
    state = request.scope.get("state") or {}
    client = state.get("api_client")
    if client is not None:
        return str(client.name)
    if state.get("api_key_checked"):
        return None  # the limits middleware found the key invalid: no second lookup
    key = request.headers.get("x-api-key", "").strip()
    if not key:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        key = value.strip() if scheme.lower() == "bearer" else ""
    if not key:
        return None
    with runtime.sessions() as session:
        found = find_client(session, key, runtime.clock.now())
        return None if found is None else found.name


def _add_entry(session: Session, runtime: Runtime, request: Request, actor: str, status: int) -> None:
    route = request.scope.get("route")
    template = getattr(route, "path", None) or "(no route)"
    method = request.method
    append_audit(  # record_audit without the ORM object it would return: this runs per write
        session,
        actor=actor,
        actor_kind=ActorKind.API_CLIENT,
        action=ACTION_API_WRITE,
        target=f"{method} {template}",
        details={"method": method, "route": template, "status": status},
        now=runtime.clock.now(),
    )


def record_api_write(session: Session, runtime: Runtime, request: Request, actor: str, status: int) -> None:
    """Add the request's ``api.write`` entry to the endpoint's own transaction.

    Why: the middleware records after the response, in a transaction (and a commit, and a
    turn at the chain's lock) of its own. An endpoint that already knows its status before
    it commits records the entry here instead, so the write and its entry commit together
    (one commit, not two, and no committed write without its entry). Call it last before
    the commit - the chain's lock is held from here until then - and call
    :func:`mark_api_write_recorded` only once the commit succeeded: if it fails, the entry
    rolled back with the work and the middleware records the answer actually given.
    """
    _add_entry(session, runtime, request, actor, status)


def mark_api_write_recorded(request: Request) -> None:
    """The endpoint's transaction with its ``api.write`` entry committed: skip the middleware's."""
    request.scope.setdefault("state", {})[STATE_RECORDED] = True


def _record_write(runtime: Runtime, request: Request, status: int) -> None:
    name = _client_name(runtime, request)
    if name is None:
        return
    with transaction(runtime.sessions) as session:
        _add_entry(session, runtime, request, name, status)


class _ApiWriteAudit:
    """Pure ASGI: records a write once its status is known, before the response goes out.

    Pure rather than ``@app.middleware("http")``: that form runs every request (reads
    too) through an extra task and a streamed copy of the response. The entry is still
    written before the response starts, so a client that sees its answer finds the entry.
    """

    def __init__(self, app: AsgiApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") not in WRITE_METHODS
            or not scope["path"].startswith("/api/")
        ):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})  # shared with the endpoint (request.state)

        async def audited_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start" and not scope["state"].get(STATE_RECORDED):
                request = Request(scope)
                try:
                    await run_in_threadpool(_record_write, self.runtime, request, message["status"])
                except Exception:
                    # The write itself is committed; a lost audit entry must be visible.
                    log.exception("audit_api_write_failed", method=request.method)
            await send(message)

        await self.app(scope, receive, audited_send)


def install_api_write_audit(app: FastAPI, runtime: Runtime) -> None:
    """Record every back-office write after its response is known."""
    app.add_middleware(_ApiWriteAudit, runtime=runtime)


def _without_password(url: str) -> str:
    if not url:
        return url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable)"


_FINGERPRINT_DOMAIN = b"gateway-settings-fingerprint-v1:"
#: Passwords (of private keys, of the database) may be short and human-chosen: an unkeyed
#: fingerprint would let anyone reading the audit log test guesses offline. Only whether
#: they are set is fingerprinted (a new key file shows as a changed path or is re-read anyway).
_GUESSABLE_SECRETS = ("password",)


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            name: ("(set)" if item else "(unset)")
            if any(marker in name.lower() for marker in _GUESSABLE_SECRETS)
            and not isinstance(item, dict | list)
            else _without_secrets(item)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value


def settings_fingerprints(settings: Settings) -> dict[str, str]:
    """Per top-level setting: a fingerprint of its effective value, guessable secrets left out."""
    values = _without_secrets(settings.model_dump(mode="json"))
    values["database_url"] = _without_password(settings.effective_database_url)
    return {
        name: hashlib.sha256(
            _FINGERPRINT_DOMAIN + json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()[:16]
        for name, value in sorted(values.items())
    }


def record_configuration(runtime: Runtime) -> list[str] | None:
    """Compare the effective settings with the last recorded ones; record a change.

    Returns the names of the changed keys (all of them the first time), or None when
    nothing changed. The chain's lock is taken first, so two processes starting at once
    record one change, not two.
    """
    fingerprints = settings_fingerprints(runtime.settings)
    overall = hashlib.sha256(json.dumps(fingerprints, sort_keys=True).encode()).hexdigest()
    with transaction(runtime.sessions) as session:
        lock_chain(session)
        last = session.scalars(
            select(AuditEntry.details)
            .where(AuditEntry.action == ACTION_CONFIG_CHANGED)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).first()
        previous: dict[str, str] = (last or {}).get("fingerprints", {})
        if last is not None and last.get("settings_hash") == overall:
            return None
        changed = sorted(
            name for name in set(fingerprints) | set(previous) if fingerprints.get(name) != previous.get(name)
        )
        record_audit(
            session,
            actor="gateway",
            actor_kind=ActorKind.SYSTEM,
            action=ACTION_CONFIG_CHANGED,
            target="settings",
            details={
                "settings_hash": overall,
                "changed": changed,
                "first": last is None,
                "mode": runtime.settings.mode.value,
                "fingerprints": fingerprints,
            },
            now=runtime.clock.now(),
        )
    log.info("configuration_change_recorded", changed=changed)
    return changed
