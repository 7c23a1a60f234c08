"""Bulk intake: ``POST /api/v1/beschikkingen/bulk`` (NDJSON) and ``gateway import FILE``.

Over real loopback HTTP against the gateway with the mock GGk, and the CLI in-process,
each on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import func, select
from typer.testing import CliRunner

from connectors.xsd import SchemaValidationError
from gateway.bulk_intake import import_lines
from gateway.cli import app
from gateway.runtime import Runtime
from gateway.store.tables import Base, Beschikking, Message, Toewijzing
from tests.conftest import AUTH, beschikking_body
from tests.gateway.stack import Stack, running_stack

BSNS = ["999900006", "999900018", "999900031", "999900043", "999900055"]


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    with running_stack(database_url, tmp_path) as running:
        yield running


def distinct_bodies(count: int, prefix: str = "BULK", start: int = 0) -> list[dict[str, Any]]:
    """Decisions that do not overlap: another client or another product per line."""
    bodies = []
    tag = uuid.uuid4().hex[:6]
    for n in range(start, start + count):
        body = beschikking_body(beschikkingnummer=f"{prefix}-{tag}-{n}")
        client = dict(body["client"])  # type: ignore[call-overload]
        client["bsn"] = BSNS[n % len(BSNS)]
        body["client"] = client
        body["producten"] = [
            {
                "categorie": "45",
                "code": f"45A{n // len(BSNS):02d}",
                "aanbieder_agb": f"9999000{n % 5 + 1}",
                "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
            }
        ]
        bodies.append(body)
    return bodies


def ndjson(lines: list[Any]) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines
    )


def post_bulk(stack: Stack, content: bytes) -> list[dict[str, Any]]:
    response = stack.api.post(
        "/api/v1/beschikkingen/bulk",
        content=content,
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Beschikking)) or 0,
            session.scalar(select(func.count()).select_from(Message)) or 0,
        )


def test_each_line_gets_its_result_and_a_bad_line_never_undoes_a_good_one(stack: Stack) -> None:
    good = distinct_bodies(4)
    invalid_bsn = beschikking_body(client={**beschikking_body()["client"], "bsn": "123456789"})  # type: ignore[dict-item]
    lines: list[Any] = [
        good[0],
        b"{not json",
        good[1],
        invalid_bsn,
        b"",
        good[2],
        {"wet": "jeugdwet"},
        good[3],
    ]
    results = post_bulk(stack, ndjson(lines))
    *per_line, last = results
    assert last == {"summary": {"accepted": 4, "duplicate": 0, "rejected": 3, "error": 0}}
    assert [(r["line"], r["status"]) for r in per_line] == [
        (1, "accepted"),
        (2, "rejected"),
        (3, "accepted"),
        (4, "rejected"),
        (6, "accepted"),
        (7, "rejected"),
        (8, "accepted"),
    ]
    by_line = {r["line"]: r for r in per_line}
    assert by_line[2]["problem"]["type"].endswith("malformed-json")
    assert {"field": "client.bsn", "rule": "bsn-elfproef"}.items() <= by_line[4]["problem"]["errors"][
        0
    ].items()
    assert "123456789" not in json.dumps(by_line[4])
    assert by_line[7]["problem"]["status"] == 422
    # Accepted means stored and queued: the same decision and messages as the single endpoint gives.
    for line in (1, 3, 6, 8):
        detail = stack.api.get(f"/api/v1/beschikkingen/{by_line[line]['id']}", headers=AUTH).json()
        assert [b["id"] for b in detail["berichten"]] == by_line[line]["berichten"]
        assert detail["beschikkingnummer"] == good[[1, 3, 6, 8].index(line)]["beschikkingnummer"]
    assert counts(stack.runtime) == (4, 4)
    for line in (1, 8):
        stack.wait_for_state(by_line[line]["berichten"][0], "answered")


def test_sending_the_same_file_again_accepts_nothing_twice(stack: Stack) -> None:
    bodies = distinct_bodies(5)
    first = post_bulk(stack, ndjson(bodies))
    assert first[-1]["summary"]["accepted"] == 5
    again = post_bulk(stack, ndjson([*bodies, *distinct_bodies(1, "NEW", start=5)]))
    assert again[-1] == {"summary": {"accepted": 1, "duplicate": 5, "rejected": 0, "error": 0}}
    for before, after in zip(first[:5], again[:5], strict=True):
        assert after["status"] == "duplicate"
        assert after["id"] == before["id"]
        assert "berichten" not in after
    assert counts(stack.runtime) == (6, 6)


def test_a_repeated_line_within_one_file_is_a_duplicate(stack: Stack) -> None:
    [body] = distinct_bodies(1)
    results = post_bulk(stack, ndjson([body, body]))
    assert [r.get("status") for r in results[:2]] == ["accepted", "duplicate"]
    assert results[1]["id"] == results[0]["id"]


def test_more_lines_than_a_batch_are_all_answered_in_order(runtime: Runtime) -> None:
    bodies = distinct_bodies(25)
    lines = [json.dumps(b) for b in bodies]
    lines[12] = "[]"
    results = list(import_lines(runtime, lines, None, batch_size=10))
    assert [r.line for r in results] == list(range(1, 26))
    assert [r.status for r in results].count("accepted") == 24
    assert results[12].status == "rejected"  # line 13


def test_hostile_lines_are_refused_one_by_one(runtime: Runtime) -> None:
    [good] = distinct_bodies(1)
    lines: list[bytes | str] = [
        b"[" * 100_000 + b"]" * 100_000,  # nesting deeper than any parser should follow
        b"\xff\xfe not utf-8",
        b"{" + b" " * 300_000 + b"}",  # longer than a line may be
        json.dumps(good),
    ]
    results = list(import_lines(runtime, lines, None))
    assert [(r.line, r.status) for r in results] == [
        (1, "rejected"),
        (2, "rejected"),
        (3, "rejected"),
        (4, "accepted"),
    ]
    assert results[2].problem is not None and results[2].problem["status"] == 413


def test_bulk_needs_the_write_scope(stack: Stack) -> None:
    response = stack.api.post("/api/v1/beschikkingen/bulk", content=b"{}\n")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


# -- gateway import FILE -----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GATEWAY_SETTINGS_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("GATEWAY_LOG_JSON", "false")
    monkeypatch.setenv("GATEWAY_LOG_LEVEL", "WARNING")
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield database_url
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = handlers, level


def test_import_reports_per_line_and_a_rerun_continues_where_it_stopped(
    cli_env: str, runtime: Runtime, tmp_path: Path
) -> None:
    bodies = distinct_bodies(6)
    # A crash after the first three lines: the file was only partly imported.
    list(import_lines(runtime, [json.dumps(b) for b in bodies[:3]], None))
    source = tmp_path / "jaarwisseling.ndjson"
    source.write_bytes(ndjson([*bodies, b'{"wet": "wmo"}']))
    results = tmp_path / "results.ndjson"
    outcome = CliRunner().invoke(app, ["import", str(source), "--results", str(results)])
    assert outcome.exit_code == 1, outcome.output  # one line was rejected
    assert "accepted 3, duplicate 3, rejected 1, error 0" in outcome.output
    assert "line 7: rejected" in outcome.output
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["line"], r["status"]) for r in lines] == [
        (1, "duplicate"),
        (2, "duplicate"),
        (3, "duplicate"),
        (4, "accepted"),
        (5, "accepted"),
        (6, "accepted"),
        (7, "rejected"),
    ]
    assert counts(runtime) == (6, 6)
    again = CliRunner().invoke(app, ["import", str(source)])
    assert "accepted 0, duplicate 6, rejected 1" in again.output
    assert counts(runtime) == (6, 6)


def test_import_help_names_its_options() -> None:
    output = CliRunner().invoke(app, ["import", "--help"]).output
    for option in ("--indicaties", "--results", "--batch-size"):
        assert option in output


# -- the set-based path stores what one-by-one storing stores ----------------------------------------------


def valid_bsns(count: int, first: int = 999910000) -> list[str]:
    """Test BSNs (elfproef) other than those the tests above use."""
    found: list[str] = []
    number = first
    while len(found) < count:
        digits = str(number)
        total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - int(digits[8])
        if total % 11 == 0:
            found.append(digits)
        number += 1
    return found


def wmo_with_pgb(bsn: str, nummer: str) -> dict[str, Any]:
    """A Wmo decision with a ZIN and a PGB product: a 301, a TKB and a CAK melding."""
    body = beschikking_body(
        beschikkingnummer=nummer,
        wet="wmo",
        producten=[
            {
                "categorie": "02",
                "code": "02A01",
                "aanbieder_agb": "99990002",
                "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
            },
            {
                "categorie": "03",
                "code": "03A01",
                "leveringsvorm": "PGB",
                "hulpverlener": "zelfstandige",
                "omvang": {"volume": 3, "eenheid": "04", "frequentie": "2"},
            },
        ],
    )
    body["client"] = {
        **body["client"],  # type: ignore[dict-item]
        "bsn": bsn,
        "geboortedatum": "1948-02-02",
        "vertegenwoordiger": {
            "naam": {"achternaam": "Jansen", "voorletters": "K"},
            "relatie": "bewindvoerder",
        },
    }
    return body


def mixed_batch() -> tuple[list[Any], list[Any]]:
    """(lines stored before, the batch): independent lines and lines that depend on earlier ones."""
    bsns = valid_bsns(20)

    def jw(n: int, bsn: str, *codes: str, **periode: str) -> dict[str, Any]:
        body = beschikking_body(beschikkingnummer=f"MIX-{n}")
        body["client"] = {**body["client"], "bsn": bsn}  # type: ignore[dict-item]
        body["producten"] = [
            {
                "categorie": "45",
                "code": code,
                "aanbieder_agb": f"9999000{index + 1}",
                "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
            }
            for index, code in enumerate(codes)
        ]
        if periode:
            body["periode"] = periode
        return body

    before = [jw(0, bsns[0], "45A01")]  # the client already has a toewijzing: the 301 carries both
    batch: list[Any] = [
        jw(1, bsns[0], "45A02"),
        jw(2, bsns[1], "45A01", "45A02"),  # two aanbieders: two 301s
        jw(3, bsns[2], "45A01"),
        jw(4, bsns[2], "45A02"),  # the same client again: checked against line 3
        jw(5, bsns[2], "45A01"),  # overlaps line 3's toewijzing (TR302): rejected
        jw(3, bsns[3], "45A01"),  # line 3's number again: a duplicate
        jw(0, bsns[4], "45A01"),  # stored before: a duplicate
        wmo_with_pgb(bsns[5], "MIX-WMO-1"),
        {"wet": "jeugdwet"},  # invalid
        jw(6, bsns[6], "45A01", begindatum="2026-12-01", einddatum="2027-02-28"),
        jw(7, bsns[7], "45A03"),
        # Enough independent lines that every table gets many rows at once (PostgreSQL:
        # ids taken from the sequences first, see gateway.bulk_ids).
        *(jw(n, bsns[n], "45A01", "45A02") for n in range(8, 20)),
    ]
    return before, batch


_ID_COLUMNS = {
    "beschikking_id": "B",
    "toewijzing_id": "T",
    "vervangt_id": "T",
    "message_id": "M",
    "laatste_message_id": "M",
    "corrects_message_id": "M",
    "corrected_by_message_id": "M",
}
_ID_KEYS = {
    "voorzieningen": "T",
    "toewijzingnummer": "T",
    "toewijzingen": "T",
    "vervangt": "T",
    "berichten": "M",
    "message_id": "M",
}
#: Not intake's: the API client and its key (kept when emptying), the audit chain's head.
_KEPT = ("api_clients", "api_keys", "alembic_version", "audit_chain_head")
_MOMENTS = {"id", "created_at", "updated_at", "received_at", "changed_at", "next_attempt_at", "started_at"}
_MOMENTS |= {"due_at", "referentienummer", "wire_body", "toewijzingstijd"}


def stored_picture(runtime: Runtime) -> dict[str, Any]:
    """Everything intake stores, with ids named by what they are (the order of storing may
    differ) and without the moment of storing or random numbers."""
    labels: dict[str, dict[int, str]] = {"B": {}, "T": {}, "M": {}}
    picture: dict[str, Any] = {}
    with runtime.sessions() as session:
        for b in session.scalars(select(Beschikking)):
            labels["B"][b.id] = f"{b.law}/{b.beschikkingnummer}"
        for t in session.scalars(select(Toewijzing)):
            labels["T"][t.id] = f"{labels['B'][t.beschikking_id]}/{t.productcode}/{t.aanbieder_agb}"
        for m in session.scalars(select(Message)):
            assert m.bericht_identificatie == str(m.id)
            labels["M"][m.id] = (
                f"{labels['B'].get(m.beschikking_id or 0, m.bsn_hash)}/{m.message_type}/{m.receiver}"
            )
        assert len(set(labels["M"].values())) == len(labels["M"])

        def relabel(key: str, value: Any) -> Any:
            kind = _ID_COLUMNS.get(key) or _ID_KEYS.get(key)
            if isinstance(value, dict):
                return {k: relabel(k, v) for k, v in value.items() if k != "toewijzingstijd"}
            if isinstance(value, list):
                return [relabel(key, v) for v in value]
            if kind and isinstance(value, int) and not isinstance(value, bool):
                return labels[kind].get(value, f"?{value}")
            if key == "bericht_identificatie" and isinstance(value, str):
                return labels["M"][int(value)]
            if key == "payload" and isinstance(value, bytes):
                text = re.sub(rb"(Toewijzingstijd>)[^<]*<", rb"\1<", value)
                text = re.sub(
                    rb"(Identificatie>)(\d+)<", lambda m: m[1] + labels["M"][int(m[2])].encode() + b"<", text
                )
                return re.sub(
                    rb"(ToewijzingNummer>)(\d+)<",
                    lambda m: m[1] + labels["T"][int(m[2])].encode() + b"<",
                    text,
                )
            return value

        for table in Base.metadata.sorted_tables:
            if table.name in _KEPT:
                continue
            rows = session.execute(select(table)).mappings().all()
            picture[table.name] = sorted(
                repr({key: relabel(key, value) for key, value in row.items() if key not in _MOMENTS})
                for row in rows
            )
    return picture


def steady(result: dict[str, Any]) -> dict[str, Any]:
    """A result line without the ids, which depend on the order of storing."""
    return {key: len(value) if key == "berichten" else value for key, value in result.items() if key != "id"}


def test_a_batch_stores_exactly_what_storing_line_by_line_stores(runtime: Runtime, database_url: str) -> None:
    before, batch = mixed_batch()
    lines = [json.dumps(line) for line in batch]

    list(import_lines(runtime, [json.dumps(b) for b in before], None))
    together = [r.as_dict() for r in import_lines(runtime, lines, None)]
    assert [r["status"] for r in together] == [
        "accepted",
        "accepted",
        "accepted",
        "accepted",
        "rejected",
        "duplicate",
        "duplicate",
        "accepted",
        "rejected",
        "accepted",
        "accepted",
        *["accepted"] * 12,
    ]
    assert together[4]["problem"]["errors"][0]["rule"] == "overlapping-toewijzing-TR302"
    assert together[5]["id"] == together[2]["id"]
    assert len(together[1]["berichten"]) == 2
    assert len(together[7]["berichten"]) >= 2  # the 301 and the TKB (and the CAK melding)
    first = stored_picture(runtime)
    assert first["beschikkingen"] and first["messages"] and first["toewijzing_versies"]

    _empty(runtime, database_url)
    list(import_lines(runtime, [json.dumps(b) for b in before], None))
    one_by_one = [r.as_dict() for r in import_lines(runtime, lines, None, batch_size=1)]
    assert [steady(r) for r in one_by_one] == [steady(r) for r in together]
    assert stored_picture(runtime) == first


def _empty(runtime: Runtime, database_url: str) -> None:
    """Back to an empty database (ids restarting at 1), keeping the API client."""
    with runtime.engine.begin() as connection:
        if database_url.startswith("sqlite"):
            for table in reversed(Base.metadata.sorted_tables):
                if table.name not in _KEPT:
                    connection.execute(table.delete())
            if connection.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
            ).first():
                connection.exec_driver_sql("DELETE FROM sqlite_sequence")
        else:
            names = [t.name for t in Base.metadata.sorted_tables if t.name not in _KEPT]
            connection.exec_driver_sql(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")


def test_a_line_failing_after_the_group_wrote_leaves_nothing_and_the_rest_is_stored(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 301 the rules did not foresee breaking the schema: the group is undone, its lines
    are stored one by one, and only the failing line is rejected (nothing of it stored)."""
    import gateway.intake as intake

    bodies = distinct_bodies(5)
    bodies[2]["client"] = {**bodies[2]["client"], "naam": {"achternaam": "Onuitdrukbaar"}}
    real = intake.render_toewijzing

    def render(bericht: Any) -> bytes:
        if bericht.client.naam.achternaam == "Onuitdrukbaar":
            raise SchemaValidationError("jw301", [])
        return real(bericht)

    monkeypatch.setattr(intake, "render_toewijzing", render)
    results = list(import_lines(runtime, [json.dumps(b) for b in bodies], None))
    assert [r.status for r in results] == ["accepted", "accepted", "rejected", "accepted", "accepted"]
    assert results[2].problem is not None and results[2].problem["type"].endswith("message-schema")
    assert counts(runtime) == (4, 4)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Toewijzing)) == 4
        stored = session.scalars(select(Beschikking.beschikkingnummer)).all()
    assert bodies[2]["beschikkingnummer"] not in stored


