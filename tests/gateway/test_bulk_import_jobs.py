"""``gateway import FILE --jobs N``: the import spread over processes, partitioned by client.

The jobs run only on PostgreSQL (SQLite has one writer, and refuses ``--jobs 2``).
"""

from __future__ import annotations

import gc
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.bulk_import_forkserver import PRELOAD
from gateway.bulk_import_jobs import job_of, line_ranges
from gateway.cli import app
from gateway.runtime import Runtime
from tests.conftest import beschikking_body
from tests.gateway.test_bulk_intake import cli_env, counts, ndjson, valid_bsns  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("cli_env")


def jw(nummer: str, bsn: str, code: str) -> dict[str, Any]:
    body = beschikking_body(beschikkingnummer=nummer)
    body["client"] = {**body["client"], "bsn": bsn}  # type: ignore[dict-item]
    body["producten"] = [
        {
            "categorie": "45",
            "code": code,
            "aanbieder_agb": "99990001",
            "omvang": {"volume": 4, "eenheid": "04", "frequentie": "2"},
        }
    ]
    return body


def test_a_line_goes_to_the_job_of_its_client() -> None:
    line = json.dumps(jw("A-1", "999920009", "45A01")).encode()
    other = json.dumps(jw("A-2", "999920009", "45A02")).encode()
    assert job_of(line, 1, 4) == job_of(other, 99, 4)  # the client decides, not the line
    assert job_of(b"not json", 7, 4) == 3 and job_of(b'{"client": 1}', 8, 4) == 0
    assert line_ranges([9, 1, 2, 3, 7, 10, 11]) == "1-3, 7, 9-11"
    assert line_ranges([]) == ""


def test_the_fork_server_preloads_modules_that_exist() -> None:
    """The fork server skips a preload name it cannot import without a word: every job would
    then import it again (or the CLI's main module), slowly and silently."""
    assert {"gateway.cli", "gateway.bulk_import_jobs"} <= set(PRELOAD)
    for name in PRELOAD:
        if name != "__main__":
            importlib.import_module(name)


