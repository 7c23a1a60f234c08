"""Log-in throttling over HTTP: the ops API's login and the console's login form.

A frozen clock moves the lock-outs along (no waiting). The answers for a known and an
unknown name are the same, a refused attempt never checks the password, and only the
first refusal of each lock-out lands in the audit log.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from gateway.app import create_app
from gateway.clock import FrozenClock
from gateway.ops.login_throttle import LoginThrottle
from gateway.ops.operators import Role
from gateway.runtime import Runtime
from gateway.store.security_tables import AuditEntry
from tests.gateway.ops_helpers import PASSWORD, cheap, operator, ops_client, with_ops_settings
from tests.live_server import live_server

WRONG = "not-the-right-password-4711"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _frozen(runtime: Runtime, **ops: Any) -> tuple[Runtime, FrozenClock]:
    clock = FrozenClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    throttled = with_ops_settings(cheap(runtime), **ops)
    return Runtime(throttled.settings, throttled.engine, throttled.sessions, clock), clock


def _login(client: httpx.Client, name: str, password: str) -> httpx.Response:
    return client.post("/ops/api/v1/login", json={"name": name, "password": password})


def _throttled(runtime: Runtime) -> list[tuple[str, dict[str, Any]]]:
    with runtime.sessions() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "operator.login_throttled").order_by(AuditEntry.seq)
        )
        return [(entry.actor, dict(entry.details or {})) for entry in entries]


def test_failures_per_name_lock_out_with_a_growing_retry_after_the_same_for_unknown_names(
    runtime: Runtime,
) -> None:
    runtime, clock = _frozen(
        runtime, login_max_failures_per_name=3, login_lockout_initial_s=60, login_lockout_max_s=100
    )
    operator(runtime, "anna", Role.OPERATOR)
    with ops_client(runtime) as client:
        for name in ("anna", "nobody"):
            assert [_login(client, name, WRONG).status_code for _ in range(3)] == [401, 401, 401]
        answers = {name: _login(client, name, PASSWORD) for name in ("anna", "nobody")}
        for name, answer in answers.items():
            assert answer.status_code == 429, name  # even the right password: not checked at all
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["retry-after"] == "60"
        bodies = [{k: v for k, v in a.json().items() if k != "instance"} for a in answers.values()]
        assert bodies[0] == bodies[1]  # a lock-out does not tell a known name from an unknown one
        assert "too many failed log-ins" in bodies[0]["title"]
        assert _login(client, "anna", PASSWORD).status_code == 429  # refused again, not audited again
        assert _login(client, "marieke", WRONG).status_code == 401  # other names are not locked

        clock.advance(timedelta(seconds=30))
        assert _login(client, "anna", PASSWORD).headers["retry-after"] == "30"
        clock.advance(timedelta(seconds=31))
        assert _login(client, "anna", PASSWORD).status_code == 200  # the lock-out is over

        # The next lock-out of the same key lasts twice as long (capped at the maximum).
        assert [_login(client, "nobody", WRONG).status_code for _ in range(3)] == [401, 401, 401]
        assert _login(client, "nobody", WRONG).headers["retry-after"] == "100"

    assert _throttled(runtime) == [
        ("anna", {"scope": "name", "retry_after_s": 60}),
        ("nobody", {"scope": "name", "retry_after_s": 60}),
        ("nobody", {"scope": "name", "retry_after_s": 100}),
    ]


def test_failures_from_one_address_lock_out_every_name_from_there(runtime: Runtime) -> None:
    runtime, clock = _frozen(runtime, login_max_failures_per_name=100, login_max_failures_per_address=4)
    operator(runtime, "anna", Role.OPERATOR)
    with ops_client(runtime) as client:
        statuses = [_login(client, f"guess-{n}", WRONG).status_code for n in range(4)]
        assert statuses == [401, 401, 401, 401]
        locked = _login(client, "anna", PASSWORD)
        assert locked.status_code == 429 and locked.headers["retry-after"] == "60"
        clock.advance(timedelta(seconds=60))
        assert _login(client, "anna", PASSWORD).status_code == 200
    assert _throttled(runtime) == [("anna", {"scope": "address", "retry_after_s": 60})]


def test_the_console_login_page_says_to_wait(runtime: Runtime) -> None:
    runtime, _clock = _frozen(runtime, login_max_failures_per_name=2)
    operator(runtime, "anna", Role.OPERATOR)

    def submit(client: httpx.Client, password: str) -> httpx.Response:
        page = client.get("/console/login")
        token = CSRF.search(page.text)
        assert token is not None
        form = {"username": "anna", "password": password, "csrf_token": token.group(1)}
        return client.post("/console/login", data=form)

    with live_server(create_app(runtime)) as url, httpx.Client(base_url=url, timeout=10) as client:
        assert [submit(client, WRONG).status_code for _ in range(2)] == [401, 401]
        locked = submit(client, PASSWORD)
    assert locked.status_code == 429 and locked.headers["retry-after"] == "60"
    assert "Too many failed log-ins. Please wait 1 minute(s) before trying again." in locked.text
    assert "gw_ops_session" not in locked.headers.get("set-cookie", "")


def test_the_throttle_remembers_a_bounded_number_of_names_and_addresses(runtime: Runtime) -> None:
    settings = with_ops_settings(runtime, login_throttle_max_entries=100).settings.ops
    throttle = LoginThrottle()
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    for n in range(1000):
        throttle.failed(f"guess-{n}", f"192.0.2.{n % 250}", now, settings)
    assert len(throttle) == 100
