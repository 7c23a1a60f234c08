"""Retention: bodies go after body_days, rows after metadata_days; nothing in flight is touched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from gateway.audit import verify_chain
from gateway.cli import app as cli_app
from gateway.clock import FrozenClock, SystemClock
from gateway.retention import prune, prune_when_due
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.security_tables import AuditEntry, RetentionRun
from gateway.store.tables import DeliveryAttempt, Event, InboundMessage, Message, MessageState
from tests.conftest import beschikking_body, make_settings
from tests.gateway.security_helpers import cli_environment
from tests.gateway.stack import running_stack

RETENTION = {"body_days": 30, "metadata_days": 365}


def _flows(database_url: str, tmp_path: Path) -> tuple[int, int]:
    """Two JW301s answered by the mock; the second is then put back to awaiting its retour."""
    with running_stack(database_url, tmp_path, retention=RETENTION) as stack:
        ids = []
        for bsn in ("999900006", "999900018"):
            client: dict[str, Any] = {**beschikking_body()["client"], "bsn": bsn}  # type: ignore[dict-item]
            created = stack.post_beschikking(beschikking_body(client=client))
            ids.append(created["berichten"][0]["id"])
        for message_id in ids:
            stack.wait_for_state(message_id, "answered")
    finished, in_flight = ids
    with transaction(stack.runtime.sessions) as session:
        session.execute(update(Message).where(Message.id == in_flight).values(state=MessageState.DELIVERED))
    return finished, in_flight


def _runtime_at(database_url: str, tmp_path: Path, days_later: int) -> Runtime:
    clock = FrozenClock(SystemClock().now() + timedelta(days=days_later))
    return Runtime.create(make_settings(database_url, tmp_path, retention=RETENTION), clock)


def test_bodies_then_metadata_are_pruned_and_in_flight_messages_kept(
    database_url: str, tmp_path: Path
) -> None:
    finished, in_flight = _flows(database_url, tmp_path)

    early = _runtime_at(database_url, tmp_path, 10)
    try:
        assert prune(early) == {
            "message_bodies": 0,
            "inbound_bodies": 0,
            "corv_wire_bodies": 0,
            "corv_inbound_bodies": 0,
            "inbound_messages": 0,
            "messages": 0,
        }
    finally:
        early.close()

    later = _runtime_at(database_url, tmp_path, 40)
    try:
        removed = prune(later)
        assert removed["message_bodies"] == 1 and removed["messages"] == 0
        assert removed["inbound_bodies"] >= 1  # the JW302 retour (and its transport answers)
        with later.sessions() as session:
            done = session.get(Message, finished)
            waiting = session.get(Message, in_flight)
            assert done is not None and (done.payload, done.wire_body) == (b"", b"")
            assert done.state == MessageState.ANSWERED and done.referentienummer  # metadata kept
            assert waiting is not None and waiting.payload != b"" and waiting.wire_body != b""
            retour = session.scalars(
                select(InboundMessage).where(InboundMessage.matched_message_id == finished)
            ).one()
            assert retour.body == b"" and retour.payload is None
    finally:
        later.close()

    much_later = _runtime_at(database_url, tmp_path, 400)
    try:
        removed = prune(much_later)
        assert removed["messages"] == 1 and removed["inbound_messages"] >= 1
        with much_later.sessions() as session:
            assert session.get(Message, finished) is None
            assert session.get(Message, in_flight) is not None  # still awaiting its retour
            assert session.scalar(select(func.count()).where(DeliveryAttempt.message_id == finished)) == 0
            assert session.scalar(select(func.count()).where(Event.message_id == finished)) == 0
            runs = session.scalars(select(RetentionRun).order_by(RetentionRun.id)).all()
            assert [run.removed.get("messages") for run in runs][-3:] == [0, 0, 1]
            audited = session.scalars(
                select(AuditEntry.details)
                .where(AuditEntry.action == "retention.pruned")
                .order_by(AuditEntry.seq)
            ).all()
            assert audited[-1]["removed"]["messages"] == 1
            assert verify_chain(session) is None
    finally:
        much_later.close()


def test_the_scanner_job_prunes_at_most_once_per_interval(database_url: str, tmp_path: Path) -> None:
    runtime = _runtime_at(database_url, tmp_path, 0)
    try:
        first = prune_when_due(runtime)
        assert first is not None
        assert prune_when_due(runtime) is None  # the last run is too recent
        assert isinstance(runtime.clock, FrozenClock)
        runtime.clock.advance(timedelta(minutes=61))
        assert prune_when_due(runtime) is not None
    finally:
        runtime.close()


def test_metadata_retention_shorter_than_body_retention_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="metadata_days must be 0 or at least"):
        make_settings("sqlite://", tmp_path, retention={"body_days": 90, "metadata_days": 30})


def test_cli_prune_reports_what_it_removed(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cli_environment(monkeypatch, database_url):
        result = CliRunner().invoke(cli_app, ["prune"])
    assert result.exit_code == 0, result.output
    assert "pruned: message_bodies 0" in result.output