def test_a_number_stored_meanwhile_by_another_request_is_a_duplicate(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests with the same beschikkingnummer at once: the unique constraint on
    (law, beschikkingnummer) stops the second group; its lines are then stored one by one,
    and the number the other request stored is reported ``duplicate``, not stored twice."""
    import gateway.bulk_intake as bulk
    import gateway.intake as intake

    bodies = distinct_bodies(3)
    [other] = distinct_bodies(1, start=7)  # another client: only the number collides
    other["beschikkingnummer"] = bodies[1]["beschikkingnummer"]
    [first] = list(import_lines(runtime, [json.dumps(other)], None))
    # As if the other request committed after this batch looked the numbers up.
    monkeypatch.setattr(bulk, "_taken", lambda session, requests: {})
    monkeypatch.setattr(intake, "_taken_nummers", lambda session, requests: {})
    results = list(import_lines(runtime, [json.dumps(b) for b in bodies], None))
    assert [r.status for r in results] == ["accepted", "duplicate", "accepted"]
    assert results[1].id == first.id
    assert counts(runtime) == (3, 3)


def test_a_deadlock_with_another_writer_falls_back_to_line_by_line(
    runtime: Runtime, database_url: str
) -> None:
    """Two writers inserting the same beschikkingnummers in opposite orders deadlock, and
    PostgreSQL aborts one: if that is the batch's group, its savepoint is rolled back
    (freeing the other writer) and its lines are stored one by one, which finds the other
    writer's numbers ``duplicate`` instead of failing the whole batch."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no deadlocks")
    import threading

    from sqlalchemy import text

    from gateway.api.beschikking_models import BeschikkingIn
    from gateway.intake import accept_beschikking

    ours = distinct_bodies(2)
    theirs = distinct_bodies(2, start=2)  # other clients, our numbers
    for body, mine in zip(theirs, ours, strict=True):
        body["beschikkingnummer"] = mine["beschikkingnummer"]
    results: list[Any] = []
    with runtime.sessions() as other, other.begin():
        # The other writer never gives up first: the batch, which waits first, is the victim.
        other.execute(text("SET LOCAL deadlock_timeout = '60s'"))
        second = accept_beschikking(other, runtime, BeschikkingIn.model_validate(theirs[1]), None)
        batch = threading.Thread(
            target=lambda: results.extend(import_lines(runtime, [json.dumps(b) for b in ours], None))
        )
        with structlog.testing.capture_logs() as logs:
            batch.start()
            _wait_until_blocked(runtime)  # the group inserted our first number, waits for the second
            first = accept_beschikking(other, runtime, BeschikkingIn.model_validate(theirs[0]), None)
        # The other writer commits here; the batch, line by line, waits for that.
    batch.join(timeout=30)
    assert not batch.is_alive()
    assert [(r.status, r.id) for r in results] == [("duplicate", first.id), ("duplicate", second.id)]
    retried = [e for e in logs if e["event"] == "bulk_group_retried_per_line"]
    assert retried and retried[0]["reason"] == "OperationalError"
    assert counts(runtime) == (2, 2)


def _wait_until_blocked(runtime: Runtime) -> None:
    import time

    from sqlalchemy import text

    deadline = time.monotonic() + 20
    with runtime.engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                )
            )
            if waiting:
                return
            connection.rollback()
            time.sleep(0.02)
    raise AssertionError("the batch never waited for the other writer")


