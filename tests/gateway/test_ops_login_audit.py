"""Operator log-in, failed log-in and log-out land in the hash-chained audit log.

Driven over HTTP (the ops API's login/logout) against the real database; the failed
attempt's password must appear nowhere in the log, a BSN typed as the name neither.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from gateway.audit import verify_chain
from gateway.ops.operators import Role
from gateway.runtime import Runtime
from gateway.store.security_tables import AuditEntry
from tests.gateway.ops_helpers import BSN, PASSWORD, bearer, cheap, operator, ops_client

WRONG_PASSWORD = "not-the-right-password-4711"


def _entries(runtime: Runtime, prefix: str = "operator.log") -> list[AuditEntry]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.seq)
            )
        )


def test_login_failed_login_and_logout_are_audited(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    anna = operator(runtime, "anna", Role.OPERATOR)
    with ops_client(runtime) as client:
        refused = client.post("/ops/api/v1/login", json={"name": "anna", "password": WRONG_PASSWORD})
        assert refused.status_code == 401
        unknown = client.post("/ops/api/v1/login", json={"name": "nobody", "password": WRONG_PASSWORD})
        assert unknown.status_code == 401
        as_bsn = client.post("/ops/api/v1/login", json={"name": BSN, "password": WRONG_PASSWORD})
        assert as_bsn.status_code == 401
        headers = bearer(client, "anna", PASSWORD)
        assert client.post("/ops/api/v1/logout", headers=headers).status_code == 204
        # A second logout with the ended session is refused and not audited again.
        assert client.post("/ops/api/v1/logout", headers=headers).status_code == 401

    entries = _entries(runtime)
    summary = [(e.action, e.actor, e.target) for e in entries]
    assert summary == [
        ("operator.login_failed", "anna", f"operator:{anna.id}"),
        ("operator.login_failed", "nobody", None),
        ("operator.login_failed", "[withheld: looked like a BSN]", None),
        ("operator.login", "anna", f"operator:{anna.id}"),
        ("operator.logout", "anna", f"operator:{anna.id}"),
    ]
    assert [e.details.get("known_name") for e in entries[:3]] == [True, False, False]
    assert all(e.actor_kind == "operator" for e in entries)
    with runtime.sessions() as session:
        everything = json.dumps(
            [[e.actor, e.target, e.reason, e.details] for e in session.scalars(select(AuditEntry))]
        )
        assert verify_chain(session) is None
    assert WRONG_PASSWORD not in everything and PASSWORD not in everything
    assert BSN not in everything


def test_console_login_failure_and_logout_are_audited(runtime: Runtime) -> None:
    """The console's form login goes through the same audited path."""
    runtime = cheap(runtime)
    operator(runtime, "bert", Role.VIEWER)
    with ops_client(runtime) as client:
        form = client.get("/console/login")
        token = form.cookies.get("gw_console_login")
        assert token
        refused = client.post(
            "/console/login",
            data={"username": "bert", "password": WRONG_PASSWORD, "csrf_token": token},
        )
        assert refused.status_code == 401
    actions = [(e.action, e.actor) for e in _entries(runtime)]
    assert actions == [("operator.login_failed", "bert")]
