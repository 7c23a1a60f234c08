"""``gateway import FILE``: bulk intake from a file, with a progress bar.

The file is NDJSON: one beschikking per line (the body of ``POST /api/v1/beschikkingen``),
or with ``--indicaties`` one legacy CIZ/BJZ indication per line
(:mod:`gateway.legacy_indicaties`). The work is :func:`gateway.bulk_intake.import_lines`:
batches of 200 lines per transaction, a bad line never undoes a good one, and what was
accepted before is reported ``duplicate`` - so after a crash, run the same command again.
With ``--jobs N`` (PostgreSQL only) N processes share the work, partitioned by client:
:mod:`gateway.bulk_import_jobs`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import IO, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from gateway import legacy_indicaties
from gateway.bulk_import_jobs import ImportIncomplete, run_jobs
from gateway.bulk_intake import DEFAULT_BATCH_SIZE, Converter, LineResult, Summary, import_lines
from gateway.clock import local_now
from gateway.runtime import Runtime


def _lines(handle: IO[bytes], progress: Progress, task: Any) -> Iterator[bytes]:
    for raw in handle:
        progress.update(task, advance=len(raw))
        yield raw


def run_import(
    runtime: Runtime,
    path: Path,
    *,
    indicaties: bool = False,
    results: IO[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    show_progress: bool = True,
    jobs: int = 1,
) -> tuple[Summary, list[LineResult]]:
    """Import ``path``; returns the counts and the lines that were not accepted or duplicate.

    With ``jobs > 1`` (PostgreSQL; one writer on SQLite) the lines go to that many
    processes; raises :class:`~gateway.bulk_import_jobs.ImportIncomplete` when one dies.
    """
    today = local_now(runtime.clock).date()
    convert: Converter | None = None
    if indicaties:
        convert = partial(legacy_indicaties.to_beschikking, today=today)
    summary = Summary()
    problems: list[LineResult] = []
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        MofNCompleteColumn(),
        TextColumn("bytes"),
        TimeRemainingColumn(),
    )
    with path.open("rb") as handle, Progress(*columns, disable=not show_progress) as progress:
        task = progress.add_task(f"importing {path.name}", total=path.stat().st_size)
        if jobs > 1:
            if runtime.engine.dialect.name == "sqlite":
                raise ValueError("--jobs > 1 needs PostgreSQL: SQLite has one writer")

            def seen(result: LineResult) -> None:
                summary.add(result)
                if result.status in ("rejected", "error"):
                    problems.append(result)

            def advanced(size: int) -> None:  # per batch, not per line: the parent stays cheap
                progress.update(task, advance=size, description=_counts(path, summary))

            try:
                run_jobs(
                    runtime.settings,
                    handle,
                    jobs=jobs,
                    today=today if indicaties else None,
                    batch_size=batch_size,
                    on_result=seen,
                    on_batch=advanced,
                    results=results,
                )
            except ImportIncomplete as exc:
                exc.summary, exc.problems = summary, sorted(problems, key=lambda r: r.line)
                raise
            return summary, sorted(problems, key=lambda r: r.line)
        kwargs: dict[str, Any] = {"batch_size": batch_size}
        if convert is not None:
            kwargs["convert"] = convert
        for result in import_lines(runtime, _lines(handle, progress, task), None, **kwargs):
            summary.add(result)
            if result.status in ("rejected", "error"):
                problems.append(result)
            if results is not None:
                results.write(json.dumps(result.as_dict(), separators=(",", ":")) + "\n")
            progress.update(task, description=_counts(path, summary))
    return summary, problems


def _counts(path: Path, summary: Summary) -> str:
    return (
        f"importing {path.name}: {summary.accepted} accepted, {summary.duplicate} duplicate, "
        f"{summary.rejected + summary.error} not"
    )
