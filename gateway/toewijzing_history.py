"""The history of every toewijzing: a version row per state it has had, and why."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from gateway.bulk_ids import assign_ids
from gateway.runtime import Runtime
from gateway.store.tables import Toewijzing, ToewijzingVersie


def snapshot(row: Toewijzing) -> dict[str, Any]:
    return {
        "aanbieder_agb": row.aanbieder_agb,
        "categorie": row.categorie,
        "productcode": row.productcode,
        "ingangsdatum": row.ingangsdatum.isoformat(),
        "einddatum": row.einddatum.isoformat() if row.einddatum else None,
        "volume": row.volume,
        "eenheid": row.eenheid,
        "frequentie": row.frequentie,
        "budget": row.budget,
        "reden_wijziging": row.reden_wijziging,
        "referentie_aanbieder": row.referentie_aanbieder,
        "toewijzingsdatum": row.toewijzingsdatum.isoformat(),
        "toewijzingstijd": row.toewijzingstijd.isoformat(),
        "vervangt": row.vervangt_id,
    }


def record_version(
    session: Session, runtime: Runtime, row: Toewijzing, oorzaak: str, api_client_id: int | None
) -> None:
    latest = session.scalar(
        select(func.max(ToewijzingVersie.versie)).where(ToewijzingVersie.toewijzing_id == row.id)
    )
    session.add(
        ToewijzingVersie(
            toewijzing_id=row.id,
            versie=(latest or 0) + 1,
            oorzaak=oorzaak,
            reden_wijziging=row.reden_wijziging,
            staat=snapshot(row),
            api_client_id=api_client_id,
            changed_at=runtime.clock.now(),
        )
    )


def record_versions(
    session: Session,
    runtime: Runtime,
    rows: list[Toewijzing],
    oorzaak: str,
    api_client_id: int | None,
    *,
    new_rows: bool = False,
) -> None:
    """:func:`record_version` for many rows: one lookup of the latest versions, not one each.

    ``new_rows``: the rows were inserted in this transaction, so they have no versions yet
    (a version row needs its toewijzing to exist, the foreign key sees to that) and the
    lookup is skipped: each gets version 1.
    """
    latest: dict[int, int] = {}
    ids = [] if new_rows else [row.id for row in rows]
    for start in range(0, len(ids), 500):  # bounded IN lists (SQLite's parameter limit)
        chunk = ids[start : start + 500]
        for toewijzing_id, versie in session.execute(
            select(ToewijzingVersie.toewijzing_id, func.max(ToewijzingVersie.versie))
            .where(ToewijzingVersie.toewijzing_id.in_(chunk))
            .group_by(ToewijzingVersie.toewijzing_id)
        ):
            latest[toewijzing_id] = versie or 0
    changed_at = runtime.clock.now()
    versions = [
        ToewijzingVersie(
            toewijzing_id=row.id,
            versie=latest.get(row.id, 0) + 1,
            oorzaak=oorzaak,
            reden_wijziging=row.reden_wijziging,
            staat=snapshot(row),
            api_client_id=api_client_id,
            changed_at=changed_at,
        )
        for row in rows
    ]
    assign_ids(session, versions)
    session.add_all(versions)


def insert_first_versions(
    session: Session, runtime: Runtime, rows: list[Toewijzing], oorzaak: str, api_client_id: int | None
) -> None:
    """:func:`record_versions` with ``new_rows`` for rows already INSERTed: version 1 each,
    as one Core ``executemany`` (no ORM object, no flush; the ids are not needed back).

    Why: intake writes a version per new toewijzing and never reads it again; the ORM's
    unit of work for these rows was a large share of its CPU. The rows must be in the
    database already (the foreign key), as Core inserts do not wait for a flush.
    """
    if not rows:
        return
    changed_at = runtime.clock.now()
    session.connection().execute(
        _INSERT_VERSIE,
        [
            {
                "toewijzing_id": row.id,
                "versie": 1,
                "oorzaak": oorzaak,
                "reden_wijziging": row.reden_wijziging,
                "staat": snapshot(row),
                "api_client_id": api_client_id,
                "changed_at": changed_at,
            }
            for row in rows
        ],
    )


_VERSIES: Table = ToewijzingVersie.__table__  # type: ignore[assignment]  # a Table, typed FromClause
_INSERT_VERSIE = insert(_VERSIES)
