"""PGB under trekkingsrecht: the SVB route (iPgb-style TKB out, retours and BAB in).

The extension points the rest of the gateway calls:
- intake (:mod:`gateway.intake`) applies the gemeente's PGB rules
  (:func:`gateway.pgb_policy.check_request`) to a batch's requests before storing any, and
  hands what they computed to :func:`after_beschikking`;
- :func:`after_beschikking` stores a ``pgb_budgetten`` row per PGB toewijzing and queues
  one TKB (Mutatie 1) per PGB to the SVB - except one-off PGBs (woningaanpassing,
  vehicle), which are stored and announced with event ``pgb.eenmalig`` but never sent;
- :func:`after_change` queues a TKB Mutatie 2 (einddatum, budget, volume changed) or
  3 (withdrawal, RedenWijziging 13) for a changed PGB, and Mutatie 1 for a PGB that
  replaced one under a new number;
- :data:`RETOUR_READERS` reads the SVB's TKB retour (``WMO459``/``JW461``);
- :data:`INBOUND_HANDLERS` takes the SVB's BAB (``WMO464``/``JW466``, see :mod:`gateway.pgb_bab`).

Envelope functie of a TKB: ``WMO458`` / ``JW460`` (law prefix + Vektis BerichtCode,
:mod:`connectors.svb.names`); envelope receiver ``SVB``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.istandaard import Law
from connectors.istandaard.model import Adres, Naam, Omvang
from connectors.svb import (
    SVB,
    Hulpverlener,
    Kind,
    Mutatie,
    PgbClient,
    PgbHeader,
    Toekenning,
    Toekenningsbericht,
    Vertegenwoordiger,
    functies,
    read_tkb_retour_codes,
    render_tkb,
)
from gateway.api.problems import FieldError, Problem, validation_problem
from gateway.clock import local_now
from gateway.events import record_event
from gateway.outbox import enqueue_ggk_heenbericht
from gateway.pgb_bab import bab_handlers
from gateway.pgb_policy import DELETED, PGB, PgbPlan, assess
from gateway.pgb_policy import Omvang as OmvangWens
from gateway.runtime import Runtime
from gateway.store.svb_tables import PgbBudget
from gateway.store.tables import MessageToewijzing, Toewijzing

if TYPE_CHECKING:
    from gateway.inbound.ggk_heenberichten import InboundHandler
    from gateway.store.tables import Beschikking, Message

log = structlog.get_logger("gateway.pgb")

#: A one-off PGB was granted: stored, paid by the gemeente itself, not sent to the SVB.
PGB_EENMALIG = "pgb.eenmalig"

#: Envelope functie -> reader of a retour the SVB sends us: (all codes, codes per toewijzingnummer).
RETOUR_READERS: dict[str, Callable[[bytes], tuple[list[str], dict[int, tuple[str, ...]]]]] = {
    functie: read_tkb_retour_codes for functie in functies(Kind.TKB_RETOUR)
}
#: Envelope functie -> handler of a heenbericht the SVB sends us (the BAB).
INBOUND_HANDLERS: dict[str, InboundHandler] = bab_handlers()


def after_beschikking(
    session: Session,
    runtime: Runtime,
    beschikking: Beschikking,
    rows: list[Toewijzing],
    api_client_id: int | None,
    plans: dict[int, PgbPlan],
) -> list[Message]:
    """Queue one TKB per PGB toewijzing (rows are in the request's product order).

    ``plans``: what :func:`gateway.pgb_policy.check_request` computed for this request
    (intake checks a batch's requests before storing any).
    """
    messages: list[Message] = []
    now = runtime.clock.now()
    for index, row in enumerate(rows):
        if row.leveringsvorm != PGB:
            continue
        plan = plans.get(index)
        if plan is None:
            raise RuntimeError("after_beschikking without a PGB plan for this product")
        budget = PgbBudget(
            toewijzing_id=row.id,
            beschikking_id=beschikking.id,
            law=row.law,
            bsn_hash=row.bsn_hash,
            hulpverlener=plan.hulpverlener,
            eenmalig=plan.eenmalig,
            percentage=plan.percentage,
            maximum=plan.maximum,
            budget=plan.budget,
            created_at=now,
            updated_at=now,
        )
        session.add(budget)
        if plan.eenmalig:
            record_event(
                session,
                runtime,
                PGB_EENMALIG,
                beschikking_id=beschikking.id,
                toewijzingnummer=row.id,
                budget=plan.budget,
                via_svb=False,
                reden="a one-off PGB is paid by the gemeente, not under trekkingsrecht",
            )
            continue
        messages.append(_enqueue_tkb(session, runtime, row, budget, Mutatie.TOEKENNING))
    return messages


def after_change(
    session: Session, runtime: Runtime, changed: list[Toewijzing], new: list[Toewijzing]
) -> list[Message]:
    """Queue the SVB follow-up of a change to PGB toewijzingen (422 when the new amount breaks a rule)."""
    messages: list[Message] = []
    now = runtime.clock.now()
    for row in changed:
        budget = _budget_of(session, row)
        if budget is None or budget.eenmalig:
            continue
        if row.reden_wijziging == DELETED:
            mutatie = Mutatie.INTREKKING
        else:
            mutatie = Mutatie.WIJZIGING
            _reassess(runtime, row, budget)
        budget.updated_at = now
        messages.append(_enqueue_tkb(session, runtime, row, budget, mutatie))
    for row in new:
        if row.leveringsvorm != PGB or row.vervangt_id is None:
            continue
        previous = session.scalar(select(PgbBudget).where(PgbBudget.toewijzing_id == row.vervangt_id))
        if previous is None or previous.eenmalig:
            continue
        budget = PgbBudget(
            toewijzing_id=row.id,
            beschikking_id=row.beschikking_id,
            law=row.law,
            bsn_hash=row.bsn_hash,
            hulpverlener=previous.hulpverlener,
            eenmalig=False,
            budget=0,
            created_at=now,
            updated_at=now,
        )
        _reassess(runtime, row, budget)
        session.add(budget)
        session.flush()
        messages.append(_enqueue_tkb(session, runtime, row, budget, Mutatie.TOEKENNING))
    return messages


def _budget_of(session: Session, row: Toewijzing) -> PgbBudget | None:
    if row.leveringsvorm != PGB:
        return None
    return session.scalar(select(PgbBudget).where(PgbBudget.toewijzing_id == row.id))


def _reassess(runtime: Runtime, row: Toewijzing, budget: PgbBudget) -> None:
    """Recompute the maximum (and an omvang PGB's budget) for the row as it now stands."""
    omvang = None
    if row.volume is not None and row.eenheid is not None and row.frequentie is not None:
        omvang = OmvangWens(row.volume, row.eenheid, row.frequentie)
    errors, plan = assess(
        runtime.settings.pgb,
        Law(row.law),
        "body",
        categorie=row.categorie or "",
        code=row.productcode,
        hulpverlener=budget.hulpverlener,
        eenmalig=False,
        omvang=omvang,
        budget=row.budget,
        begin=row.ingangsdatum,
        eind=row.einddatum,
    )
    if errors or plan is None:
        raise validation_problem(
            [FieldError(e.field.removeprefix("body.") or "body", e.rule, e.message) for e in errors]
        )
    budget.percentage, budget.maximum, budget.budget = plan.percentage, plan.maximum, plan.budget


def _enqueue_tkb(
    session: Session, runtime: Runtime, row: Toewijzing, budget: PgbBudget, mutatie: Mutatie
) -> Message:
    law = Law(row.law)
    bericht_of = _bericht_builder(runtime, row, budget, mutatie)

    def render(identificatie: str) -> bytes:
        try:
            return render_tkb(bericht_of(identificatie, local_now(runtime.clock).date()))
        except ValueError as exc:  # SchemaValidationError included; its text is BSN-masked
            detail = str(exc)[:300]
            raise Problem(
                422,
                "message-schema",
                "The PGB cannot be expressed as a valid TKB",
                f"{Kind.TKB.functie(law)} would break the iPgb model schema: {detail}",
                [FieldError("body", "ipgb-xsd", detail)],
            ) from None

    message = enqueue_ggk_heenbericht(
        session,
        runtime,
        functie=Kind.TKB.functie(law),
        law=law.value,
        receiver=SVB,
        render_payload=render,
        beschikking_id=row.beschikking_id,
        bsn_hash=row.bsn_hash,
    )
    session.add(MessageToewijzing(message_id=message.id, toewijzing_id=row.id))
    log.info("tkb_queued", message_id=message.id, toewijzingnummer=row.id, mutatie=mutatie.name.lower())
    return message


def _bericht_builder(
    runtime: Runtime, row: Toewijzing, budget: PgbBudget, mutatie: Mutatie
) -> Callable[[str, date], Toekenningsbericht]:
    beschikking = row.beschikking
    record: dict[str, Any] = beschikking.client
    law = Law(row.law)
    omvang = None
    if row.volume is not None and row.eenheid is not None and row.frequentie is not None:
        omvang = Omvang(volume=row.volume, eenheid=row.eenheid, frequentie=row.frequentie)
    if row.einddatum is None or budget.hulpverlener is None:
        raise RuntimeError("a PGB under trekkingsrecht has an einddatum and a hulpverlener (intake rules)")
    toekenning = Toekenning(
        toewijzingnummer=row.id,
        mutatie=mutatie,
        beschikkingnummer=beschikking.beschikkingnummer,
        categorie=row.categorie or "",
        code=row.productcode,
        hulpverlener=Hulpverlener.from_api(budget.hulpverlener),
        budget=budget.budget,
        omvang=omvang,
        begindatum=row.ingangsdatum,
        einddatum=row.einddatum,
        toekenningsdatum=row.toewijzingsdatum,
        reden_wijziging=row.reden_wijziging,
        commentaar=row.commentaar,
    )
    client = PgbClient(
        bsn=beschikking.bsn,
        geboortedatum=date.fromisoformat(record["geboortedatum"]),
        geslacht=record["geslacht"],
        naam=_naam(record["naam"]),
        adres=_adres(record.get("adres") or record.get("verblijfadres")),
    )
    v = record.get("vertegenwoordiger")
    vertegenwoordiger = (
        Vertegenwoordiger(
            naam=_naam(v["naam"]), relatie=v["relatie"], bsn=v.get("bsn"), adres=_adres(v.get("adres"))
        )
        if v
        else None
    )

    def build(identificatie: str, dagtekening: date) -> Toekenningsbericht:
        return Toekenningsbericht(
            header=PgbHeader(law, runtime.settings.gemeentecode, SVB, identificatie, dagtekening),
            client=client,
            vertegenwoordiger=vertegenwoordiger,
            toekenning=toekenning,
        )

    return build


def _naam(record: dict[str, Any]) -> Naam:
    return Naam(
        achternaam=record["achternaam"],
        voorvoegsel=record.get("voorvoegsel"),
        voornamen=record.get("voornamen"),
        voorletters=record.get("voorletters"),
    )


def _adres(record: dict[str, Any] | None) -> Adres | None:
    if not record:
        return None
    return Adres(
        huisnummer=record.get("huisnummer"),
        postcode=record.get("postcode"),
        straatnaam=record.get("straatnaam"),
        plaatsnaam=record["plaatsnaam"],
        huisletter=record.get("huisletter"),
        huisnummer_toevoeging=record.get("huisnummer_toevoeging"),
        landcode=record.get("landcode", "NL"),
    )


__all__ = [
    "INBOUND_HANDLERS",
    "PGB_EENMALIG",
    "RETOUR_READERS",
    "after_beschikking",
    "after_change",
]
