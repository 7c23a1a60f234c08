"""Operator accounts, sessions and roles on the ops API; API keys are refused there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.clock import FrozenClock
from gateway.ops.errors import Forbidden, InvalidInput, NotAuthenticated
from gateway.ops.operators import Role, create_operator, csrf_token_for, login, resolve_session
from gateway.runtime import Runtime
from gateway.settings import DEV_API_KEY
from gateway.store.database import transaction
from gateway.store.ops_tables import Operator, OperatorSession
from gateway.store.security_tables import AuditEntry
from tests.conftest import TEST_API_KEY
from tests.gateway.ops_helpers import (
    BSN,
    PASSWORD,
    bearer,
    beschikking,
    cheap,
    insert_messages,
    ops_client,
    three_operators,
)


def test_passwords_are_argon2id_and_tokens_are_stored_hashed(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    with transaction(runtime.sessions) as session:
        create_operator(session, runtime, "anna", PASSWORD, "viewer")
        grant = login(session, runtime, "anna", PASSWORD)
    with runtime.sessions() as session:
        row = session.scalars(select(Operator).where(Operator.name == "anna")).one()
        stored = session.scalars(select(OperatorSession)).one()
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    assert grant.token not in stored.token_hash and len(stored.token_hash) == 64


def test_bad_accounts_are_refused(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    with transaction(runtime.sessions) as session:
        with pytest.raises(InvalidInput, match="role"):
            create_operator(session, runtime, "x", PASSWORD, "admin")
        with pytest.raises(InvalidInput, match="12 characters"):
            create_operator(session, runtime, "x", "short", "viewer")
        create_operator(session, runtime, "anna", PASSWORD, "viewer")
        with pytest.raises(NotAuthenticated):
            login(session, runtime, "anna", PASSWORD + "x")
        with pytest.raises(NotAuthenticated):
            login(session, runtime, "nobody", PASSWORD)


def test_sessions_expire_when_idle_and_absolutely(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    clock = FrozenClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    frozen = Runtime(runtime.settings, runtime.engine, runtime.sessions, clock)
    idle = timedelta(minutes=frozen.settings.ops.session_idle_minutes)
    with transaction(frozen.sessions) as session:
        create_operator(session, frozen, "anna", PASSWORD, "viewer")
        token = login(session, frozen, "anna", PASSWORD).token
    for _ in range(30):  # used within the idle limit: alive, until the absolute limit
        clock.advance(idle - timedelta(minutes=1))
        with transaction(frozen.sessions) as session:
            try:
                resolve_session(session, frozen, token)
            except NotAuthenticated:
                break
    else:
        raise AssertionError("the session outlived its absolute limit")
    assert clock.now() - datetime(2026, 12, 1, 9, tzinfo=UTC) >= timedelta(
        hours=frozen.settings.ops.session_absolute_hours
    )
    with transaction(frozen.sessions) as session:
        fresh = login(session, frozen, "anna", PASSWORD).token
    clock.advance(idle)
    with transaction(frozen.sessions) as session, pytest.raises(NotAuthenticated, match="expired"):
        resolve_session(session, frozen, fresh)


def test_api_keys_do_not_open_the_ops_api(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    three_operators(runtime)
    with ops_client(runtime) as client:
        for headers in (
            {},
            {"X-API-Key": TEST_API_KEY},
            {"Authorization": f"Bearer {TEST_API_KEY}"},
            {"Authorization": f"Bearer {DEV_API_KEY}"},
            {"Cookie": f"gw_ops_session={TEST_API_KEY}"},
        ):
            response = client.get("/ops/api/v1/overview", headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["content-type"].startswith("application/problem+json")
        ok = bearer(client, "op-viewer")
        assert client.get("/ops/api/v1/overview", headers=ok).status_code == 200
        token = ok["Authorization"].split()[1]
        client.cookies.set("gw_ops_session", token)
        assert client.get("/ops/api/v1/me").json()["role"] == "viewer"
        # A write with the cookie alone could come from another site: it needs the CSRF token.
        assert client.post("/ops/api/v1/logout").status_code == 403
        csrf = {"X-CSRF-Token": csrf_token_for(token, runtime)}
        assert client.post("/ops/api/v1/logout", headers=csrf).status_code == 204
        client.cookies.clear()
        assert client.get("/ops/api/v1/me", headers=ok).status_code == 401


def test_roles_are_enforced_and_reveals_audited(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    ops = three_operators(runtime)
    [message_id] = insert_messages(runtime, 1, state="queued", beschikking_id=beschikking(runtime))
    reason = {"reason": "client called about the toewijzing"}
    url = f"/ops/api/v1/messages/{message_id}"
    with ops_client(runtime) as client:
        viewer, operator, officer = (bearer(client, ops[r].name) for r in Role)
        assert client.get(url, headers=viewer).status_code == 200
        assert client.post(f"{url}/park", json=reason, headers=viewer).status_code == 403
        assert client.post(f"{url}/reveal", json=reason, headers=viewer).status_code == 403
        assert client.post(f"{url}/reveal", json=reason, headers=operator).status_code == 403
        assert client.post(f"{url}/park", json=reason, headers=operator).status_code == 204
        no_reason = client.post(f"{url}/unpark", json={"reason": " "}, headers=operator)
        assert no_reason.status_code == 422
        revealed = client.post(f"{url}/reveal", json=reason, headers=officer)
        assert revealed.status_code == 200
        assert revealed.json()["bsn"] == BSN and BSN in revealed.json()["payload"]
        assert revealed.headers["cache-control"] == "no-store"
        masked = client.get(url, headers=officer).text
        assert BSN not in masked and "Jansen" not in masked and "2711AA" not in masked
    with runtime.sessions() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    mine = [(e.actor, e.action, e.target) for e in entries if e.actor_kind == "operator"]
    assert (ops[Role.OPERATOR].name, "bericht.parked", f"bericht:{message_id}") in mine
    assert (ops[Role.PRIVACY_OFFICER].name, "bsn.revealed", f"bericht:{message_id}") in mine
    assert len([m for m in mine if m[1] == "bsn.revealed"]) == 1  # the refused attempts left nothing
    assert all(BSN not in f"{e.details} {e.reason} {e.target}" for e in entries)


def test_forbidden_is_raised_by_the_services_too(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    from gateway.ops.detail import reveal_personal_data

    ops = three_operators(runtime)
    [message_id] = insert_messages(runtime, 1)
    with transaction(runtime.sessions) as session, pytest.raises(Forbidden):
        reveal_personal_data(session, runtime, ops[Role.OPERATOR], message_id, "just curious")