def test_an_import_runs_with_the_loaded_gateway_frozen_and_unfreezes_it_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI keeps the garbage collector's full collections off the loaded gateway for the
    run only: in a long-lived process (this one) nothing stays frozen afterwards."""
    import gateway.bulk_import_cli

    frozen: list[int] = []
    run_import = gateway.bulk_import_cli.run_import

    def watched(*args: Any, **kwargs: Any) -> Any:
        frozen.append(gc.get_freeze_count())
        return run_import(*args, **kwargs)

    monkeypatch.setattr(gateway.bulk_import_cli, "run_import", watched)
    source = tmp_path / "in.ndjson"
    source.write_bytes(ndjson([jw("GC-1", valid_bsns(1)[0], "45A01")]))
    before = gc.get_freeze_count()
    outcome = CliRunner().invoke(app, ["import", str(source)])
    assert outcome.exit_code == 0, outcome.output
    assert "accepted 1," in outcome.output
    assert frozen and frozen[0] > before
    assert gc.get_freeze_count() == before


def test_sqlite_refuses_more_than_one_job(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the refusal is SQLite's")
    source = tmp_path / "in.ndjson"
    source.write_bytes(ndjson([jw("S-1", "999920009", "45A01")]))
    outcome = CliRunner().invoke(app, ["import", str(source), "--jobs", "2"])
    assert outcome.exit_code == 2
    assert "--jobs > 1 needs PostgreSQL" in outcome.output


def test_two_jobs_keep_each_clients_order_and_a_rerun_accepts_nothing_twice(
    database_url: str, runtime: Runtime, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("--jobs needs PostgreSQL")
    bsns = valid_bsns(40, first=999920000)
    clients = bsns[:8]
    # Two clients in different jobs share a beschikkingnummer.
    first_job = [b for b in bsns[8:] if job_of(json.dumps(jw("X", b, "45A01")).encode(), 0, 2) == 0]
    second_job = [b for b in bsns[8:] if job_of(json.dumps(jw("X", b, "45A01")).encode(), 0, 2) == 1]
    lines: list[Any] = []
    expected: dict[int, str] = {}
    # Per client, in file order, interleaved with the other clients: a first decision, a
    # second one checked against it (accepted), a third overlapping the first (TR302).
    for step, code, status in (
        ("1", "45A01", "accepted"),
        ("2", "45A02", "accepted"),
        ("3", "45A01", "rejected"),
    ):
        for n, bsn in enumerate(clients):
            lines.append(jw(f"JOBS-{n}-{step}", bsn, code))
            expected[len(lines)] = status
    lines.append(jw("JOBS-DUP", first_job[0], "45A01"))
    dup_lines = [len(lines)]
    lines.append(b"")  # blank: skipped but numbered
    lines.append(b"not json")
    expected[len(lines)] = "rejected"
    lines.append({"wet": "jeugdwet"})
    expected[len(lines)] = "rejected"
    lines.append(jw("JOBS-DUP", second_job[0], "45A01"))
    dup_lines.append(len(lines))
    source = tmp_path / "jaarwisseling.ndjson"
    source.write_bytes(ndjson(lines))
    results = tmp_path / "results.ndjson"

    outcome = CliRunner().invoke(
        app, ["import", str(source), "--jobs", "2", "--batch-size", "3", "--results", str(results)]
    )
    assert outcome.exit_code == 1, outcome.output  # rejected lines
    assert "accepted 17, duplicate 1, rejected 10, error 0" in outcome.output
    answered = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["line"] for r in answered] == sorted([*expected, *dup_lines])  # line order, blank skipped
    by_line = {r["line"]: r for r in answered}
    for line, status in expected.items():
        assert by_line[line]["status"] == status, (line, by_line[line])
    assert by_line[3 * len(clients) - 1]["problem"]["errors"][0]["rule"] == "overlapping-toewijzing-TR302"
    dups = sorted((by_line[n] for n in dup_lines), key=lambda r: r["status"])
    assert [r["status"] for r in dups] == ["accepted", "duplicate"]
    assert dups[0]["id"] == dups[1]["id"]
    assert counts(runtime)[0] == 17

    again = CliRunner().invoke(app, ["import", str(source), "--jobs", "2", "--results", str(results)])
    assert "accepted 0, duplicate 18, rejected 10, error 0" in again.output
    assert counts(runtime)[0] == 17
    rerun = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["line"] for r in rerun] == [r["line"] for r in answered]
    assert {r["status"] for r in rerun if r["line"] not in expected or expected[r["line"]] == "accepted"} == {
        "duplicate"
    }


def test_a_job_that_dies_ends_the_import_and_names_the_lines_without_a_result(
    database_url: str, runtime: Runtime
) -> None:
    from gateway.bulk_import_jobs import ImportIncomplete, run_jobs

    if database_url.startswith("sqlite"):
        pytest.skip("--jobs needs PostgreSQL")
    # A job that cannot even build its engine dies before it answers a line.
    broken = runtime.settings.model_copy(update={"database_url": "postgresql+nosuchdriver://x/y"})
    lines = [json.dumps(jw(f"DIE-{n}", b, "45A01")).encode() + b"\n" for n, b in enumerate(valid_bsns(6))]
    seen: list[int] = []
    with pytest.raises(ImportIncomplete) as stopped:
        run_jobs(
            broken,
            lines,
            jobs=2,
            today=None,
            batch_size=2,
            on_result=lambda r: seen.append(r.line),
            on_batch=lambda _size: None,
            results=None,
        )
    assert "stopped unexpectedly" in stopped.value.reason
    assert not seen
    assert stopped.value.unknown and set(stopped.value.unknown) <= set(range(1, 7))
    assert counts(runtime)[0] == 0
