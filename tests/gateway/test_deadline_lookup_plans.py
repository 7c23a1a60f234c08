"""The hot statements find a message's retour deadline by key, whatever the statistics say.

The worker's result and a retour each look up the message's retour deadline. On a
database whose ``deadlines`` table has never been analysed (a new installation, the bench,
the first minute of a peak) PostgreSQL once chose an index starting with ``kind`` - the
same for nearly every row - or read a partial index whole that it believed empty, and so
read every open deadline per statement: O(messages in flight), twice per round trip.
Migration 0009 leaves the lookups one index to use.

Here the gateway's own code runs on a fresh, never-analysed PostgreSQL database with 200,
400 and 1,000 open deadlines, and ``auto_explain`` hands every executed plan back to the
test (as a notice): each read of ``deadlines`` must go through
``uq_deadlines_message_id_kind`` and touch at most one row - or, on a table of a few
pages, read it whole if the planner costs that lower. Fourteen lookups of each: psycopg
prepares a statement after five runs and PostgreSQL then moves to its generic plan, so
both kinds of plan are read.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import Pool

from gateway.api.beschikking_models import BeschikkingIn
from gateway.clock import FrozenClock
from gateway.delivery.worker import DeliveryWorker
from gateway.inbound.ggk_dispatch import handle_ggk_soap
from gateway.intake import accept_beschikkingen
from gateway.outbox import PARTY_GGK
from gateway.runtime import Runtime
from gateway.store.database import transaction
from gateway.store.migrate import upgrade
from gateway.webhooks import PARTY_WEBHOOK
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, beschikking_body, make_settings
from tests.gateway.test_bulk_intake import valid_bsns
from tests.gateway.test_one_statement_writes import T0, Scripted, retour_for

pytestmark = pytest.mark.postgres

#: Open deadlines. At 200, after some updates and without statistics, the old keys led
#: PostgreSQL to the one starting with ``kind`` (the same for every row): 200 rows read per
#: lookup; at 300-400 a subject-first key on all rows did the same through its second column.
SIZES = (200, 400, 1000)
#: A table this small may be read whole where the planner costs that lower than an index.
SMALL_TABLE_PAGES = 8
#: Lookups per statement: psycopg prepares after 5 runs, PostgreSQL plans generically after 5
#: more, per connection (the pool has a few, taken in turn: the first phase runs twice as many).
LOOKUPS = 14


@pytest.fixture
def never_analysed(postgres_database: str) -> Iterator[str]:
    """A database of its own, just migrated: no table analysed, every index made empty.

    (``postgres_database`` only makes sure the server is there, or skips/fails as the
    suite is configured.)
    """
    admin = create_engine(
        make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    name = f"gw_plans_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_database).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def executed_plans(never_analysed: str) -> Iterator[list[dict[str, Any]]]:
    """Every plan the gateway's PostgreSQL connections execute from now on (``auto_explain``)."""
    dsn = make_url(never_analysed).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as probe:
        try:
            probe.execute("LOAD 'auto_explain'")
        except psycopg.errors.InsufficientPrivilege:
            reason = "auto_explain (contrib) may only be loaded by a superuser here: no plans to read"
            if REQUIRE_POSTGRES:
                pytest.fail(f"GATEWAY_REQUIRE_POSTGRES=1 but {reason}")
            pytest.skip(reason)
    plans: list[dict[str, Any]] = []

    def collect(diagnostic: psycopg.errors.Diagnostic) -> None:
        message = diagnostic.message_primary or ""
        if message.startswith("duration:") and "{" in message:
            plans.append(json.loads(message[message.index("{") :]))

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if not isinstance(dbapi_connection, psycopg.Connection):
            return
        dbapi_connection.add_notice_handler(collect)
        with dbapi_connection.cursor() as cursor:
            for statement in (
                "LOAD 'auto_explain'",
                "SET auto_explain.log_min_duration = 0",
                "SET auto_explain.sample_rate = 1",
                "SET auto_explain.log_analyze = on",
                "SET auto_explain.log_format = json",
                "SET auto_explain.log_level = notice",
                "SET client_min_messages = notice",
            ):
                cursor.execute(statement)
        dbapi_connection.commit()

    event.listen(Pool, "connect", on_connect)
    try:
        yield plans
    finally:
        event.remove(Pool, "connect", on_connect)


