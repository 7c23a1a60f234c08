"""A worker process killed mid-send: the message is not lost and not sent as a new one.

Real processes, real sockets, a real kill: ``gateway worker`` runs as a subprocess
against the test database (SQLite file and PostgreSQL); the mock GGk accepts the Di01
and then holds the answer, the worker is SIGKILLed while it waits, and a second worker
process must rescue the expired lease and re-send the *same* envelope. The mock then
answers IB016 ("already have it"), which after an unknown outcome counts as delivered.
The aanbieder's retour finally reaches the gateway's inbound endpoint (served in-process)
and settles the message as answered.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import select

from gateway.api.beschikking_models import BeschikkingIn
from gateway.app import create_app
from gateway.intake import accept_beschikking
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.tables import DeliveryAttempt, Message, MessageState
from mocks.ggk import MockGgkConfig
from mocks.ggk import create_app as create_mock_app
from mocks.ggk.behaviour import Behaviour
from tests.conftest import BSN, PROJECT_ROOT, beschikking_body, make_settings
from tests.live_server import free_port, live_server

LEASE_S = 3
#: The mock takes the Di01 in, then holds its Bv03 this long: the worker is killed meanwhile.
HOLD_S = 7.0
#: The aanbieder's retour comes this long after acceptance - after the second worker's re-send,
#: which needs the second worker process started (slow on a loaded machine) and the lease expired.
RETOUR_DELAY_S = 20.0
#: How long a worker process may take to start and make its first claim.
STARTUP_BOUND_S = 60.0

T = TypeVar("T")


def _wait_for(what: str, probe: Callable[[], T | None], timeout_s: float = 15.0) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


@contextmanager
def _worker_process(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``gateway worker`` as its own process; killed and reaped whatever happens."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from gateway.cli import app; app()", "worker"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


def _log_events(log_path: Path) -> list[dict[str, Any]]:
    lines = []
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def _worker_env(database_url: str, ggk_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        GATEWAY_SETTINGS_FILE=str(tmp_path / "no-such-file.env"),
        GATEWAY_DATA_DIR=str(tmp_path),
        GATEWAY_DATABASE_URL=database_url,
        GATEWAY_GGK_URL=ggk_url,
        GATEWAY_LOG_JSON="true",
        GATEWAY_DELIVERY__LEASE_S=str(LEASE_S),
        GATEWAY_DELIVERY__POLL_INTERVAL_S="0.05",
        # Longer than the kill takes, so the first worker is certainly still waiting.
        GATEWAY_DELIVERY__SEND_TIMEOUT_S="15",
        GATEWAY_DELIVERY__CONNECT_TIMEOUT_S="1",
        GATEWAY_RETRY__INITIAL_DELAY_S="0.1",
        GATEWAY_RETRY__MAX_DELAY_S="0.5",
        GATEWAY_RETRY__JITTER_S="0",
    )
    return env


def test_a_worker_killed_mid_send_is_recovered_by_another_without_a_duplicate(
    database_url: str, tmp_path: Path
) -> None:
    gateway_port, mock_port = free_port(), free_port()
    runtime = Runtime.create(make_settings(database_url, tmp_path, port=gateway_port, mock_port=mock_port))
    mock_app = create_mock_app(
        MockGgkConfig(
            callback_url=runtime.settings.inbound_ggk_url,
            retour_delay_s=RETOUR_DELAY_S,
            callback_backoff_s=0.1,
            callback_attempts=20,
            behaviours=[Behaviour(mode="timeout", delay_s=HOLD_S, times=1)],
        )
    )

    def stored() -> Message:
        with runtime.sessions() as session:
            row = session.get(Message, message_id)
            assert row is not None
            return row

    with ExitStack() as stack:
        stack.callback(runtime.close)
        mock_url = stack.enter_context(live_server(mock_app, mock_port))
        # The gateway's inbound side only (no worker in this process): the retour's target.
        stack.enter_context(live_server(create_app(runtime), gateway_port))
        mock = stack.enter_context(httpx.Client(base_url=mock_url, timeout=10))
        env = _worker_env(runtime.settings.effective_database_url, f"{mock_url}/ggk/soap", tmp_path)

        with transaction(runtime.sessions) as session:
            result = accept_beschikking(
                session, runtime, BeschikkingIn.model_validate(beschikking_body()), None
            )
        message_id = result.berichten[0].id
        reference = stored().referentienummer

        def received() -> dict[str, Any] | None:
            for row in mock.get("/_mock/received").json():
                if row["referentienummer"] == reference:
                    found: dict[str, Any] = row
                    return found
            return None

        def accepted() -> dict[str, Any] | None:
            row = received()
            return row if row is not None and row["accepted"] else None

        def settled() -> Message | None:
            row = stored()
            return None if row.state in (MessageState.QUEUED, MessageState.SENDING) else row

        def answered_message() -> Message | None:
            row = stored()
            return row if row.state == MessageState.ANSWERED else None

        # Worker A takes the message and sends it; the mock has it and holds the answer.
        log_a = tmp_path / "worker-a.log"
        with _worker_process(env, log_a) as worker_a:
            # Generous bounds: a worker process imports the whole gateway before its first claim,
            # which takes many seconds on a loaded two-core CI machine.
            first = _wait_for("the mock to accept the Di01", accepted, STARTUP_BOUND_S)
            assert first["times_seen"] == 1
            in_flight = stored()
            assert in_flight.state == MessageState.SENDING
            assert in_flight.lease_owner is not None and in_flight.lease_owner.split(":")[1] == str(
                worker_a.pid
            )
            worker_a.send_signal(signal.SIGKILL)
            assert worker_a.wait(timeout=10) == -signal.SIGKILL

        # Nothing recorded: the message stays leased to the dead worker until the lease runs out.
        after_kill = stored()
        assert after_kill.state == MessageState.SENDING
        assert after_kill.lease_owner == in_flight.lease_owner
        assert after_kill.attempts == 1

        log_b = tmp_path / "worker-b.log"
        with _worker_process(env, log_b) as worker_b:
            delivered = _wait_for("the second worker to deliver", settled, STARTUP_BOUND_S)
            assert delivered.state == MessageState.DELIVERED, delivered.last_error
            answered = _wait_for("the aanbieder's retour", answered_message, RETOUR_DELAY_S + 10)
            worker_b.send_signal(signal.SIGTERM)
            assert worker_b.wait(timeout=15) == 0  # a graceful stop on SIGTERM

        again = received()
        stats = mock.get("/_mock/stats").json()

    # The re-send was byte-for-byte the same message: the mock saw one referentienummer twice.
    assert again is not None and again["times_seen"] == 2
    assert stats["duplicates_seen"] == 1
    assert stats["callbacks_delivered"] == 1
    assert answered.referentienummer == reference
    assert answered.attempts == 2
    assert answered.lease_owner is None and answered.retour_codes == []
    assert answered.delivered_at is not None and answered.answered_at is not None

    with runtime.sessions() as session:
        rows = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id)).all()
        sending = session.scalars(select(Message.id).where(Message.state == MessageState.SENDING)).all()
    # Worker A died before recording; worker B's attempt 2 got IB016 after an unknown outcome.
    assert [(a.attempt_no, a.outcome, a.code, a.applied) for a in rows] == [
        (1, "unknown", None, True),  # the killed worker's attempt, recorded by the rescuer
        (2, "delivered", "IB016", True),
    ]
    # The lease had to run out first: no second send while the first one might still be running.
    assert in_flight.lease_expires_at is not None and rows[1].started_at >= in_flight.lease_expires_at
    assert rows[0].worker == in_flight.lease_owner  # the lost attempt is charged to the dead worker
    worker_b_id = rows[1].worker
    assert worker_b_id.split(":")[1] == str(worker_b.pid)
    assert sending == []

    rescued = [e for e in _log_events(log_b) if e.get("event") == "lease_rescued"]
    assert [(e["message_id"], e["worker"]) for e in rescued] == [(message_id, worker_b_id)]
    assert not [e for e in _log_events(log_b) if e.get("level") in ("error", "critical")]
    assert BSN not in log_a.read_text() + log_b.read_text()
