"""``gateway operator create`` and the development operator; the worker loop's readiness."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import structlog
import structlog.testing
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.cli import _prepare, app
from gateway.ops.errors import NotAuthenticated
from gateway.ops.operators import Role, create_operator, login, resolve_session, seed_development_operator
from gateway.runtime import Runtime
from gateway.settings import DEV_OPERATOR_NAME, DEV_OPERATOR_PASSWORD, Mode, load_settings
from gateway.store.database import transaction
from gateway.store.security_tables import AuditEntry
from tests.conftest import beschikking_body, make_settings
from tests.gateway.ops_helpers import PASSWORD, cheap
from tests.gateway.stack import running_stack


def test_operator_create_reads_the_password_and_refuses_bad_roles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("GATEWAY_SETTINGS_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("GATEWAY_OPS__PASSWORD_MEMORY_KIB", "1024")
    monkeypatch.setenv("GATEWAY_OPS__PASSWORD_TIME_COST", "1")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        _create_operators(CliRunner())
    finally:  # the CLI logs onto the runner's (closed) streams: put logging back
        structlog.reset_defaults()
        root.handlers, root.level = handlers, level
    runtime = Runtime.create(load_settings())
    try:
        with transaction(runtime.sessions) as session:
            assert login(session, runtime, "marieke", PASSWORD).operator.role is Role.OPERATOR
    finally:
        runtime.close()


def _create_operators(runner: CliRunner) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    created = runner.invoke(
        app,
        ["operator", "create", "marieke", "--role", "operator", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert created.exit_code == 0, created.output
    assert "marieke created with role operator" in created.stdout and PASSWORD not in created.stdout
    prompted = runner.invoke(app, ["operator", "create", "joost"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0 and "role viewer" in prompted.stdout
    bad = runner.invoke(
        app, ["operator", "create", "x", "--role", "admin", "--password-stdin"], input=PASSWORD
    )
    assert bad.exit_code == 2
    listed = runner.invoke(app, ["operator", "list"])
    assert listed.stdout.split() == ["joost", "viewer", "marieke", "operator"]


def test_the_development_operator_is_seeded_once(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    for _ in range(2):
        with transaction(runtime.sessions) as session:
            seed_development_operator(session, runtime)
    with transaction(runtime.sessions) as session:
        grant = login(session, runtime, DEV_OPERATOR_NAME, DEV_OPERATOR_PASSWORD)
    assert grant.operator.role is Role.PRIVACY_OFFICER


def test_a_production_start_disables_the_development_operator_and_ends_its_sessions(
    runtime: Runtime, tmp_path: Path
) -> None:
    """A database taken over from development mode must not let the README's login in."""
    runtime = cheap(runtime)
    with transaction(runtime.sessions) as session:
        seed_development_operator(session, runtime)
        create_operator(session, runtime, "marieke", PASSWORD, Role.OPERATOR)
    with transaction(runtime.sessions) as session:
        dev_grant = login(session, runtime, DEV_OPERATOR_NAME, DEV_OPERATOR_PASSWORD)
    keys = {"keys": {"k1": "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE="}}
    settings = make_settings(runtime.settings.effective_database_url, tmp_path, encryption=keys)
    with structlog.testing.capture_logs() as logs:
        production = _prepare(
            settings.model_copy(update={"mode": Mode.PRODUCTION, "ops": runtime.settings.ops})
        )
        _prepare(production.settings).close()  # a second start: nothing more to do, no second entry
    try:
        assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == [
            "development_operator_disabled"
        ]
        with transaction(production.sessions) as session:
            with pytest.raises(NotAuthenticated):
                resolve_session(session, production, dev_grant.token)  # its session has ended
            with pytest.raises(NotAuthenticated):
                login(session, production, DEV_OPERATOR_NAME, DEV_OPERATOR_PASSWORD)
            assert (
                login(session, production, "marieke", PASSWORD).operator.name == "marieke"
            )  # others untouched
            disabled = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "operator.disabled")
            ).all()
        assert [(entry.actor, entry.actor_kind) for entry in disabled] == [("gateway", "system")]
    finally:
        production.close()


def test_ready_checks_the_background_threads_and_the_overview_sees_traffic(
    database_url: str, tmp_path: Path
) -> None:
    from gateway.ops.overview import overview

    with running_stack(database_url, tmp_path) as stack:
        accepted = stack.post_beschikking(beschikking_body())
        stack.wait_for_state(accepted["berichten"][0]["id"], "answered")
        ready = stack.api.get("/health/ready").json()
        assert ready["ready"] and ready["checks"]["delivery-worker"] == "ok"
        assert ready["checks"]["overdue-scanner"] == "ok"
        with stack.runtime.sessions() as session:
            picture = overview(session, stack.runtime)
    [ggk] = picture.parties
    [route] = ggk.routes
    assert route.route == "ggk:99990001" and route.by_state == {"answered": 1}
    assert route.throughput.delivered_last_hour == 1 and route.throughput.answered_last_day == 1
    assert route.delivery_latency.count == 1 and route.delivery_latency.p50_s is not None
    assert route.answer_latency.count == 1 and not route.paused and not route.failing
