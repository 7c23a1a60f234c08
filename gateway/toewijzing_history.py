"""The history of every toewijzing: a version row per state it has had, and why."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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