def test_only_failures_of_one_line_or_a_deadlock_are_retried_per_line() -> None:
    """The fallback decision by itself: a deadlock (SQLSTATE 40P01) is retried line by line,
    any other OperationalError (the database went away) fails the batch."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    from gateway.api.problems import Problem
    from gateway.bulk_intake import retry_per_line

    class DriverError(Exception):
        def __init__(self, sqlstate: str | None) -> None:
            super().__init__("driver error")
            self.sqlstate = sqlstate

    assert retry_per_line(OperationalError("INSERT", {}, DriverError("40P01")))
    assert retry_per_line(IntegrityError("INSERT", {}, DriverError("23505")))
    assert retry_per_line(Problem(422, "message-schema", "t", "d"))
    assert not retry_per_line(OperationalError("INSERT", {}, DriverError("08006")))
    assert not retry_per_line(OperationalError("INSERT", {}, DriverError(None)))
    assert not retry_per_line(RuntimeError("other"))


def test_over_http_batch_after_batch_is_stored_in_line_order(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many batches over HTTP: the results come in line order, a line repeating one of an
    earlier batch is that line's duplicate (committed before it was looked up), and
    refused lines keep their place."""
    import gateway.api.bulk as api_bulk
    import gateway.bulk_intake as bulk

    monkeypatch.setattr(api_bulk, "numbered_batches", lambda lines: bulk.numbered_batches(lines, 3))
    bodies = distinct_bodies(6)
    lines: list[Any] = [bodies[0], bodies[1], b"{bad", bodies[2], bodies[3], bodies[0]]
    lines += [{"wet": "jeugdwet"}, bodies[4], bodies[5], bodies[2]]
    *per_line, last = post_bulk(stack, ndjson(lines))
    assert last == {"summary": {"accepted": 6, "duplicate": 2, "rejected": 2, "error": 0}}
    assert [(r["line"], r["status"]) for r in per_line] == [
        (1, "accepted"),
        (2, "accepted"),
        (3, "rejected"),
        (4, "accepted"),
        (5, "accepted"),
        (6, "duplicate"),
        (7, "rejected"),
        (8, "accepted"),
        (9, "accepted"),
        (10, "duplicate"),
    ]
    assert per_line[5]["id"] == per_line[0]["id"]
    assert per_line[9]["id"] == per_line[3]["id"]
    assert counts(stack.runtime) == (6, 6)
