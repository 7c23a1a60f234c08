"""Changing a toewijzing the way iJw/iWmo 3.2 allows, and sending the new 301.

Allowed in place (same ToewijzingNummer, new Toewijzingsdatum/-tijd and a RedenWijziging):
- Einddatum: shorten (05 verkorting) or extend (04 verlenging). Extending a running
  toewijzing with the same volume and frequentie is *oprekken* and mandatory (OP380):
  it keeps its number.
- Budget (a budget toewijzing).
- Volume, only when Frequentie = 6 (totaal binnen de geldigheidsduur).
- Delete: RedenWijziging 13 with Einddatum = Ingangsdatum.
Any other change of Omvang ends the old toewijzing the day before the change takes
effect and issues a new one with a new number.

Every change writes a version row (the history) and queues a 301 to the aanbieder with
everything current plus what changed since the previous 301 (OP087).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.istandaard import Law
from connectors.istandaard.codelists import EENHEDEN, FREQUENTIE_TOTAAL, FREQUENTIES
from gateway.api.problems import FieldError, validation_problem
from gateway.clock import local_now
from gateway.intake import enqueue_301
from gateway.intake_rules import overlaps
from gateway.runtime import Runtime
from gateway.store.tables import Message, Toewijzing
from gateway.toewijzing_history import record_version

VERLENGING = "04"
VERKORTING = "05"
VERWIJDERD = "13"
#: RedenWijziging codes (WJ/COD): the ones a back-office may give with a change.
REDENEN_WIJZIGING = {f"{n:02d}" for n in range(1, 15)}


@dataclass(frozen=True, slots=True)
class OmvangWens:
    volume: int
    eenheid: str
    frequentie: str


@dataclass(frozen=True, slots=True)
class Wijziging:
    """What the back-office (or an honoured VOW) wants changed; None = unchanged."""

    einddatum: date | None = None
    omvang: OmvangWens | None = None
    budget: int | None = None
    #: When an omvang change needing a new number takes effect (default: today).
    ingangsdatum: date | None = None
    reden_wijziging: str | None = None
    verwijderen: bool = False
    referentie_aanbieder: str | None = None


@dataclass
class Resultaat:
    gewijzigd: list[Toewijzing]
    nieuw: list[Toewijzing]


def is_current(row: Toewijzing, today: date) -> bool:
    """Valid today or later, and not deleted."""
    return row.reden_wijziging != VERWIJDERD and (row.einddatum is None or row.einddatum >= today)


def apply_wijziging(
    session: Session,
    runtime: Runtime,
    row: Toewijzing,
    wens: Wijziging,
    *,
    oorzaak: str = "wijziging",
    api_client_id: int | None = None,
) -> Resultaat:
    """Apply one change to ``row`` (locked by the caller); raise a 422 Problem when not allowed."""
    local = local_now(runtime.clock)
    errors = _check(row, wens)
    if errors:
        raise validation_problem(errors)
    now = runtime.clock.now()

    def touch(target: Toewijzing, reden: str | None) -> None:
        target.toewijzingsdatum = local.date()
        target.toewijzingstijd = local.time().replace(microsecond=0)
        target.reden_wijziging = reden
        target.updated_at = now
        if wens.referentie_aanbieder:
            target.referentie_aanbieder = wens.referentie_aanbieder

    if wens.verwijderen:
        row.einddatum = row.ingangsdatum
        touch(row, VERWIJDERD)
        record_version(session, runtime, row, oorzaak, api_client_id)
        return Resultaat([row], [])

    new_rows: list[Toewijzing] = []
    if wens.omvang is not None and _needs_new_number(row, wens.omvang):
        start = wens.ingangsdatum or local.date()
        if start <= row.ingangsdatum:
            raise validation_problem(
                [
                    FieldError(
                        "ingangsdatum",
                        "new-number-after-start",
                        "an omvang change that needs a new toewijzing takes effect after the old one "
                        f"started ({row.ingangsdatum.isoformat()}); to replace it entirely, delete it "
                        "and post a new beschikking",
                    )
                ]
            )
        einde = wens.einddatum if wens.einddatum is not None else row.einddatum
        new = Toewijzing(
            beschikking_id=row.beschikking_id,
            law=row.law,
            bsn_hash=row.bsn_hash,
            aanbieder_agb=row.aanbieder_agb,
            leveringsvorm=row.leveringsvorm,
            categorie=row.categorie,
            productcode=row.productcode,
            ingangsdatum=start,
            einddatum=einde,
            volume=wens.omvang.volume,
            eenheid=wens.omvang.eenheid,
            frequentie=wens.omvang.frequentie,
            budget=None,
            toewijzingsdatum=local.date(),
            toewijzingstijd=local.time().replace(microsecond=0),
            reden_wijziging=None,
            referentie_aanbieder=wens.referentie_aanbieder,
            vervangt_id=row.id,
            commentaar=row.commentaar,
            created_at=now,
            updated_at=now,
        )
        _check_no_overlap(session, new, ignore_id=row.id)
        row.einddatum = start - timedelta(days=1)
        touch(row, wens.reden_wijziging or VERKORTING)
        session.add(new)
        session.flush()
        record_version(session, runtime, row, oorzaak, api_client_id)
        record_version(session, runtime, new, oorzaak, api_client_id)
        return Resultaat([row], [new])

    reden = wens.reden_wijziging
    if wens.einddatum is not None and wens.einddatum != row.einddatum:
        longer = row.einddatum is None or wens.einddatum > row.einddatum
        reden = reden or (VERLENGING if longer else VERKORTING)
        row.einddatum = wens.einddatum
    if wens.omvang is not None:
        row.volume = wens.omvang.volume
    if wens.budget is not None:
        row.budget = wens.budget
    _check_no_overlap(session, row, ignore_id=row.id)
    touch(row, reden)
    record_version(session, runtime, row, oorzaak, api_client_id)
    return Resultaat([row, *new_rows], [])


def _needs_new_number(row: Toewijzing, omvang: OmvangWens) -> bool:
    same_shape = omvang.eenheid == row.eenheid and omvang.frequentie == row.frequentie
    return not (same_shape and (omvang.volume == row.volume or row.frequentie == FREQUENTIE_TOTAAL))


def _check(row: Toewijzing, wens: Wijziging) -> list[FieldError]:
    errors: list[FieldError] = []
    if row.reden_wijziging == VERWIJDERD:
        return [
            FieldError("toewijzingnummer", "toewijzing-deleted", "this toewijzing was deleted (reden 13)")
        ]
    if wens.verwijderen:
        if wens.einddatum is not None or wens.omvang is not None or wens.budget is not None:
            errors.append(FieldError("verwijderen", "delete-alone", "a deletion changes nothing else"))
        return errors
    if wens.einddatum is None and wens.omvang is None and wens.budget is None:
        errors.append(
            FieldError("body", "nothing-to-change", "give einddatum, omvang, budget or verwijderen")
        )
    if wens.reden_wijziging is not None and wens.reden_wijziging not in REDENEN_WIJZIGING:
        errors.append(
            FieldError(
                "reden_wijziging", "code-list-WJ/COD RedenWijziging", "reden_wijziging must be 01 to 14"
            )
        )
    if wens.einddatum is not None and wens.einddatum < row.ingangsdatum:
        errors.append(
            FieldError(
                "einddatum",
                "period-end-before-start",
                "einddatum lies before the toewijzing's ingangsdatum; delete it instead",
            )
        )
    if wens.budget is not None:
        if row.budget is None:
            errors.append(
                FieldError("budget", "not-a-budget-toewijzing", "this toewijzing has an omvang, not a budget")
            )
        elif wens.reden_wijziging is None:
            errors.append(
                FieldError("reden_wijziging", "reden-required", "a budget change needs a reden_wijziging")
            )
    if wens.omvang is not None:
        if row.volume is None:
            errors.append(FieldError("omvang", "not-an-omvang-toewijzing", "this toewijzing has no omvang"))
        if wens.omvang.eenheid not in EENHEDEN:
            errors.append(FieldError("omvang.eenheid", "code-list-WJ756", "unknown eenheid"))
        if wens.omvang.frequentie not in FREQUENTIES:
            errors.append(FieldError("omvang.frequentie", "code-list-WJ757", "unknown frequentie"))
        if (
            row.volume is not None
            and not _needs_new_number(row, wens.omvang)
            and wens.reden_wijziging is None
        ):
            errors.append(
                FieldError("reden_wijziging", "reden-required", "a volume change needs a reden_wijziging")
            )
    return errors


def _check_no_overlap(session: Session, row: Toewijzing, *, ignore_id: int | None) -> None:
    """TR302: no two toewijzingen of the same product for the client may overlap."""
    others = session.scalars(
        select(Toewijzing).where(
            Toewijzing.bsn_hash == row.bsn_hash,
            Toewijzing.law == row.law,
            Toewijzing.categorie == row.categorie,
            Toewijzing.productcode.is_(None)
            if row.productcode is None
            else Toewijzing.productcode == row.productcode,
            Toewijzing.id != (ignore_id or -1),
            Toewijzing.reden_wijziging.is_distinct_from(VERWIJDERD),
        )
    ).all()
    for other in others:
        if other.id == row.id:
            continue
        if overlaps(other.ingangsdatum, other.einddatum, row.ingangsdatum, row.einddatum):
            raise validation_problem(
                [
                    FieldError(
                        "einddatum",
                        "overlapping-toewijzing-TR302",
                        f"the period would overlap toewijzing {other.id} of the same product",
                    )
                ]
            )


def send_301(session: Session, runtime: Runtime, law: Law, row: Toewijzing) -> Message:
    """Queue the 301 (OP087) that tells the aanbieder about this client's current picture."""
    return enqueue_301(session, runtime, law, row.beschikking, row.aanbieder_agb)


__all__ = ["OmvangWens", "Resultaat", "Wijziging", "apply_wijziging", "is_current", "send_301"]
