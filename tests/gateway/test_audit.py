"""The hash-chained audit log: tampering is found at the exact row; appends never fork it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, insert, select, text, update
from typer.testing import CliRunner

from gateway.app import create_app
from gateway.audit import ActorKind, BrokenLink, _stored_details, append_audit, record_audit, verify_chain
from gateway.audit_recorders import record_configuration, settings_fingerprints
from gateway.cli import app as cli_app
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.security_tables import AuditEntry
from tests.conftest import AUTH, BSN, beschikking_body, make_settings
from tests.gateway.security_helpers import cli_environment
from tests.live_server import live_server


def _append(runtime: Runtime, count: int, actor: str = "jdevries") -> None:
    for number in range(count):
        with transaction(runtime.sessions) as session:
            record_audit(
                session,
                actor=actor,
                actor_kind=ActorKind.OPERATOR,
                action="bericht.replayed",
                target=f"bericht:{number + 1}",
                reason="aanbieder vroeg erom",
                details={"route": "ggk:99990001", "n": number},
                now=runtime.clock.now(),
            )


def _verify(runtime: Runtime) -> BrokenLink | None:
    with runtime.sessions() as session:
        return verify_chain(session, batch_size=3)  # small batches: the walk crosses pages


def test_an_untouched_chain_verifies(runtime: Runtime) -> None:
    assert _verify(runtime) is None
    _append(runtime, 7)
    assert _verify(runtime) is None
    with runtime.sessions() as session:
        seqs = session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
    assert seqs == list(range(1, 8))


def test_a_row_changed_with_sql_is_found_at_that_row(runtime: Runtime) -> None:
    _append(runtime, 6)
    with runtime.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 4"))
    broken = _verify(runtime)
    assert broken is not None
    assert broken.seq == 4
    assert "altered" in broken.problem


def test_a_rehashed_row_is_found_by_the_next_link(runtime: Runtime) -> None:
    # A tamperer who also recomputes the changed row's own hash breaks the next link.
    _append(runtime, 5)
    with runtime.sessions() as session, session.begin():
        entry = session.scalars(select(AuditEntry).where(AuditEntry.seq == 2)).one()
        from gateway.audit import _entry_hash

        entry.actor = "someone-else"
        entry.hash = _entry_hash(entry)
    broken = _verify(runtime)
    assert broken is not None and broken.seq == 3
    assert "prev_hash" in broken.problem


def test_a_deleted_row_is_found(runtime: Runtime) -> None:
    _append(runtime, 5)
    with transaction(runtime.sessions) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
    broken = _verify(runtime)
    assert broken is not None and broken.seq == 3 and broken.entry_id is None
    assert "missing" in broken.problem


def test_deleting_the_newest_rows_is_found(runtime: Runtime) -> None:
    _append(runtime, 5)
    with transaction(runtime.sessions) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= 4))
    broken = _verify(runtime)
    assert broken is not None and broken.seq == 4
    assert "missing at the end" in broken.problem


def test_an_entry_with_a_bsn_is_refused(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session, pytest.raises(ValueError) as raised:
        record_audit(
            session,
            actor="jdevries",
            actor_kind="operator",
            action="bsn.revealed",
            target=f"client {BSN}",
            details={},
        )
    assert BSN not in str(raised.value)
    # Digests and ids that merely contain nine digits are fine.
    with transaction(runtime.sessions) as session:
        record_audit(session, actor="x", actor_kind="system", action="t", details={"hash": "ab999900006cd"})


def test_concurrent_appends_keep_one_valid_chain(runtime: Runtime) -> None:
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            _append(runtime, 15, actor=name)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"op{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _verify(runtime) is None
    with runtime.sessions() as session:
        assert session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all() == list(range(1, 61))


def test_an_entry_rolls_back_with_its_transaction(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError), transaction(runtime.sessions) as session:
        record_audit(session, actor="a", actor_kind="operator", action="route.paused", details={})
        raise RuntimeError("the action failed")
    _append(runtime, 1)
    assert _verify(runtime) is None


def test_api_client_writes_are_recorded_without_personal_data(runtime: Runtime) -> None:
    with live_server(create_app(runtime)) as base, httpx.Client(base_url=base, timeout=10) as api:
        assert api.post("/api/v1/beschikkingen", json=beschikking_body(), headers=AUTH).status_code == 201
        bad = beschikking_body(client={**beschikking_body()["client"], "bsn": "999900007"})  # type: ignore[dict-item]
        assert api.post("/api/v1/beschikkingen", json=bad, headers=AUTH).status_code == 422
        assert api.get("/api/v1/events", headers=AUTH).status_code == 200  # a read: not recorded
        assert api.post("/api/v1/beschikkingen", json=beschikking_body()).status_code == 401  # no actor
    with runtime.sessions() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "api.write")).all()
    assert [(e.actor, e.details["route"], e.details["status"]) for e in entries] == [
        ("test-backoffice", "/api/v1/beschikkingen", 201),
        ("test-backoffice", "/api/v1/beschikkingen", 422),
    ]
    assert all(e.actor_kind == "api_client" for e in entries)
    assert _verify(runtime) is None


def test_an_accepted_beschikking_and_its_entry_commit_together(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 201 entry is written in the decision's own transaction: one without the other never commits."""
    from gateway.api import beschikkingen
    from gateway.api.problems import Problem
    from gateway.store.tables import Beschikking

    def broken_recorder(*_args: object, **_kwargs: object) -> None:
        raise Problem(503, "unavailable", "The audit log is unavailable")

    with live_server(create_app(runtime)) as base, httpx.Client(base_url=base, timeout=10) as api:
        monkeypatch.setattr(beschikkingen, "record_api_write", broken_recorder)
        assert api.post("/api/v1/beschikkingen", json=beschikking_body(), headers=AUTH).status_code == 503
        monkeypatch.undo()
        body = beschikking_body()
        headers = {**AUTH, "Idempotency-Key": "k-1"}
        first = api.post("/api/v1/beschikkingen", json=body, headers=headers)
        again = api.post("/api/v1/beschikkingen", json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
    with runtime.sessions() as session:
        assert session.scalars(select(Beschikking.beschikkingnummer)).all() == [body["beschikkingnummer"]]
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "api.write").order_by(AuditEntry.seq)
        ).all()
    # The failed request left no decision and no 201 entry (the middleware recorded the 503 given);
    # the replay is recorded by the middleware too.
    assert [e.details["status"] for e in entries] == [503, 201, 201]
    assert _verify(runtime) is None