def deadline_reads(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if node.get("Relation Name") == "deadlines" and "Scan" in node["Node Type"]:
        yield node
    for child in node.get("Plans", []):
        yield from deadline_reads(child)


def accept(rt: Runtime, bsns: list[str]) -> None:
    """One decision (one JW301, one open retour deadline) per BSN, taken in as the bulk endpoint does."""
    client: dict[str, Any] = beschikking_body()["client"]  # type: ignore[assignment]
    requests = [
        BeschikkingIn.model_validate(
            beschikking_body(beschikkingnummer=f"JW-PLAN-{bsn}", client={**client, "bsn": bsn})
        )
        for bsn in bsns
    ]
    for start in range(0, len(requests), 500):
        with transaction(rt.sessions) as session:
            accept_beschikkingen(session, rt, requests[start : start + 500], None)


def deliver_and_answer(rt: Runtime, clock: FrozenClock, count: int) -> None:
    """``count`` messages delivered (the worker's result statement), then each answered (a retour's)."""
    worker = DeliveryWorker(rt, {PARTY_GGK: Scripted(), PARTY_WEBHOOK: Scripted()}, worker_id="w-plans")
    try:
        delivered = []
        for _ in range(count):
            [claimed] = worker.claim(1)  # one at a time: none left leased between the phases
            clock.advance(timedelta(seconds=1))
            worker.deliver(claimed)
            delivered.append(claimed.id)
    finally:
        worker.close()
    for message_id in delivered:
        clock.advance(timedelta(seconds=1))
        assert handle_ggk_soap(rt, *retour_for(rt, message_id)).status_code == 200


def churn(rt: Runtime) -> None:
    """What deliveries and retours do to the open deadlines, for all of them at once, twice:
    a delivery restarts its deadline, a retour meets it - each a new version of the row and
    of its index entries."""
    with rt.engine.begin() as connection:
        for _ in range(2):
            connection.execute(
                text("UPDATE deadlines SET due_at = due_at + interval '1 second' WHERE met_at IS NULL")
            )


@pytest.mark.parametrize("open_deadlines", SIZES)
def test_the_result_and_the_retour_read_one_deadline_each_on_a_never_analysed_database(
    never_analysed: str, executed_plans: list[dict[str, Any]], tmp_path: Path, open_deadlines: int
) -> None:
    """As in the first minute of a new installation's first peak: a couple of hundred open
    deadlines, each restarted and met once or twice, and nothing has analysed the table."""
    clock = FrozenClock(T0)
    rt = Runtime.create(make_settings(never_analysed, tmp_path), clock)
    try:
        accept(rt, valid_bsns(open_deadlines))
        churn(rt)
        executed_plans.clear()
        deliver_and_answer(rt, clock, LOOKUPS)
        with rt.engine.connect() as connection:
            pages = connection.execute(text("SELECT pg_relation_size('deadlines') / 8192")).scalar_one()
    finally:
        rt.close()

    by_statement: dict[str, list[dict[str, Any]]] = {"result": [], "retour": []}
    for plan in executed_plans:
        query = plan["Query Text"]
        kind = (
            "result"
            if query.startswith("WITH applied")
            else "retour"
            if query.startswith("WITH locked")
            else None
        )
        if kind is not None:
            by_statement[kind].extend(deadline_reads(plan["Plan"]))
    # Every lookup ran and was seen: the result's restart, the retour's check for a late
    # retour and its meeting of the deadline (so the checks below cannot pass on nothing).
    assert len(by_statement["result"]) >= LOOKUPS
    assert len(by_statement["retour"]) >= 2 * LOOKUPS
    for kind, reads in by_statement.items():
        for read in reads:
            if read["Node Type"] == "Seq Scan" and pages <= SMALL_TABLE_PAGES:
                continue
            assert read.get("Index Name") == "uq_deadlines_message_id_kind", (kind, pages, read)
            touched = (
                read["Actual Rows"]
                + read.get("Rows Removed by Filter", 0)
                + read.get("Rows Removed by Index Recheck", 0)
            )
            assert touched <= read["Actual Loops"], (kind, read)
