"""Herstel: the back-office corrects a message the CAK invited to correct.

A CAK retour with error codes opened a task (:func:`gateway.eigen_bijdrage.on_retour`);
:func:`corrigeer` resubmits the message with the corrected date, provisions or kostprijs
as a new WMO405/407 that names the old one (``HerstelVan``; ``corrects_message_id`` on
the new melding, ``corrected_by_message_id`` on the old), and closes the task. The
reporting deadline of the original is met when the correction is answered OK.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.cak import Regeling, Soort
from gateway.api.problems import FieldError, Problem, validation_problem
from gateway.eigen_bijdrage_melding import (
    WMO,
    Provision,
    enqueue_melding,
    regeling_of,
    store_kostprijs,
    summarise,
)
from gateway.runtime import Runtime
from gateway.store.cak_tables import CakHerstelTaak, CakMelding, CakPersoon
from gateway.store.tables import Message, Toewijzing

log = structlog.get_logger("gateway.eigen_bijdrage")


@dataclass(frozen=True, slots=True)
class VoorzieningCorrectie:
    toewijzingnummer: int
    ingangsdatum: date | None = None
    einddatum: date | None = None
    kostprijs: int | None = None


@dataclass(frozen=True, slots=True)
class Correctie:
    """What the back-office corrects: the start/stop date, and/or the provisions (full list)."""

    datum: date | None = None
    voorzieningen: tuple[VoorzieningCorrectie, ...] | None = None
    toelichting: str | None = None


def corrigeer(
    session: Session, runtime: Runtime, taak_id: int, correctie: Correctie, api_client_id: int | None
) -> tuple[CakHerstelTaak, Message]:
    """Resubmit the message of an open herstel task with the corrections; close the task.

    The new message links to the old one both ways and carries ``HerstelVan``.
    """
    taak = session.get(CakHerstelTaak, taak_id, with_for_update=True)
    if taak is None:
        raise Problem(404, "not-found", "No such herstel task", f"herstel task {taak_id} does not exist")
    if taak.status != "open":
        raise Problem(
            409, "herstel-closed", "This herstel task is already closed", f"task {taak_id} is {taak.status}"
        )
    old = session.get(Message, taak.message_id)
    melding = session.scalars(select(CakMelding).where(CakMelding.message_id == taak.message_id)).one()
    assert old is not None
    voorzieningen = _corrected_voorzieningen(session, runtime, melding, correctie)
    datum = correctie.datum or melding.datum
    message = enqueue_melding(
        session,
        runtime,
        bsn_hash=melding.bsn_hash,
        regeling=Regeling(melding.regeling),
        soort=Soort.START if melding.soort == "start" else Soort.STOP,
        datum=datum,
        voorzieningen=voorzieningen,
        oorzaak="herstel",
        corrects=old,
    )
    melding.status, melding.corrected_by_message_id = "corrected", message.id
    now = runtime.clock.now()
    taak.status, taak.correctie_message_id, taak.closed_at = "gecorrigeerd", message.id, now
    taak.toelichting, taak.api_client_id = correctie.toelichting, api_client_id
    persoon = session.scalars(
        select(CakPersoon).where(
            CakPersoon.bsn_hash == melding.bsn_hash, CakPersoon.regeling == melding.regeling
        )
    ).first()
    if persoon is not None and persoon.laatste_message_id == old.id:
        if melding.soort == "start":
            persoon.begindatum = datum
        else:
            persoon.einddatum = persoon.geplande_einddatum = datum
        persoon.laatste_message_id, persoon.updated_at = message.id, now
    log.info("cak_herstel_corrected", taak_id=taak.id, message_id=message.id, corrects=old.id)
    return taak, message


def _corrected_voorzieningen(
    session: Session, runtime: Runtime, melding: CakMelding, correctie: Correctie
) -> list[dict[str, Any]]:
    original = {int(v["toewijzingnummer"]): dict(v) for v in melding.voorzieningen}
    if correctie.voorzieningen is None:
        return list(original.values())
    errors: list[FieldError] = []
    result: list[dict[str, Any]] = []
    for index, c in enumerate(correctie.voorzieningen):
        summary = original.get(c.toewijzingnummer)
        if summary is None:
            row = session.get(Toewijzing, c.toewijzingnummer)
            regeling = (
                None
                if row is None
                else regeling_of(runtime.settings.eigen_bijdrage, row.categorie, row.productcode)
            )
            if (
                row is None
                or row.bsn_hash != melding.bsn_hash
                or row.law != WMO
                or regeling is None
                or regeling.value != melding.regeling
            ):
                errors.append(
                    FieldError(
                        f"voorzieningen[{index}].toewijzingnummer",
                        "unknown-voorziening",
                        "not a chargeable Wmo toewijzing of this client for this regeling",
                    )
                )
                continue
            summary = summarise(session, runtime, Provision(row, regeling, row.ingangsdatum, row.einddatum))
        if c.ingangsdatum is not None:
            summary["ingangsdatum"] = c.ingangsdatum.isoformat()
        if c.einddatum is not None:
            summary["einddatum"] = c.einddatum.isoformat()
        if c.kostprijs is not None:
            if melding.regeling != Regeling.EIGEN_BIJDRAGE.value:
                errors.append(
                    FieldError(
                        f"voorzieningen[{index}].kostprijs",
                        "no-kostprijs",
                        "beschermd wonen carries no kostprijs",
                    )
                )
                continue
            summary["kostprijs"] = c.kostprijs
            store_kostprijs(session, runtime, c.toewijzingnummer, c.kostprijs)
        result.append(summary)
    if errors:
        raise validation_problem(errors)
    if not result:
        raise validation_problem(
            [FieldError("voorzieningen", "empty", "a melding needs at least one voorziening")]
        )
    return result


__all__ = ["Correctie", "VoorzieningCorrectie", "corrigeer"]