def test_configuration_changes_are_recorded_with_the_changed_keys(database_url: str, tmp_path: Path) -> None:
    first = Runtime.create(make_settings(database_url, tmp_path))
    try:
        assert record_configuration(first) is not None  # the first start records the baseline
        assert record_configuration(first) is None  # nothing changed
    finally:
        first.close()
    changed = Runtime.create(
        make_settings(database_url, tmp_path, gemeente_naam="Delft", bsn_hash_key="k" * 32)
    )
    try:
        assert record_configuration(changed) == ["bsn_hash_key", "gemeente_naam"]
        with changed.sessions() as session:
            details = session.scalars(
                select(AuditEntry.details)
                .where(AuditEntry.action == "config.changed")
                .order_by(AuditEntry.seq)
            ).all()
            assert verify_chain(session) is None
    finally:
        changed.close()
    assert "Delft" not in str(details) and "k" * 32 not in str(details)


@pytest.fixture
def cli_env(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with cli_environment(monkeypatch, runtime.settings.effective_database_url):
        yield


def test_cli_audit_verify_reports_the_first_broken_link(runtime: Runtime, cli_env: None) -> None:
    _append(runtime, 4)
    runner = CliRunner()
    intact = runner.invoke(cli_app, ["audit", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "intact: 4 entries" in intact.output
    with transaction(runtime.sessions) as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(action="nothing.happened"))
    broken = runner.invoke(cli_app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "seq 2" in broken.output and "altered" in broken.output


def test_verify_while_the_gateway_appends_reports_no_false_break(runtime: Runtime) -> None:
    """An entry committed between the walk and the head check is new, not a truncated tail."""
    _append(runtime, 4)
    walked: list[bool] = []
    appended: list[bool] = []

    def append_before_head_read(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if "FROM audit_log" in statement:
            walked.append(True)
        elif "FROM audit_chain_head" in statement and walked and not appended:
            appended.append(True)
            _append(runtime, 1, actor="gelijktijdig")  # another connection: the running gateway

    event.listen(runtime.engine, "before_cursor_execute", append_before_head_read)
    try:
        broken = _verify(runtime)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", append_before_head_read)
    assert appended and broken is None
    assert _verify(runtime) is None  # and the new entry links on


def test_configuration_fingerprints_do_not_let_anyone_test_a_password(tmp_path: Path) -> None:
    """A short private-key password must not be checkable offline against the audit log."""

    def fingerprints(password: str) -> dict[str, str]:
        tls = {"cert_file": "/g.pem", "key_file": "/g.key", "ca_file": "/ca.pem", "key_password": password}
        return settings_fingerprints(make_settings("sqlite://", tmp_path, ggk_tls=tls))

    assert fingerprints("welkom01") == fingerprints("geheim")
    assert fingerprints("welkom01")["ggk_tls"] != fingerprints("")["ggk_tls"]  # set vs unset still shows


def test_reordered_and_inserted_rows_are_found(runtime: Runtime) -> None:
    _append(runtime, 5)
    with transaction(runtime.sessions) as session:  # swap entries 2 and 3
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(seq=1000))
        session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(seq=2))
        session.execute(update(AuditEntry).where(AuditEntry.seq == 1000).values(seq=3))
    broken = _verify(runtime)
    assert broken is not None and broken.seq == 2
    with transaction(runtime.sessions) as session:  # undo, then slip a forged entry in at the end
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(seq=1000))
        session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(seq=2))
        session.execute(update(AuditEntry).where(AuditEntry.seq == 1000).values(seq=3))
    assert _verify(runtime) is None
    with transaction(runtime.sessions) as session:
        last = session.scalars(select(AuditEntry).where(AuditEntry.seq == 5)).one()
        session.execute(
            insert(AuditEntry).values(
                seq=6,
                created_at=last.created_at,
                actor="x",
                actor_kind="system",
                action="forged",
                details={},
                prev_hash=last.hash,
                hash="0" * 64,
            )
        )
    broken = _verify(runtime)
    assert broken is not None and broken.seq == 6


