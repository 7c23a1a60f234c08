"""Replay as a tracked job, park/unpark, and pausing a route (the worker skips it)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from gateway.delivery.worker import DeliveryWorker
from gateway.ops.actions import park_message, set_route_paused, unpark_message
from gateway.ops.errors import Conflict, InvalidInput
from gateway.ops.operators import Role
from gateway.ops.replay import (
    confirm_replay,
    get_replay_job,
    preview_replay,
    process_batch,
    replay_job_items,
)
from gateway.ops.search import SearchQuery
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.security_tables import AuditEntry
from gateway.store.tables import Message
from gateway.store.tracking_tables import Deadline
from tests.gateway.ops_helpers import (
    bearer,
    cheap,
    insert_messages,
    ops_client,
    three_operators,
    with_ops_settings,
)

REASON = "GGk outage of 3 December is over"


def test_a_thousand_parked_messages_replay_as_one_tracked_job(runtime: Runtime) -> None:
    runtime = with_ops_settings(cheap(runtime), replay_batch_size=250)
    operator = three_operators(runtime)[Role.OPERATOR]
    originals = insert_messages(runtime, 1000, state="parked")
    insert_messages(runtime, 5, state="parked", route="ggk:99990002")  # not in the filter
    with transaction(runtime.sessions) as session:
        preview = preview_replay(
            session, runtime, operator, reason=REASON, query=SearchQuery(state="parked", route="ggk:99990001")
        )
    assert preview.job.total == 1000 and preview.job.status == "preview" and preview.skipped == 0
    with transaction(runtime.sessions) as session, pytest.raises(InvalidInput):
        confirm_replay(session, runtime, operator, preview.job.id, "not-the-token")
    with transaction(runtime.sessions) as session:
        confirm_replay(session, runtime, operator, preview.job.id, preview.confirmation_token)

    progress = []
    while process_batch(runtime, preview.job.id):
        with runtime.sessions() as session:
            job = get_replay_job(session, preview.job.id)
        progress.append((job.status, job.processed))
    assert progress == [("running", 250), ("running", 500), ("running", 750), ("running", 1000)]
    with runtime.sessions() as session:
        job = get_replay_job(session, preview.job.id)
        assert (job.status, job.total, job.processed, job.succeeded, job.failed) == (
            "done",
            1000,
            1000,
            1000,
            0,
        )
        items = replay_job_items(session, job.id, limit=1000)
        replays = {
            m.replay_of_id or 0: m
            for m in session.scalars(select(Message).where(Message.replay_of_id.is_not(None)))
        }
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "bericht.replayed")).all()
        deadlines = session.scalar(
            select(func.count(Deadline.id)).where(Deadline.message_id.in_([m.id for m in replays.values()]))
        )
    assert sorted(replays) == originals == [i.message_id for i in items]
    assert all(replays[i.message_id].id == i.new_message_id for i in items)
    for copy in list(replays.values())[:50]:
        assert copy.state == "queued" and copy.referentienummer.encode() in copy.wire_body
    with runtime.sessions() as session:
        refs = dict(
            session.execute(
                select(Message.id, Message.referentienummer).where(Message.id.in_(originals))
            ).all()
        )
    assert all(refs[i] != replays[i].referentienummer for i in originals)
    assert deadlines == 0  # the originals had no retour deadline, so neither have the replays
    assert len(audited) == 1 and audited[0].details["count"] == 1000 and audited[0].reason == REASON
    assert audited[0].actor == operator.name


def test_a_job_interrupted_mid_way_is_finished_by_the_next_processor(runtime: Runtime) -> None:
    runtime = with_ops_settings(cheap(runtime), replay_batch_size=10)
    operator = three_operators(runtime)[Role.OPERATOR]
    insert_messages(runtime, 25, state="expired")
    with transaction(runtime.sessions) as session:
        preview = preview_replay(
            session, runtime, operator, reason=REASON, query=SearchQuery(state="expired")
        )
        confirm_replay(session, runtime, operator, preview.job.id, preview.confirmation_token)
    assert process_batch(runtime, preview.job.id) == 10  # then the process "crashes"
    from gateway.ops.replay import process_replay_jobs

    assert process_replay_jobs(runtime) == 15
    with runtime.sessions() as session:
        job = get_replay_job(session, preview.job.id)
    assert (job.status, job.succeeded) == ("done", 25)
    assert process_replay_jobs(runtime) == 0  # nothing twice
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(Message.id)).where(Message.replay_of_id.is_not(None))) == 25


def test_replay_refuses_what_cannot_be_replayed(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    ops = three_operators(runtime)
    [queued] = insert_messages(runtime, 1, state="queued")
    [webhook] = insert_messages(runtime, 1, state="parked", party="webhook", route="webhook:crm")
    [rejected] = insert_messages(runtime, 1, state="rejected")
    with transaction(runtime.sessions) as session:
        for message_id in (queued, webhook, rejected):
            with pytest.raises(Conflict):
                preview_replay(session, runtime, ops[Role.OPERATOR], reason=REASON, message_id=message_id)
        with pytest.raises(InvalidInput, match="reason"):
            preview_replay(session, runtime, ops[Role.OPERATOR], reason="", message_id=queued)


def test_replay_over_the_api_with_confirmation_and_progress(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    ops = three_operators(runtime)
    [original] = insert_messages(runtime, 1, state="parked")
    with ops_client(runtime) as client:
        viewer, operator = bearer(client, ops[Role.VIEWER].name), bearer(client, ops[Role.OPERATOR].name)
        body = {"message_id": original, "reason": REASON}
        assert client.post("/ops/api/v1/replay-jobs", json=body, headers=viewer).status_code == 403
        preview = client.post("/ops/api/v1/replay-jobs", json=body, headers=operator)
        assert preview.status_code == 201, preview.text
        job_id, token = preview.json()["job"]["id"], preview.json()["confirmation_token"]
        assert preview.json()["job"]["total"] == 1
        confirmed = client.post(
            f"/ops/api/v1/replay-jobs/{job_id}/confirm", json={"confirmation_token": token}, headers=operator
        )
        assert confirmed.status_code == 200 and confirmed.json()["status"] == "running"
        again = client.post(
            f"/ops/api/v1/replay-jobs/{job_id}/confirm", json={"confirmation_token": token}, headers=operator
        )
        assert again.status_code == 409
        deadline = time.monotonic() + 10
        while (job := client.get(f"/ops/api/v1/replay-jobs/{job_id}", headers=viewer).json())[
            "status"
        ] != "done":
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
        assert job["percent"] == 100 and job["succeeded"] == 1
        [item] = client.get(f"/ops/api/v1/replay-jobs/{job_id}/items", headers=viewer).json()["items"]
        detail = client.get(f"/ops/api/v1/messages/{item['new_message_id']}", headers=viewer).json()
        assert detail["message"]["replay_of_id"] == original
        assert {"relation": "replay_of", "message_id": original}.items() <= detail["related"][0].items()
        source = client.get(f"/ops/api/v1/messages/{original}", headers=viewer).json()
        assert any(r["relation"] == "replayed_as" for r in source["related"]) and not source["can_replay"]


def test_park_unpark_and_a_paused_route_is_not_claimed(runtime: Runtime) -> None:
    runtime = cheap(runtime)
    operator = three_operators(runtime)[Role.OPERATOR]
    [first] = insert_messages(runtime, 1, state="queued", route="ggk:99990001")
    [second] = insert_messages(runtime, 1, state="queued", route="ggk:99990002")
    with transaction(runtime.sessions) as session:
        park_message(session, runtime, operator, first, "check the client's address first")
        with pytest.raises(Conflict):
            park_message(session, runtime, operator, first, "twice")
    with transaction(runtime.sessions) as session:
        unpark_message(session, runtime, operator, first, "address checked")
        set_route_paused(session, runtime, operator, "ggk:99990002", paused=True, reason="aanbieder migrates")
    worker = DeliveryWorker(runtime, transports={})
    try:
        claimed = {c.id for c in worker.claim(10)}
        assert claimed == {first}
        with transaction(runtime.sessions) as session:
            set_route_paused(
                session, runtime, operator, "ggk:99990002", paused=False, reason="migration done"
            )
        assert {c.id for c in worker.claim(10)} == {second}
    finally:
        worker.close()
    with runtime.sessions() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert [a for a in actions if a.startswith(("bericht.", "route."))] == [
        "bericht.parked",
        "bericht.unparked",
        "route.paused",
        "route.resumed",
    ]
