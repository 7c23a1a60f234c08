"""Bulk intake: ``POST /api/v1/beschikkingen/bulk`` (NDJSON) and ``gateway import FILE``.

Over real loopback HTTP against the gateway with the mock GGk, and the CLI in-process,
each on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.bulk_intake import import_lines
from gateway.cli import app
from gateway.runtime import Runtime
from gateway.store.tables import Beschikking, Message
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