class _Colour(StrEnum):
    RED = "red"


class _Level(IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    "details",
    [
        None,
        {},
        {"method": "POST", "route": "/api/v1/beschikkingen", "status": 201},
        {"flag": True, "none": None, "n": -5, "text": "é"},
        {"nested": {"a": 1}},
        {"tuple": (1, 2)},
        {"enum": _Colour.RED, "int_enum": _Level.HIGH},
        {1: "int key"},
        {"float": 1.5},
    ],
)
def test_stored_details_are_what_a_json_round_trip_makes(details: dict[Any, Any] | None) -> None:
    """The round trip is skipped for flat plain dicts: the result must be the same, types too."""
    expected = json.loads(json.dumps(details or {}, default=str))
    stored = _stored_details(details)
    assert stored == expected
    assert [type(v) for v in stored.values()] == [type(v) for v in expected.values()]
    assert [type(k) for k in stored] == [type(k) for k in expected]
    assert stored is not details  # the caller's dict is never stored itself


def test_append_audit_writes_what_record_audit_writes(runtime: Runtime) -> None:
    """Both appends (with and without the ORM object) give rows that hash the same way."""
    values: dict[str, Any] = {
        "actor": "test-backoffice",
        "actor_kind": ActorKind.API_CLIENT,
        "action": "api.write",
        "target": "POST /api/v1/beschikkingen",
        "details": {"method": "POST", "route": "/api/v1/beschikkingen", "status": 201},
        "now": runtime.clock.now(),
    }
    with transaction(runtime.sessions) as session:
        recorded = record_audit(session, **values)
    with transaction(runtime.sessions) as session:
        appended = append_audit(session, **values)
    assert appended.seq == recorded.seq + 1 and appended.prev_hash == recorded.hash
    with runtime.sessions() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    first, second = rows
    assert (first.id, first.seq, first.hash) == (recorded.id, recorded.seq, recorded.hash)
    assert (second.id, second.seq, second.hash) == (appended.id, appended.seq, appended.hash)
    columns = ("created_at", "actor", "actor_kind", "action", "target", "reason", "details")
    assert [getattr(first, c) for c in columns] == [getattr(second, c) for c in columns]
    assert _verify(runtime) is None
